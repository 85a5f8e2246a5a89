import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AdvisoryDocument } from "../../pipeline/formats/advisory-current.ts";
import { parseLedgerText } from "../../pipeline/formats/ledger.ts";
import type { LedgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import { advisoryIdOf, demoFiles, demoSubjects } from "../../tools/demo/demo-data.ts";
import { repoRoot } from "../helpers/workspace.ts";

/**
 * `npm run demo` end to end, site included (its build takes a few seconds): four pipeline runs in a fresh
 * workspace, and what the demo prints about each, checked against the files the runs wrote.
 */
const demo = join(repoRoot, "tools/demo/demo.ts");
const overridden = advisoryIdOf(demoSubjects.overridden);
const pending = advisoryIdOf(demoSubjects.pending);
const runIds = ["20260301T060000Z", "20260302T060000Z", "20260303T060000Z", "20260304T060000Z"];

/** The lines of the transition table row for an advisory, wherever the run's section prints it. */
const transitionRow = (advisory: string, from: string, to: string, rule: string) =>
  new RegExp(`^ {2}${literal(advisory)} +${literal(`${from} → ${to}`)} +${rule} `, "m");

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("npm run demo", () => {
  let parent: string;
  let workspace: string;
  let result: { exitCode: number; stdout: string; stderr: string };
  let sections: string[];

  const ledger = async (runId: string): Promise<LedgerTransition[]> => {
    const path = join(workspace, "output/history/transitions", `${runId}.jsonl`);
    return parseLedgerText(await readFile(path, "utf8"), path, runId);
  };
  const brief = (transitions: LedgerTransition[]) =>
    transitions.map((transition) => [
      transition.advisory_id,
      transition.from_state,
      transition.to_state,
      transition.rule_id,
    ]);

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), "echo-advisory-demo-test-"));
    workspace = join(parent, "demo");
    const run = await execa(process.execPath, [demo, "--out", workspace], { reject: false });
    result = { exitCode: run.exitCode ?? -1, stdout: String(run.stdout), stderr: String(run.stderr) };
    // Section 0 is the preamble; 1 to 4 are the runs; the last holds the history, timings and site.
    sections = result.stdout.split(/^Run \d of 4: /m);
  });
  afterAll(() => rm(parent, { recursive: true, force: true }));

  it("exits 0 after four published runs", async () => {
    expect(result.exitCode, result.stderr).toBe(0);
    expect(sections).toHaveLength(5);
    expect(await readdir(join(workspace, "output/history/transitions"))).toEqual(
      runIds.map((id) => `${id}.jsonl`),
    );
    for (const runId of runIds) {
      const summary = JSON.parse(
        await readFile(join(workspace, "output/history/runs", `${runId}.json`), "utf8"),
      ) as RunSummaryJson;
      // The generated inputs are in the real formats: nothing is rejected and no check fails but the
      // regressions warning, for the advisory the override takes out of its final state and back.
      expect(summary).toMatchObject({ status: "succeeded", rejected_total: 0 });
      expect(summary.checks.filter((check) => !check.passed && check.check_id !== "regressions")).toEqual([]);
    }
  });

  it("run 1 prints the baseline: the state distribution and the new advisories grouped", async () => {
    const document = JSON.parse(
      await readFile(join(workspace, "output/advisory_current.json"), "utf8"),
    ) as AdvisoryDocument;
    const section = sections[1] ?? "";
    expect(section).toMatch(/^Initial load/);
    expect(section).toContain(
      `${document.advisory_count} advisories, ${document.advisory_count} decision changes`,
    );
    expect(section).toMatch(/State distribution\n {2}STATE +TYPE +COUNT\n/);
    expect(section).toMatch(/^ {2}new → fixed +vendor_fixed_version +fix_available +\d+ /m);
    expect(section).toMatch(/^ {2}new → pending_upstream +upstream_pending +fix_pending_upstream +\d+ /m);
    expect(await ledger(runIds[0] as string)).toHaveLength(document.advisory_count);
  });

  it("run 2: the override outranks Debian's fix (fixed → not_applicable by analyst_override)", async () => {
    expect(brief(await ledger(runIds[1] as string))).toEqual([
      [overridden, "fixed", "not_applicable", "analyst_override"],
    ]);
    const section = sections[2] ?? "";
    expect(section).toMatch(transitionRow(overridden, "fixed", "not_applicable", "analyst_override"));
    // The before/after table: state and fixed version before → after, then the explanation after.
    expect(section).toMatch(
      new RegExp(
        `^ {2}${literal(overridden)} +fixed → not_applicable +2\\.9\\.14\\+dfsg-1\\.3~deb12u2 → -$`,
        "m",
      ),
    );
    expect(section).toContain("This is the assessment of our security research team");
    expect(section).toMatch(/^ {2}not_applicable +final +\d+ +\+1$/m);
    // Leaving a final state is reported, as a warning, with the rule that did it.
    expect(section).toContain(
      `warn regressions (1): ${overridden}: fixed → not_applicable by analyst_override (analyst_not_applicable)`,
    );
  });

  it("run 3: Debian's fix decides the pending advisory (pending_upstream → fixed by upstream_fixed_version)", async () => {
    expect(brief(await ledger(runIds[2] as string))).toEqual([
      [pending, "pending_upstream", "fixed", "upstream_fixed_version"],
    ]);
    const section = sections[3] ?? "";
    expect(section).toMatch(transitionRow(pending, "pending_upstream", "fixed", "upstream_fixed_version"));
    expect(section).toMatch(
      new RegExp(`^ {2}${literal(pending)} +pending_upstream → fixed +- → 3\\.0\\.17-1~deb12u3$`, "m"),
    );
  });

  it("run 4: the override removed, the advisory is re-decided fixed (not_applicable → fixed)", async () => {
    expect(brief(await ledger(runIds[3] as string))).toEqual([
      [overridden, "not_applicable", "fixed", "upstream_fixed_version"],
    ]);
    expect(sections[4] ?? "").toMatch(
      transitionRow(overridden, "not_applicable", "fixed", "upstream_fixed_version"),
    );
  });

  it("ends with each involved advisory's history periods in order, the timings and the site", () => {
    const tail = sections[4] ?? "";
    const history = tail.slice(tail.indexOf("History of the 2 advisories involved"));
    const periods = (advisory: string) => {
      const block = history.slice(history.indexOf(`\n${advisory}\n`) + 1).split("\n\n")[1] ?? "";
      return block
        .split("\n")
        .slice(2)
        .map((line) => line.trim().split(/ {2,}/).slice(0, 4));
    };
    expect(periods(overridden)).toEqual([
      [runIds[0], runIds[1], "new → fixed", "upstream_fixed_version"],
      [runIds[1], runIds[3], "fixed → not_applicable", "analyst_override"],
      [runIds[3], "current", "not_applicable → fixed", "upstream_fixed_version"],
    ]);
    expect(periods(pending)).toEqual([
      [runIds[0], runIds[2], "new → pending_upstream", "upstream_pending"],
      [runIds[2], "current", "pending_upstream → fixed", "upstream_fixed_version"],
    ]);
    expect(tail).toMatch(/^ {2}Total wall time: \d+\.\d s$/m);
    for (const step of ["run 1", "run 2", "run 3", "run 4", "site build"]) {
      expect(tail).toMatch(new RegExp(`^ {2}${step} +\\d+\\.\\d s`, "m"));
    }
    expect(tail).toContain(`Site:      ${join(workspace, "site")}`);
    expect(existsSync(join(workspace, "site/index.html"))).toBe(true);
  });

  it("generates the same inputs every time", () => {
    const step = { overrideRow: true, pendingFixed: false };
    expect(demoFiles(step)).toEqual(demoFiles(step));
    expect(demoFiles(step)["advisory_not_applicable.csv"]).toContain(
      `${demoSubjects.overridden.cveId},${demoSubjects.overridden.packageName},not_applicable,"",`,
    );
  });

  it("refuses to write into a folder that is neither empty nor an earlier demo's", async () => {
    const occupied = join(parent, "occupied");
    await mkdir(occupied, { recursive: true });
    await writeFile(join(occupied, "notes.txt"), "mine\n");
    const refused = await execa(process.execPath, [demo, "--out", occupied, "--no-site"], { reject: false });
    expect(refused.exitCode).toBe(2);
    expect(String(refused.stderr)).toContain("is not empty and is not a demo workspace");
    expect(await readdir(occupied)).toEqual(["notes.txt"]);
  });
});
