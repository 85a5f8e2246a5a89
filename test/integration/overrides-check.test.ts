import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkOverrides, renderOverridesReport } from "../../pipeline/ops/overrides-check.ts";
import {
  createWorkspace,
  readTree,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

/**
 * The check a pull request against the CSV runs: invalid rows are named by line and column and fail it;
 * a valid edit is previewed by a dry run against the committed history, which it leaves untouched.
 */
describe("the not-applicable overrides check", () => {
  let workspace: Workspace;
  let committedCsv: string;

  beforeAll(async () => {
    workspace = await createWorkspace();
    committedCsv = await readFile(sampleCsv, "utf8");
    const csvPath = await workspace.input("na.csv", committedCsv);
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: csvPath });
    const baseline = await workspace.run(["--as-of", "2026-04-01T06:00:00Z"]);
    expect(baseline.exitCode, baseline.stderr).toBe(0);
  });
  afterAll(() => workspace.cleanup());

  it("rejects bad rows with their line numbers: unknown advisory, unknown reason, duplicate, malformed id", async () => {
    const proposed = await workspace.input(
      "proposed-bad.csv",
      `${committedCsv.trimEnd()}\n${[
        "CVE-2099-0001,389-ds-base,not_applicable,,code_not_in_use",
        "CVE-2019-34462,389-ds-base,not_applicable,,because_i_said_so",
        'CVE-2023-45321,389-ds-base,not_applicable,"1:4.2.6-1+deb12u1",code_not_in_use',
        "CVE-20x-1,curl,not_applicable,,code_not_in_use",
        "CVE-2019-34462,389-ds-base,fixed,,code_not_in_use",
      ].join("\n")}\n`,
    );
    const firstNew = committedCsv.trimEnd().split("\n").length + 1;
    const result = await checkOverrides({ configPath: workspace.configPath, csvPath: proposed });
    expect(result.preview).toBeNull();
    expect(result.problems.map((problem) => [problem.line, problem.column])).toEqual([
      [firstNew, "cve_id"],
      [firstNew + 1, "internal_status"],
      [firstNew + 2, null],
      [firstNew + 3, "cve_id"],
      [firstNew + 4, "status"],
    ]);
    expect(result.problems[0]?.problem).toContain(
      "389-ds-base:CVE-2099-0001 is not an advisory in data.json",
    );
    expect(result.problems[2]?.problem).toContain("duplicate of line 2");

    // The command fails the check and writes the same table to the job summary.
    const summary = join(workspace.dir, "summary.md");
    const command = await execa(
      process.execPath,
      [
        join(repoRoot, "pipeline/ops/overrides-check.ts"),
        "--config",
        workspace.configPath,
        "--csv",
        proposed,
      ],
      { reject: false, env: { GITHUB_STEP_SUMMARY: summary } },
    );
    expect(command.exitCode).toBe(1);
    expect(command.stdout).toContain("**5 problems**");
    expect(await readFile(summary, "utf8")).toBe(`${command.stdout}\n`);
    expect(command.stdout).toContain(
      `| ${firstNew + 1} | internal_status | unknown reason code "because_i_said_so" (allowed: code_not_in_use, `,
    );
  });

  it("a header without the required columns is one problem on the header line", async () => {
    const proposed = await workspace.input(
      "proposed-header.csv",
      "cve,package\nCVE-2019-34462,389-ds-base\n",
    );
    const result = await checkOverrides({ configPath: workspace.configPath, csvPath: proposed });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ line: 1 });
    expect(result.problems[0]?.problem).toContain(
      "missing columns cve_id, status, fixed_version, internal_status",
    );
  });

  it("previews a valid edit: the added override and the removed one, against the committed history, changing nothing", async () => {
    const before = await readTree(workspace.outputDir);
    const removedLine = committedCsv.split("\n").find((line) => line.startsWith("CVE-2025-41407,binutils"));
    expect(removedLine).toBeDefined();
    const proposed = await workspace.input(
      "proposed-good.csv",
      `${committedCsv
        .split("\n")
        .filter((line) => line !== removedLine)
        .join("\n")
        .trimEnd()}\nCVE-2019-34462,389-ds-base,not_applicable,,code_not_in_use\n`,
    );
    const result = await checkOverrides({
      configPath: workspace.configPath,
      csvPath: proposed,
      asOf: new Date("2026-04-02T06:00:00Z"),
      clockPinned: true,
    });
    expect(result.problems).toEqual([]);
    expect(
      result.preview?.changes.map((change) => [
        change.advisory_id,
        change.from_state,
        change.to_state,
        change.rule_id,
      ]),
    ).toEqual([
      ["389-ds-base:CVE-2019-34462", "fixed", "not_applicable", "analyst_override"],
      ["binutils:CVE-2025-41407", "not_applicable", "fixed", "vendor_fixed_version"],
    ]);
    expect(result.preview?.changes[0]?.explanation).toContain("does not affect 389-ds-base");
    const report = renderOverridesReport(result);
    expect(report).toContain("Merging this edit would change 2 advisories");
    expect(report).toContain("| 389-ds-base:CVE-2019-34462 | fixed | not_applicable | analyst_override |");
    // The committed outputs and history are exactly as they were.
    expect(await readTree(workspace.outputDir)).toEqual(before);
  });
});
