import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import {
  createWorkspace,
  readTree,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

type DataJson = Record<string, Record<string, { fixed_version?: string }>>;

/**
 * The publish guard and the quality checks, run after run on one workspace: a source that loses half its
 * records, an override feed that arrives empty, a dry run, an expected mass change accepted by the
 * operator, a regression and stalled advisories.
 */
describe("quality checks and the publish guard", () => {
  let workspace: Workspace;
  let dataPath: string;
  let csvPath: string;
  let original: DataJson;
  const day = (n: number) => `2026-06-${String(n).padStart(2, "0")}T00:00:00Z`;

  async function summary(): Promise<RunSummaryJson> {
    return JSON.parse(
      await readFile(join(workspace.outputDir, "run_summary.json"), "utf8"),
    ) as RunSummaryJson;
  }

  function check(document: RunSummaryJson, id: string) {
    const found = document.checks.find((entry) => entry.check_id === id);
    if (!found) throw new Error(`no check ${id}`);
    return found;
  }

  beforeAll(async () => {
    workspace = await createWorkspace();
    original = JSON.parse(await readFile(sampleDataJson, "utf8")) as DataJson;
    dataPath = await workspace.input("data.json", JSON.stringify(original));
    csvPath = await workspace.input("na.csv", await readFile(sampleCsv));
    await workspace.writeConfig({ dataJson: dataPath, csv: csvPath });
  });
  afterAll(() => workspace.cleanup());

  it("a first run publishes, and its checks pass", async () => {
    const run = await workspace.run(["--as-of", day(1)]);
    expect(run.exitCode, run.stderr).toBe(0);
    const first = await summary();
    expect(first).toMatchObject({ status: "succeeded", exit_code: 0, published: true });
    expect(check(first, "source_record_drop")).toMatchObject({ passed: true, severity: "error" });
    expect(check(first, "regressions").passed).toBe(true);
    expect(check(first, "stalled_advisories").passed).toBe(true);
  });

  it("a data.json that lost half its packages is recorded but not published (exit 3), and the report says why", async () => {
    const published = await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8");
    const packages = Object.keys(original);
    const half = Object.fromEntries(
      packages.slice(0, Math.floor(packages.length / 2)).map((name) => [name, original[name]]),
    );
    await writeFile(dataPath, JSON.stringify(half));
    const run = await workspace.run(["--as-of", day(2)]);
    expect(run.exitCode).toBe(3);
    expect(run.stdout).toContain("NOT PUBLISHED (exit 3)");
    expect(await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8")).toBe(published);
    expect(await readdir(join(workspace.outputDir, "history", "transitions"))).toEqual([
      "20260601T000000Z.jsonl",
    ]);
    const blocked = await summary();
    expect(blocked).toMatchObject({ status: "blocked", exit_code: 3, published: false });
    expect(check(blocked, "source_record_drop")).toMatchObject({ passed: false, failing_count: 1 });
    expect(check(blocked, "source_record_drop").examples[0]).toMatch(
      /^echo_data: \d+ records against 177 in its last good delivery \(\d+\.\d % fewer\)$/,
    );
    const report = await readFile(join(workspace.outputDir, "run_report_20260602T000000Z.md"), "utf8");
    expect(report).toContain("**Not published.**");
    expect(report).toContain("error check source_record_drop failed");
    expect(report).toMatch(/would change state, more than the 5\.0 % allowed/);

    // Operations tells the security team the run was refused, and why; customers' home says their data stayed.
    const site = join(workspace.dir, "site");
    await execa("npm", ["run", "site:build"], {
      cwd: repoRoot,
      env: { ECHO_OUTPUT_DIR: workspace.outputDir, ECHO_SITE_OUT_DIR: site },
    });
    const operations = await readFile(join(site, "operations", "index.html"), "utf8");
    expect(operations).toContain("The last run was not published.");
    expect(operations).toContain("error check source_record_drop failed");
    expect(operations).toMatch(/<strong>source_record_drop<\/strong> \(error\): 1 failing/);
    const home = await readFile(join(site, "index.html"), "utf8");
    expect(home).toContain("The last run was not published.");
    // The refused run's page shows what it would have changed: half the fixed advisories no longer listed.
    const runPage = await readFile(join(site, "runs", "20260602T000000Z", "index.html"), "utf8");
    expect(runPage).toContain("This run was not published.");
    expect(runPage).toContain("decision changes it computed were not recorded; its report below lists them");
    expect(runPage).toMatch(/<a href="\/advisory\/\?id=[^"]+">[^<]+<\/a>: fixed → no longer listed<\/li>/);
    expect(runPage).not.toContain("This run recorded no decision change.");
  });

  it("a dry run computes everything and leaves output/ byte-identical; its exit code says it would not publish", async () => {
    await writeFile(dataPath, JSON.stringify(original));
    await writeFile(csvPath, "cve_id,package,status,fixed_version,internal_status\n");
    const before = await readTree(workspace.outputDir);
    const run = await workspace.run(["--as-of", day(3), "--dry-run"]);
    expect(run.exitCode).toBe(3);
    expect(run.stdout).toContain("Dry run: nothing was published; a real run would NOT publish");
    expect(run.stdout).toMatch(/not_applicable\s+→ (fixed|under_investigation)/);
    expect(await readTree(workspace.outputDir)).toEqual(before);
  });

  it("an override feed that arrives empty is not published either", async () => {
    const before = await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8");
    const run = await workspace.run(["--as-of", day(4)]);
    expect(run.exitCode).toBe(3);
    expect(await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8")).toBe(before);
    const blocked = await summary();
    expect(check(blocked, "source_record_drop").examples).toContain(
      "echo_csv: 0 records against 23 in its last good delivery (100.0 % fewer)",
    );
  });

  it("an expected mass change is refused, then published with --accept-mass-change, which the report records", async () => {
    await writeFile(csvPath, await readFile(sampleCsv));
    // Fifteen open advisories get a fix: more than 5 % of the advisories change state, and no check fails.
    const overridden = new Set(
      (await readFile(sampleCsv, "utf8"))
        .split("\n")
        .slice(1)
        .map((line) => line.split(","))
        .map(([cve, pkg]) => `${pkg}:${cve}`),
    );
    const fixedNow = structuredClone(original);
    let given = 0;
    for (const [pkg, entries] of Object.entries(fixedNow)) {
      for (const [cve, entry] of Object.entries(entries)) {
        if (given < 15 && entry.fixed_version === undefined && !overridden.has(`${pkg}:${cve}`)) {
          entry.fixed_version = "1.0-1";
          given += 1;
        }
      }
    }
    await writeFile(dataPath, JSON.stringify(fixedNow));
    const refused = await workspace.run(["--as-of", day(5)]);
    expect(refused.exitCode).toBe(3);
    expect((await summary()).publish_guard.reasons).toEqual([
      expect.stringMatching(
        /^15 of 177 advisories \(8\.5 %\) would change state, more than the 5\.0 % allowed/,
      ),
    ]);
    const accepted = await workspace.run(["--as-of", day(5), "--accept-mass-change"]);
    expect(accepted.exitCode, accepted.stderr).toBe(0);
    expect(await summary()).toMatchObject({
      status: "succeeded",
      publish_guard: { state_changes: 15, mass_change_accepted: true },
    });
    const report = await readFile(join(workspace.outputDir, "run_report_20260605T000000Z.md"), "utf8");
    expect(report).toContain("**Published with --accept-mass-change:** 15 of 177 advisories changed state");
    const document = await workspace.readAdvisoryCurrent();
    expect(document.advisories.filter((advisory) => advisory.fixed_version === "1.0-1")).toHaveLength(15);
  });

  it("a fix withdrawn is a regression: published (a warning), listed with the rule that moved it", async () => {
    const withdrawn = JSON.parse(await readFile(dataPath, "utf8")) as DataJson;
    delete (withdrawn.curl as Record<string, { fixed_version?: string }>)["CVE-2023-38545"]?.fixed_version;
    await writeFile(dataPath, JSON.stringify(withdrawn));
    const run = await workspace.run(["--as-of", day(6)]);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = await readFile(join(workspace.outputDir, "run_report_20260606T000000Z.md"), "utf8");
    expect(report).toContain(
      "- [curl:CVE-2023-38545](advisory/?id=curl%3ACVE-2023-38545): fixed → under_investigation by no_signal (awaiting_analysis)",
    );
    expect(check(await summary(), "regressions")).toMatchObject({
      passed: false,
      severity: "warn",
      examples: ["curl:CVE-2023-38545: fixed → under_investigation by no_signal (awaiting_analysis)"],
    });
  });

  it("advisories non-final for longer than stalled_after_days are listed oldest first", async () => {
    const run = await workspace.run(["--as-of", "2026-07-15T00:00:00Z"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const stalled = check(await summary(), "stalled_advisories");
    expect(stalled.passed).toBe(false);
    // Open since the first run (44 days), except the one whose fix was withdrawn on June 6 (39 days).
    expect(stalled.examples[0]).toMatch(/ under_investigation since 2026-06-01 \(44 days\)$/);
    expect(stalled.examples.at(-1)).toBe(
      "curl:CVE-2023-38545 under_investigation since 2026-06-06 (39 days)",
    );
    expect(check(await summary(), "regressions").passed).toBe(true);
  });
});
