import { cp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import { withDatabase } from "../../pipeline/lib/db.ts";
import {
  createWorkspace,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

/**
 * A run whose decision inputs are those of the run before it keeps that run's decisions and leaves dbt out
 * (pipeline/history/decision-inputs.ts). What it publishes must be what a full dbt build would have published, and
 * any change to the data, the fetches, the history files or the published file must bring dbt back.
 */
const trackerFixture = join(repoRoot, "pipeline/sources/debian_tracker/mock/tracker.json");
const day = (n: number) => `2026-04-${String(n).padStart(2, "0")}T06:00:00Z`;
const runId = (n: number) => `202604${String(n).padStart(2, "0")}T060000Z`;
const feeds = ["advisory_current.json", "cve_facts.json", "data.json", "openvex.json"];

describe("an unchanged rerun keeps the previous run's decisions without dbt", () => {
  let workspace: Workspace;
  let twin: Workspace;
  let csvPath: string;
  let trackerPath: string;

  async function writeConfig(target: Workspace, publicUrl?: string) {
    await target.writeConfig({
      dataJson: sampleDataJson,
      csv: csvPath,
      extra: [
        "  debian_tracker:",
        "    enabled: true",
        "    mode: file",
        `    location: ${JSON.stringify(trackerPath)}`,
        ...(publicUrl ? ["site:", `  public_url: ${JSON.stringify(publicUrl)}`] : []),
      ].join("\n"),
    });
  }

  /** A run with its clock pinned to day n (or the real clock), and what its log says about dbt. */
  async function run(target: Workspace, n: number | null, ...args: string[]) {
    const result = await target.run([...(n === null ? [] : ["--as-of", day(n)]), ...args]);
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(
      await readFile(join(target.outputDir, "run_summary.json"), "utf8"),
    ) as RunSummaryJson;
    const because = /"message":"dbt runs","because":"([^"]*)"/.exec(result.stderr)?.[1] ?? null;
    const keptFrom =
      /"message":"decision inputs unchanged[^"]*","previous_run":"([^"]*)"/.exec(result.stderr)?.[1] ?? null;
    expect(because === null, "exactly one of the two log lines").toBe(keptFrom !== null);
    const carriedFrom =
      /"message":"documents carried over[^"]*","run":"([^"]*)"/.exec(result.stderr)?.[1] ?? null;
    return { summary, because, keptFrom, carriedFrom };
  }

  beforeAll(async () => {
    workspace = await createWorkspace();
    twin = await createWorkspace();
    csvPath = await workspace.input("advisory_not_applicable.csv", await readFile(sampleCsv));
    trackerPath = await workspace.input("debian_tracker.json", await readFile(trackerFixture));
    await writeConfig(workspace);
    await writeConfig(twin);
  });

  afterAll(async () => {
    await workspace.cleanup();
    await twin.cleanup();
  });

  it("run 1 builds: there is nothing to keep", async () => {
    const { summary, because } = await run(workspace, 1);
    expect(because).toBe("no earlier run in this database");
    // With the clock pinned, how dbt ran stays out of the outputs: it depends on the database, not the inputs.
    expect(summary.dbt).toEqual({
      models: null,
      tests: null,
      warnings: null,
      reused_decisions_of: null,
      elapsed_seconds: null,
      model_timings: null,
    });
  });

  it("run 2, nothing changed: dbt does not run, and the feeds equal those of a full build", async () => {
    // The twin starts from the same database, history and published files, and rebuilds.
    for (const part of ["state", "output"]) {
      await cp(join(workspace.dir, part), join(twin.dir, part), { recursive: true });
    }
    const kept = await run(workspace, 2);
    const rebuilt = await run(twin, 2, "--rebuild");
    expect(kept.keptFrom).toBe(runId(1));
    // The documents' items are run 1's, read from its files instead of the marts (history/export-inputs.ts).
    expect(kept.carriedFrom).toBe(runId(1));
    expect(rebuilt.because).toBe("--rebuild");
    expect(rebuilt.carriedFrom).toBeNull();
    for (const feed of feeds) {
      const keptText = await readFile(join(workspace.outputDir, feed), "utf8");
      expect(keptText, feed).toBe(await readFile(join(twin.outputDir, feed), "utf8"));
    }
    // The summary and report too, the publish guard's counts included; only the config's path differs.
    expect(kept.summary).toEqual(rebuilt.summary);
    expect(kept.summary.transitions).toEqual([]);
    expect(kept.summary.publish_guard.previously_listed).toBeGreaterThan(0);
    const report = (target: Workspace) =>
      readFile(join(target.outputDir, `run_report_${runId(2)}.md`), "utf8").then((text) =>
        text.replace(target.configPath, "<config>"),
      );
    expect(await report(workspace)).toBe(await report(twin));
  });

  it("run 3, an override row removed from the CSV: dbt runs and the decision changes", async () => {
    const lines = (await readFile(csvPath, "utf8")).trimEnd().split("\n");
    await writeFile(csvPath, `${lines.slice(0, -1).join("\n")}\n`);
    const { summary, because } = await run(workspace, 3);
    expect(because).toBe("new data was landed");
    // Run 2 left the history files unrestored (it kept its decisions): restored before this build, they
    // make the one override's advisory the only change, not every advisory a new entry.
    expect(summary.transitions).toEqual([expect.objectContaining({ from: "not_applicable", count: 1 })]);
  });

  it("runs 4 and 5, the tracker fails and then returns: dbt runs both times", async () => {
    const tracker = await readFile(trackerPath);
    await rm(trackerPath);
    const failed = await run(workspace, 4);
    expect(failed.because).toBe("a source's fetch differs (status, snapshot, delivery or error)");
    expect(failed.summary.sources.find((source) => source.source === "debian_tracker")?.status).toBe("stale");
    await writeFile(trackerPath, tracker);
    const back = await run(workspace, 5);
    expect(back.because).toBe("a source's fetch differs (status, snapshot, delivery or error)");
    expect(back.summary.sources.find((source) => source.source === "debian_tracker")?.status).toBe("ok");
  });

  it("run 6, nothing changed: the source health is this run's although dbt did not run", async () => {
    const { summary, keptFrom } = await run(workspace, 6);
    expect(keptFrom).toBe(runId(5));
    for (const source of summary.sources) {
      expect(source.status, source.source).toBe("ok");
      expect(source.last_good_fetch_at, source.source).toBe(new Date(day(6)).toISOString());
    }
  });

  it("run 7, the published file is not the one run 6 published: dbt runs", async () => {
    const path = join(workspace.outputDir, "advisory_current.json");
    const text = await readFile(path, "utf8");
    await writeFile(
      path,
      text.replace(/"generated_at": "[^"]*"/, '"generated_at": "2026-04-06T06:00:01.000Z"'),
    );
    const { because } = await run(workspace, 7);
    expect(because).toBe(`advisory_current.json is not the one run ${runId(6)} published`);
  });

  it("run 8, a ledger file rewritten (same transitions, other bytes): dbt runs", async () => {
    const path = join(workspace.outputDir, "history", "transitions", `${runId(1)}.jsonl`);
    const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
    const first = JSON.parse(lines[0] as string) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(first).reverse());
    await writeFile(path, `${[JSON.stringify(reordered), ...lines.slice(1)].join("\n")}\n`);
    const { because } = await run(workspace, 8);
    expect(because).toBe(`the history files are not those run ${runId(7)} left`);
  });

  it("after a dry run the next run builds: the dry run is not a published state", async () => {
    const dry = await run(workspace, 9, "--dry-run");
    expect(dry.keptFrom).toBe(runId(8)); // nothing changed since run 8, so the dry run could keep its decisions
    const { because } = await run(workspace, 10);
    expect(because).toBe(`the previous run ${runId(9)} ended dry_run`);
  });

  it("on the real clock, the summary and report say whose decisions were kept", async () => {
    const { summary, keptFrom } = await run(workspace, null);
    expect(keptFrom).toBe(runId(10));
    expect(summary.dbt).toMatchObject({ models: 0, tests: 0, reused_decisions_of: runId(10) });
    const report = await readFile(join(workspace.outputDir, `run_report_${summary.run_id}.md`), "utf8");
    expect(report).toContain(
      `dbt did not run: the data, the history and the published file were those run ${runId(10)} decided from and left, so its decisions stand`,
    );
  });
  it("a run killed before it finished is recorded as interrupted by the next one, which then runs dbt", async () => {
    // The state a SIGKILL leaves (crash-recovery.test.ts kills real processes): the last run still running.
    const last = await withDatabase(workspace.database, async (db) => {
      const row = await db.one<{ run_id: string }>(
        "select run_id from meta.runs order by run_seq desc limit 1",
      );
      const runId = row?.run_id ?? expect.unreachable("no run recorded");
      await db.run("update meta.runs set status = 'running', finished_at = null where run_id = ?", [runId]);
      return runId;
    });
    const result = await workspace.run(["--as-of", "2027-01-04T06:00:00Z"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain("recorded as interrupted");
    expect(result.stderr).toContain(`"because":"the previous run ${last} ended interrupted"`);
    const statuses = await withDatabase(workspace.database, (db) =>
      db.all<{ run_id: string; status: string }>(
        "select run_id, status from meta.runs order by run_seq desc limit 2",
      ),
    );
    expect(statuses).toEqual([
      { run_id: "20270104T060000Z", status: "succeeded" },
      { run_id: last, status: "interrupted" },
    ]);
  });

  it("a new site.public_url: the decisions are kept, the documents made again with the new address", async () => {
    const runAt = async (asOf: string) => {
      const result = await workspace.run(["--as-of", asOf]);
      expect(result.exitCode, result.stderr).toBe(0);
      return result.stderr;
    };
    await runAt("2027-01-05T06:00:00Z");
    const publicUrl = "https://advisories.example.com";
    await writeConfig(workspace, publicUrl);
    const changed = await runAt("2027-01-06T06:00:00Z");
    expect(changed).toContain('"previous_run":"20270105T060000Z"');
    expect(changed).not.toContain("documents carried over");
    const document = await workspace.readAdvisoryCurrent();
    expect(document.advisories[0]?.history_url.startsWith(`${publicUrl}/`)).toBe(true);
    const again = await runAt("2027-01-07T06:00:00Z");
    expect(again).toContain(
      '"message":"documents carried over: their items are those run published","run":"20270106T060000Z"',
    );
    await writeConfig(workspace);
  });
});
