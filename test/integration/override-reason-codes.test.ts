import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import { withDatabase } from "../../pipeline/lib/db.ts";
import { checkOverrides } from "../../pipeline/ops/overrides-check.ts";
import {
  type AdvisoryCurrent,
  createWorkspace,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

/**
 * An override row whose internal_status the override_reasons seed does not know: the scheduled run
 * quarantines it as the pull-request check refuses it, with the same words. It never lands, its advisory is
 * decided as without it, a valid row beside it is published, and the check override_reason_codes_known
 * fails (warn by default; an error, which blocks publication, when the config says so).
 */
const header = '"cve_id","package","status","fixed_version","internal_status"';
const validRow = "CVE-2019-34462,389-ds-base,not_applicable,,code_not_in_use";
const unknownRow = "CVE-2022-27590,apr-util,not_applicable,,unknown_reason_code";
const unknownAdvisory = "apr-util:CVE-2022-27590";
const validAdvisory = "389-ds-base:CVE-2019-34462";

describe("an override row with an unknown reason code", () => {
  let workspace: Workspace;
  let csv: string;
  let withoutRow: AdvisoryCurrent;

  beforeAll(async () => {
    workspace = await createWorkspace();
    // The first run reads the valid row alone: what every advisory is without the unknown one.
    csv = await workspace.input("na.csv", `${header}\n${validRow}\n`);
    await workspace.writeConfig({ dataJson: sampleDataJson, csv });
    const first = await workspace.run(["--as-of", "2026-04-01T06:00:00Z"]);
    expect(first.exitCode, first.stderr).toBe(0);
    withoutRow = await workspace.readAdvisoryCurrent();
    // The analyst's edit: the unknown row lands on line 3.
    await workspace.input("na.csv", `${header}\n${validRow}\n${unknownRow}\n`);
  }, 120_000);
  afterAll(() => workspace.cleanup());

  it("is quarantined by the run, which publishes the valid override and fails the check", async () => {
    const run = await workspace.run(["--as-of", "2026-04-02T06:00:00Z"]);
    expect(run.exitCode, run.stderr).toBe(0);

    const published = await workspace.readAdvisoryCurrent();
    const advisory = (document: AdvisoryCurrent, id: string) =>
      document.advisories.find((candidate) => candidate.advisory_id === id);
    // The valid row decides, with its reason's sentence.
    expect(advisory(published, validAdvisory)).toMatchObject({
      state: "not_applicable",
      rule_id: "analyst_override",
    });
    expect(advisory(published, validAdvisory)?.explanation).toContain(
      "the vulnerable code is not used by this package as we build and ship it",
    );
    // The unknown one decides nothing: its advisory is exactly as it was without the row.
    expect(advisory(withoutRow, unknownAdvisory)?.state).not.toBe("not_applicable");
    expect(advisory(published, unknownAdvisory)).toEqual(advisory(withoutRow, unknownAdvisory));
    expect(JSON.stringify(published)).not.toContain("does not apply to this package");

    // Recorded as a rejection naming file, line, key and code; never landed.
    const rejected = await withDatabase(workspace.database, async (db) => ({
      records: await db.all<{ file: string; line: number; key: string; reason: string }>(
        "select file, line, key, reason from meta.rejected_records where source = 'echo_csv'",
      ),
      landed: await db.all<{ internal_status: string }>(
        "select internal_status from landing.echo_not_applicable",
      ),
    }));
    expect(rejected.records).toEqual([
      {
        file: csv,
        line: 3,
        key: "internal_status",
        reason: expect.stringMatching(
          /^unknown reason code "unknown_reason_code" \(allowed: code_not_in_use, disputed, .*\)$/,
        ),
      },
    ]);
    expect(rejected.landed.map((row) => row.internal_status)).toEqual(["code_not_in_use"]);
    const reason = rejected.records[0]?.reason ?? "";

    // run_summary.json and the report show the failed check, listing the row.
    const summary = JSON.parse(
      await readFile(join(workspace.outputDir, "run_summary.json"), "utf8"),
    ) as RunSummaryJson;
    expect(summary.published).toBe(true);
    expect(summary.transitions).toEqual([]);
    expect(summary.checks.find((check) => check.check_id === "override_reason_codes_known")).toEqual({
      check_id: "override_reason_codes_known",
      severity: "warn",
      passed: false,
      failing_count: 1,
      examples: [`${csv}:3: ${reason}`],
    });
    expect(summary.sources.find((source) => source.source === "echo_csv")).toMatchObject({
      status: "degraded",
      observations: 1,
      rejected: 1,
    });
    const report = await readFile(join(workspace.outputDir, "run_report_20260402T060000Z.md"), "utf8");
    expect(report).toMatch(/\| override_reason_codes_known \| warn \| FAILED \| 1 \|/);
    expect(report).toContain(`na.csv:3 internal_status | unknown reason code "unknown_reason_code"`);

    // The pull-request check refuses the same row, in the same words.
    const check = await checkOverrides({ configPath: workspace.configPath, preview: false });
    expect(check.problems).toEqual([
      { line: 3, column: "internal_status", problem: reason, text: unknownRow },
    ]);
  }, 120_000);

  it("keeps the run from publishing when the config makes the check an error", async () => {
    await workspace.writeConfig({
      dataJson: sampleDataJson,
      csv,
      extra: ["quality:", "  severities:", "    override_reason_codes_known: error"].join("\n"),
    });
    const run = await workspace.run(["--as-of", "2026-04-03T06:00:00Z"]);
    expect(run.exitCode, run.stderr).toBe(3);
    const summary = JSON.parse(
      await readFile(join(workspace.outputDir, "run_summary.json"), "utf8"),
    ) as RunSummaryJson;
    expect(summary).toMatchObject({ status: "blocked", published: false });
    expect(summary.publish_guard.reasons).toEqual([
      expect.stringMatching(/^error check override_reason_codes_known failed \(1\)/),
    ]);
  }, 120_000);
});
