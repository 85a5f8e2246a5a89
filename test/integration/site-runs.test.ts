import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { LedgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import { readRunSummaries } from "../../pipeline/formats/run-summary.ts";
import { readLedger } from "../../pipeline/history/ledger.ts";
import {
  createWorkspace,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

type DataJson = Record<string, Record<string, { fixed_version?: string }>>;

/** An input value that is markup and markdown at once: it must reach every page as text. */
const hostile = "<img src=x onerror=alert(1)>[click](javascript:alert(1))";

/** The text of an HTML fragment: tags dropped, the few entities Astro writes decoded, spaces collapsed. */
function text(html: string): string {
  return html
    .replace(/<[^>]+>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/** The element that opens with `opening` (e.g. `<table id="runs"`), up to its matching closing tag. */
function element(html: string, opening: string): string {
  const start = html.indexOf(opening);
  if (start < 0) throw new Error(`no ${opening} in the page`);
  const tag = /^<([a-z0-9]+)/.exec(opening)?.[1] as string;
  const pattern = new RegExp(`<(/?)${tag}[\\s>]`, "g");
  pattern.lastIndex = start + 1;
  let depth = 1;
  for (let match = pattern.exec(html); match; match = pattern.exec(html)) {
    depth += match[1] ? -1 : 1;
    if (depth === 0) return html.slice(start, match.index + `</${tag}>`.length);
  }
  throw new Error(`${opening} is not closed`);
}

/** Body rows of a table, each as its cells' text. */
function bodyRows(table: string): { attributes: string; cells: string[] }[] {
  const body = element(table, "<tbody");
  return [...body.matchAll(/<tr([^>]*)>([\s\S]*?)<\/tr>/g)].map(([, attributes = "", row = ""]) => ({
    attributes,
    cells: [...row.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map(([, cell = ""]) => text(cell)),
  }));
}

function headerCells(table: string): string[] {
  const head = element(table, "<thead");
  return [...head.matchAll(/<th[^>]*>([\s\S]*?)<\/th>/g)].map(([, cell = ""]) => text(cell));
}

const runIdOf = (attributes: string) => /data-run-id="([^"]+)"/.exec(attributes)?.[1];

/** Groups of a run's ledger as the run page shows them: from, to, rule, count. */
function ledgerGroups(transitions: readonly LedgerTransition[]): string[][] {
  const counts = new Map<string, number>();
  for (const transition of transitions) {
    const key = JSON.stringify([
      transition.from_state ?? "(new)",
      transition.to_state ?? "(no longer listed)",
      transition.rule_id ?? "—",
    ]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, count]) => [...(JSON.parse(key) as string[]), count.toLocaleString("en")]);
}

/**
 * The runs pages, the quality history and the dashboard trend, built from a workspace with three runs: a
 * first run, one that adds override rows (and a hostile row the CSV reader rejects), and one five weeks later
 * where a fix is withdrawn (a regression) and the open advisories have stalled.
 */
describe("the runs, quality and trend pages", () => {
  let workspace: Workspace;
  let site: string;
  const runs = ["20260601T000000Z", "20260602T000000Z", "20260715T000000Z"];
  const page = (path: string) => readFile(join(site, path, "index.html"), "utf8");
  let summaries: Map<string, RunSummaryJson>;
  let overridden: string[];

  beforeAll(async () => {
    workspace = await createWorkspace();
    const data = JSON.parse(await readFile(sampleDataJson, "utf8")) as DataJson;
    const dataPath = await workspace.input("data.json", JSON.stringify(data));
    const csv = await readFile(sampleCsv, "utf8");
    const csvPath = await workspace.input("na.csv", csv);
    await workspace.writeConfig({ dataJson: dataPath, csv: csvPath });
    const first = await workspace.run(["--as-of", "2026-06-01T00:00:00Z"]);
    expect(first.exitCode, first.stderr).toBe(0);

    // Three open advisories get an analyst's override; a fourth row carries markup and is rejected.
    overridden = (await workspace.readAdvisoryCurrent()).advisories
      .filter((advisory) => advisory.state === "under_investigation")
      .slice(0, 3)
      .map((advisory) => advisory.advisory_id);
    const rows = overridden.map((id) => {
      const [pkg, cve] = id.split(":");
      return `${cve},${pkg},not_applicable,,code_not_in_use`;
    });
    await writeFile(
      csvPath,
      `${csv.trimEnd()}\n${rows.join("\n")}\n${hostile},curl,not_applicable,,code_not_in_use\n`,
    );
    const second = await workspace.run(["--as-of", "2026-06-02T00:00:00Z"]);
    expect(second.exitCode, second.stderr).toBe(0);

    delete (data.curl as DataJson[string])["CVE-2023-38545"]?.fixed_version;
    await writeFile(dataPath, JSON.stringify(data));
    const third = await workspace.run(["--as-of", "2026-07-15T00:00:00Z"]);
    expect(third.exitCode, third.stderr).toBe(0);

    summaries = new Map(
      (await readRunSummaries(join(workspace.outputDir, "history"))).map((file) => [
        file.runId,
        file.summary,
      ]),
    );
    expect([...summaries.keys()]).toEqual(runs);

    site = join(workspace.dir, "site");
    await mkdir(site, { recursive: true });
    await execa("npm", ["run", "site:build"], {
      cwd: repoRoot,
      env: { ECHO_OUTPUT_DIR: workspace.outputDir, ECHO_SITE_OUT_DIR: site },
    });
  });
  afterAll(() => workspace.cleanup());

  it("lists every run newest first, with a link, its clock, status and number of decision changes", async () => {
    const rows = bodyRows(element(await page("runs"), '<table id="runs"'));
    expect(rows.map((row) => runIdOf(row.attributes))).toEqual(runs.toReversed());
    const ledger = await readLedger(join(workspace.outputDir, "history"));
    expect(rows.map((row) => row.cells.slice(0, 4))).toEqual(
      runs
        .toReversed()
        .map((runId) => [
          runId,
          summaries.get(runId)?.as_of,
          "succeeded",
          String(ledger.find((file) => file.runId === runId)?.transitions.length),
        ]),
    );
    expect(await page("runs")).toContain(`<a href="/runs/${runs[2]}/"`);
  });

  it("shows each run's decision changes grouped as the ledger holds them, with links to the advisories", async () => {
    const ledger = await readLedger(join(workspace.outputDir, "history"));
    for (const runId of runs) {
      const html = await page(`runs/${runId}`);
      expect(text(element(html, "<h1"))).toContain(runId);
      const rows = bodyRows(element(html, '<table id="run-transitions"'));
      const expected = ledgerGroups(ledger.find((file) => file.runId === runId)?.transitions ?? []);
      expect(rows.map((row) => row.cells).sort()).toEqual(expected.sort());
    }
    const first = bodyRows(element(await page(`runs/${runs[0]}`), '<table id="run-transitions"'));
    expect(first.map((row) => row.cells)).toEqual([
      ["(new)", "fixed", "vendor_fixed_version", "114"],
      ["(new)", "under_investigation", "no_signal", "40"],
      ["(new)", "not_applicable", "analyst_override", "23"],
    ]);
    const second = await page(`runs/${runs[1]}`);
    expect(bodyRows(element(second, '<table id="run-transitions"')).map((row) => row.cells)).toEqual([
      ["under_investigation", "not_applicable", "analyst_override", "3"],
    ]);
    for (const id of overridden) {
      expect(second).toContain(`<a href="/advisory/?id=${encodeURIComponent(id)}">${id}</a>`);
    }
  });

  it("renders the run's report, its links resolved from the site's root", async () => {
    const report = element(await page(`runs/${runs[2]}`), '<section id="run-report"');
    expect(report).toContain(`<h3>Run report ${runs[2]}</h3>`);
    expect(report).toMatch(/<table>\s*<thead>\s*<tr>\s*<th>Field<\/th>/);
    // What the page shows from the summary is not repeated by the report: its checks and its changes.
    expect(report).not.toMatch(/<h\d>Quality checks<\/h\d>/);
    expect(report).not.toMatch(/<h\d>State transitions<\/h\d>/);
    // The checks' examples link their advisories from the site's root.
    expect(element(await page(`runs/${runs[2]}`), '<table id="run-checks"')).toContain(
      '<a href="/advisory/?id=curl%3ACVE-2023-38545">curl:CVE-2023-38545</a>',
    );
  });

  it("lists the run's checks: id, severity, result, failing count", async () => {
    for (const runId of runs) {
      const rows = bodyRows(element(await page(`runs/${runId}`), '<table id="run-checks"'));
      const summary = summaries.get(runId) as RunSummaryJson;
      expect(rows.map((row) => row.cells.slice(0, 4))).toEqual(
        summary.checks.map((check) => [
          check.check_id,
          check.severity,
          check.passed ? "passed" : "failed",
          String(check.failing_count),
        ]),
      );
    }
    const table = element(await page(`runs/${runs[2]}`), '<table id="run-checks"');
    const rows = bodyRows(table);
    // The example's advisory is a link (text() puts a space where its tag closes).
    expect(rows.find((row) => row.cells[0] === "regressions")?.cells.slice(2)).toEqual([
      "failed",
      "1",
      "curl:CVE-2023-38545 : fixed → under_investigation by no_signal (awaiting_analysis)",
    ]);
    expect(table).toContain(
      '<a href="/advisory/?id=curl%3ACVE-2023-38545">curl:CVE-2023-38545</a>: fixed → under_investigation',
    );
  });

  it("shows the quality history: one row per check, one column per run, newest first, as text", async () => {
    const html = await page("quality");
    const table = element(html, '<table id="quality-history"');
    expect(headerCells(table)).toEqual(["Check", ...runs.toReversed()]);
    const latest = summaries.get(runs[2] as string) as RunSummaryJson;
    const rows = bodyRows(table);
    expect(rows.map((row) => row.cells[0])).toEqual(latest.checks.map((check) => check.check_id));
    for (const row of rows) {
      expect(row.cells.slice(1)).toEqual(
        runs.toReversed().map((runId) => {
          const check = summaries.get(runId)?.checks.find((entry) => entry.check_id === row.cells[0]);
          return check?.passed ? "✓ passed" : `✗ failed: ${check?.failing_count}`;
        }),
      );
    }
    const regressions = element(html, '<section id="regressions"');
    expect(regressions).toContain('<a href="/advisory/?id=curl%3ACVE-2023-38545">curl:CVE-2023-38545</a>');
    const stalled = element(html, '<section id="stalled"');
    const stalledCheck = latest.checks.find((check) => check.check_id === "stalled_advisories");
    expect(stalledCheck?.passed).toBe(false);
    expect((stalled.match(/<li>/g) ?? []).length).toBe(stalledCheck?.examples.length);
    // Open since the first run, 44 days: linked to the advisory's page, the rest as text.
    const [id, ...rest] = (stalledCheck?.examples[0] ?? "").split(" ");
    expect(rest.join(" ")).toBe("under_investigation since 2026-06-01 (44 days)");
    expect(stalled).toContain(
      `<a href="/advisory/?id=${encodeURIComponent(id as string)}">${id}</a> ${rest.join(" ")}`,
    );
  });

  it("shows the state trend on the dashboard: one row per run with that run's counts", async () => {
    const html = await page("");
    const section = element(html, '<section aria-labelledby="trend-heading"');
    expect(section).toContain('<h2 id="trend-heading">State trend</h2>');
    const table = element(section, '<table aria-label="Advisories per state over runs"');
    // Columns: the run, then each state by its label (advisory_states seed), then the total.
    const states = headerCells(table).slice(1, -1);
    expect(states.sort()).toEqual(["fixed", "not applicable", "under investigation"]);
    const rows = bodyRows(table);
    expect(rows.map((row) => runIdOf(row.attributes))).toEqual(runs.toReversed());
    for (const row of rows) {
      const summary = summaries.get(runIdOf(row.attributes) as string) as RunSummaryJson;
      const header = headerCells(table);
      const counts = Object.fromEntries(
        header.slice(1, -1).map((label, index) => [label, row.cells[index + 1]]),
      );
      expect(counts).toEqual(
        Object.fromEntries(
          summary.state_distribution.map((entry) => [entry.state.replaceAll("_", " "), String(entry.count)]),
        ),
      );
      expect(row.cells.at(-1)).toBe(String(summary.advisory_count));
    }
    // The rest of the home page stays: where the advisories stand and the recent changes.
    expect(html).toContain('<table aria-label="Advisories per state"');
    expect(html).toContain('<h2 id="recent-heading">Recent changes</h2>');
  });

  it("renders a hostile input value as text on every page", async () => {
    const escaped = "&lt;img src=x onerror=alert(1)&gt;";
    const runPage = await page(`runs/${runs[1]}`);
    expect(element(runPage, '<table id="run-checks"')).toContain(escaped);
    expect(element(runPage, '<section id="run-report"')).toContain(escaped);
    for (const html of [runPage, await page("quality"), await page(""), await page("operations")]) {
      expect(html).not.toContain("<img");
      expect(html).not.toMatch(/href="javascript:/i);
    }
    // The latest run's failing checks, with their examples, are on the operations page.
    expect(await page("operations")).toContain(escaped);
  });

  it("sends /report/ to the latest run's page", async () => {
    expect(await page("report")).toContain(`url=/runs/${runs[2]}/`);
  });
});

/** Runs known from only some of their files: older outputs kept no per-run summaries. */
describe("runs known from some of their files", () => {
  let directory: string;

  beforeAll(async () => {
    const workspace = await createWorkspace();
    directory = workspace.dir;
    const output = join(directory, "output");
    const history = join(output, "history");
    await mkdir(join(history, "transitions"), { recursive: true });
    // Run 1: its ledger file only. Run 2: its report only (blocked). Run 3: run_summary.json and its report.
    await writeFile(
      join(history, "transitions", "20260101T000000Z.jsonl"),
      `${JSON.stringify({
        run_id: "20260101T000000Z",
        as_of: "2026-01-01T00:00:00.000Z",
        advisory_id: "curl:CVE-2024-0001",
        from_state: null,
        to_state: "fixed",
        state_type: "final",
        rule_id: "vendor_fixed_version",
        reason_code: "fix_available",
        fixed_version: "8.5.0-2",
        unaffected_from_version: null,
        confidence: 0.9,
        deciding_source: "echo_data",
        evidence: null,
        contributing_sources: ["echo_data"],
        dissenting_sources: [],
      })}\n`,
    );
    await writeFile(join(output, "run_report_20260102T000000Z.md"), "# Run report\n\n| Status | blocked |\n");
    await writeFile(join(output, "run_report_20260103T000000Z.md"), "# Run report\n");
    await writeFile(
      join(output, "run_summary.json"),
      JSON.stringify({
        run_id: "20260103T000000Z",
        status: "succeeded",
        as_of: "2026-01-03T00:00:00.000Z",
        advisory_count: 1,
        state_distribution: [],
        transitions: [],
        checks: [],
      }),
    );
    vi.stubEnv("ECHO_OUTPUT_DIR", output);
    vi.resetModules();
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await execa("rm", ["-rf", directory]);
  });

  it("are each listed once, with what their files say", async () => {
    const { loadRuns } = await import("../../site/src/lib/runs.ts");
    const runs = await loadRuns();
    expect(
      runs.map((run) => [
        run.runId,
        run.asOf,
        run.status,
        run.transitionCount,
        run.reportName,
        !!run.summary,
      ]),
    ).toEqual([
      ["20260101T000000Z", "2026-01-01T00:00:00.000Z", "published", 1, undefined, false],
      ["20260102T000000Z", "2026-01-02T00:00:00.000Z", "blocked", 0, "run_report_20260102T000000Z.md", false],
      [
        "20260103T000000Z",
        "2026-01-03T00:00:00.000Z",
        "succeeded",
        0,
        "run_report_20260103T000000Z.md",
        true,
      ],
    ]);
  });
});
