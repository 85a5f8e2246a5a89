import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AdvisoryCurrent,
  createWorkspace,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

/**
 * The operator sub-commands (`explain`, `history`) on one workspace with two runs of the bundled sample: the
 * second adds an override row that turns one under-investigation advisory not_applicable, so exactly one
 * decision changes between them.
 */
const cli = join(repoRoot, "pipeline/cli.ts");
const fixed = "curl:CVE-2023-38545";
const overridden = "linux:CVE-2016-8660";
const changed = "zlib:CVE-2023-45853";
const firstRun = "20260501T000000Z";
const secondRun = "20260502T000000Z";

interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

describe("the explain and history sub-commands", () => {
  let workspace: Workspace;
  let published: AdvisoryCurrent;

  /** The sub-command must come first for cli.ts to dispatch it, so this does not use workspace.run. */
  async function inspect(command: "explain" | "history", args: string[], configPath?: string) {
    const result = await execa(
      process.execPath,
      [cli, command, "--config", configPath ?? workspace.configPath, ...args],
      { reject: false, env: { ECHO_LOG_FORMAT: "json" } },
    );
    return {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout),
      stderr: String(result.stderr),
    } satisfies CliResult;
  }

  function publishedAdvisory(id: string) {
    const advisory = published.advisories.find((candidate) => candidate.advisory_id === id);
    if (!advisory) throw new Error(`${id} is not in advisory_current.json`);
    return advisory;
  }

  /** Explanations are word-wrapped for the terminal; compare them with whitespace collapsed. */
  const prose = (text: string) => text.replace(/\s+/g, " ");

  beforeAll(async () => {
    workspace = await createWorkspace();
    const original = await readFile(sampleCsv, "utf8");
    const csvPath = await workspace.input("advisory_not_applicable.csv", original);
    // CISA's KEV catalogue on its bundled sample, which lists the fixed curl CVE below.
    await workspace.writeConfig({
      dataJson: sampleDataJson,
      csv: csvPath,
      extra: "  kev:\n    enabled: true",
    });
    const first = await workspace.run(["--as-of", "2026-05-01T00:00:00Z"]);
    expect(first.exitCode, first.stderr).toBe(0);
    const before = await workspace.readAdvisoryCurrent();
    expect(before.advisories.find((advisory) => advisory.advisory_id === changed)?.state).toBe(
      "under_investigation",
    );
    await writeFile(csvPath, `${original.trimEnd()}\nCVE-2023-45853,zlib,not_applicable,,code_not_in_use\n`);
    const second = await workspace.run(["--as-of", "2026-05-02T00:00:00Z"]);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdout).toContain("Decision changes recorded: 1");
    published = await workspace.readAdvisoryCurrent();
  });
  afterAll(() => workspace.cleanup());

  it("explains a fixed advisory: state, fixed version, rule, explanation and its evidence", async () => {
    const result = await inspect("explain", [fixed]);
    expect(result.exitCode, result.stderr).toBe(0);
    const advisory = publishedAdvisory(fixed);
    expect(result.stdout).toMatch(/^curl:CVE-2023-38545 {2}\(package curl, CVE-2023-38545\)$/m);
    expect(result.stdout).toMatch(/^ {2}State +fixed \(final\)$/m);
    expect(result.stdout).toMatch(/^ {2}Fixed version +7\.88\.1-10\+deb12u4$/m);
    expect(result.stdout).toMatch(/^ {2}Rule +vendor_fixed_version \(.+\)$/m);
    expect(result.stdout).toMatch(/^ {2}Reason code +fix_available$/m);
    expect(result.stdout).toMatch(/^ {2}Decided at +2026-05-01T00:00:00Z \(run 20260501T000000Z\)$/m);
    expect(result.stdout).toMatch(/^ {2}First seen +2026-05-01T00:00:00Z \(run 20260501T000000Z\)$/m);
    expect(result.stdout).toMatch(/^ {2}Contributing +echo_data$/m);
    expect(result.stdout).toMatch(/^ {2}Dissenting +none$/m);
    expect(result.stdout).toMatch(
      /^ {2}Known exploited +yes: in CISA's KEV catalogue since 2025-07-28, due 2025-08-18, ransomware use unknown \(catalogue 2025\.08\.25\)$/m,
    );
    expect(prose(result.stdout)).toContain(advisory.explanation);
    expect(result.stdout).toMatch(/^ {2}SOURCE +SIGNAL +VERSION +RELEASE +RECORD +FETCHED AT +STALE$/m);
    expect(result.stdout).toMatch(
      /^ {2}echo_data +fixed +7\.88\.1-10\+deb12u4 +- +- +2026-05-01T00:00:00Z +no$/m,
    );
    expect(result.stdout).toMatch(/^ {2}20260501T000000Z +current +new → fixed +vendor_fixed_version/m);
    expect(result.stdout).not.toMatch(/ +$/m);
  });

  it("explains a not_applicable advisory, given as <package> <CVE>, with both sources' evidence", async () => {
    const result = await inspect("explain", ["linux", "CVE-2016-8660"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ {2}State +not_applicable \(final\)$/m);
    expect(result.stdout).toMatch(/^ {2}Rule +analyst_override \(.+\)$/m);
    expect(result.stdout).toMatch(/^ {2}Reason code +analyst_not_applicable$/m);
    expect(result.stdout).toMatch(/^ {2}Deciding source +echo_csv$/m);
    expect(result.stdout).not.toMatch(/^ {2}Fixed version/m);
    expect(prose(result.stdout)).toContain(publishedAdvisory(overridden).explanation);
    expect(result.stdout).toMatch(/^ {2}echo_csv +not_affected +/m);
    expect(result.stdout).toMatch(/^ {2}echo_data +fixed +/m);
  });

  it("explains an under_investigation advisory", async () => {
    const open = published.advisories.find(
      (advisory) => advisory.state === "under_investigation" && advisory.advisory_id !== changed,
    );
    if (!open) throw new Error("the sample has no other advisory under investigation");
    const result = await inspect("explain", [open.advisory_id]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ {2}State +under_investigation \(non_final\)$/m);
    expect(result.stdout).toMatch(/^ {2}Rule +no_signal \(.+\)$/m);
    expect(result.stdout).toMatch(/^ {2}Reason code +awaiting_analysis$/m);
    expect(prose(result.stdout)).toContain(open.explanation);
    expect(result.stdout).toMatch(/^ {2}echo_data +listed_without_fix +- +- +- +2026-05-01T00:00:00Z +no$/m);
    expect(result.stdout).toContain("History (1 period, oldest first)");
  });

  it("shows both decision periods of the advisory the override changed, oldest first", async () => {
    const result = await inspect("explain", [changed]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ {2}State +not_applicable \(final\)$/m);
    expect(result.stdout).toMatch(/^ {2}Decided at +2026-05-02T00:00:00Z \(run 20260502T000000Z\)$/m);
    expect(result.stdout).toMatch(/^ {2}First seen +2026-05-01T00:00:00Z \(run 20260501T000000Z\)$/m);
    expect(result.stdout).toContain("History (2 periods, oldest first)");
    const history = result.stdout.slice(result.stdout.indexOf("History ("));
    expect(history).toMatch(
      /^ {2}20260501T000000Z +20260502T000000Z +new → under_investigation +no_signal +-$/m,
    );
    expect(history).toMatch(
      /^ {2}20260502T000000Z +current +under_investigation → not_applicable +analyst_override +-$/m,
    );
    expect(history.indexOf(`  ${firstRun}`)).toBeLessThan(history.indexOf(`  ${secondRun}`));
  });

  it("prints the same information as one JSON object with --json", async () => {
    const result = await inspect("explain", ["--json", changed]);
    expect(result.exitCode, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout);
    const advisory = publishedAdvisory(changed);
    expect(parsed).toMatchObject({
      advisory_id: changed,
      package_name: "zlib",
      cve_id: "CVE-2023-45853",
      state: "not_applicable",
      state_type: "final",
      rule_id: "analyst_override",
      reason_code: "analyst_not_applicable",
      explanation: advisory.explanation,
      confidence: advisory.confidence,
      decided_at: "2026-05-02T00:00:00Z",
      decided_run_id: secondRun,
      first_seen_at: "2026-05-01T00:00:00Z",
      contributing_sources: advisory.contributing_sources,
      dissenting_sources: advisory.dissenting_sources,
      known_exploited: null,
    });
    expect(parsed.evidence).toEqual(advisory.evidence);
    expect(parsed.history).toEqual([
      expect.objectContaining({
        valid_from_run_id: firstRun,
        valid_to_run_id: secondRun,
        is_current: false,
        ended_by: "changed",
        previous_state: null,
        state: "under_investigation",
        rule_id: "no_signal",
      }),
      expect.objectContaining({
        valid_from_run_id: secondRun,
        valid_to_run_id: null,
        is_current: true,
        previous_state: "under_investigation",
        state: "not_applicable",
        rule_id: "analyst_override",
      }),
    ]);
  });

  it("refuses an unknown advisory with exit 2, suggesting the package's advisories", async () => {
    const result = await inspect("explain", ["curl:CVE-1999-0001"]);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("advisory curl:CVE-1999-0001 is not in the current data");
    expect(result.stderr).toContain("did you mean");
    expect(result.stderr).toContain(fixed);

    const wrongCase = await inspect("explain", ["curl:cve-2023-38545"]);
    expect(wrongCase.exitCode).toBe(2);
    expect(wrongCase.stderr).toContain(`did you mean ${fixed}`);

    const noId = await inspect("explain", []);
    expect(noId.exitCode).toBe(2);
    expect(noId.stderr).toContain("explain needs an advisory id");
  });

  it("lists exactly the one transition of the second run, counted by change", async () => {
    const result = await inspect("history", ["--run", secondRun]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Run 20260502T000000Z$/m);
    expect(result.stdout).toMatch(/^ {2}Status +succeeded \(exit code 0\)$/m);
    expect(result.stdout).toMatch(/^ {2}As of +2026-05-02T00:00:00Z$/m);
    expect(result.stdout).toMatch(/^ {2}Started +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(result.stdout).toContain("Decision changes: 1\n");
    expect(result.stdout).toMatch(/^ {2}under_investigation → not_applicable +1$/m);
    const lines = result.stdout.slice(result.stdout.indexOf("Transitions\n")).trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^ {2}ADVISORY +CHANGE +RULE +REASON CODE +FIXED VERSION$/);
    expect(lines[2]).toMatch(
      /^ {2}zlib:CVE-2023-45853 +under_investigation → not_applicable +analyst_override +analyst_not_applicable +-$/,
    );

    const json = JSON.parse((await inspect("history", ["--run", secondRun, "--json"])).stdout);
    expect(json).toMatchObject({
      run_id: secondRun,
      run: { status: "succeeded", as_of: "2026-05-02T00:00:00Z" },
      transition_count: 1,
      changes: [{ from_state: "under_investigation", to_state: "not_applicable", count: 1 }],
      transitions: [{ advisory_id: changed, rule_id: "analyst_override" }],
      omitted: 0,
    });
  });

  it("limits a run's transition lines with --limit and says how many it left out", async () => {
    const result = await inspect("history", ["--run", "2026-05-01T00:00:00Z", "--limit", "3"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Run 20260501T000000Z$/m);
    expect(result.stdout).toContain(`Decision changes: ${published.advisory_count}\n`);
    expect(result.stdout).toMatch(/^ {2}new → fixed +\d+$/m);
    expect(result.stdout).toContain(`  … and ${published.advisory_count - 3} more transitions`);
  });

  it("lists both recorded runs newest first with their number of changes", async () => {
    const result = await inspect("history", []);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("Runs (2, newest first)");
    expect(result.stdout).toMatch(/^ {2}RUN ID +AS OF +STATUS +CHANGES$/m);
    const second = result.stdout.search(/^ {2}20260502T000000Z +2026-05-02T00:00:00Z +succeeded +1$/m);
    const first = result.stdout.search(
      new RegExp(`^ {2}20260501T000000Z +2026-05-01T00:00:00Z +succeeded +${published.advisory_count}$`, "m"),
    );
    expect(second).toBeGreaterThan(0);
    expect(first).toBeGreaterThan(second);

    const json = JSON.parse((await inspect("history", ["--json"])).stdout);
    expect(json.runs.map((run: { run_id: string }) => run.run_id)).toEqual([secondRun, firstRun]);
  });

  it("refuses an unknown run with exit 2, naming the latest runs", async () => {
    const result = await inspect("history", ["--run", "20990101T000000Z"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("run 20990101T000000Z is not recorded in the database");
    expect(result.stderr).toContain(`the latest runs are ${secondRun}, ${firstRun}`);

    const notAnId = await inspect("history", ["--run", "yesterday"]);
    expect(notAnId.exitCode).toBe(2);
    expect(notAnId.stderr).toContain("'yesterday' is not a run id");
  });

  it("fails clearly, without creating it, when the database does not exist", async () => {
    const configPath = join(workspace.dir, "no-database.yaml");
    const config = await readFile(workspace.configPath, "utf8");
    await writeFile(
      configPath,
      config.replace("database: state/echo-advisory.duckdb", "database: state/none.duckdb"),
    );
    const missing = join(workspace.dir, "state", "none.duckdb");
    for (const [command, args] of [
      ["explain", [fixed]],
      ["history", []],
    ] as const) {
      const result = await inspect(command, [...args], configPath);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(`${missing}: the database does not exist`);
      expect(result.stderr).toContain("run the pipeline first");
    }
    expect(existsSync(missing)).toBe(false);
  });
});
