#!/usr/bin/env node
// `npm run demo`: the pipeline's lifecycle in four runs, in a fresh workspace with generated mock data.
//
//   run 1  the initial load: the baseline
//   run 2  the analysts add an override to the CSV, overriding an upstream fix
//   run 3  Debian publishes a fix for a pending CVE
//   run 4  the override row is removed and the advisory is re-decided
//
// Each run is the real pipeline: runPipeline, in this process, with the options `npm run pipeline --
// --config <workspace>/config.yaml --as-of …` gives it (clocks a day apart). Everything printed is read back
// from what the runs wrote: run_summary.json, the history files, advisory_current.json and, at the end,
// `history --advisory` on the workspace's database. Nothing is decided here.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execa } from "execa";
import type { PublishedAdvisory } from "../../pipeline/formats/advisory.ts";
import type { AdvisoryDocument } from "../../pipeline/formats/advisory-current.ts";
import { ledgerPath, parseLedgerText } from "../../pipeline/formats/ledger.ts";
import type { LedgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import { runIdOf } from "../../pipeline/formats/run-id.ts";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import type { PipelineError as PipelineErrorType } from "../../pipeline/lib/errors.ts";
import { changeLabel, table, wrap } from "../../pipeline/lib/text-layout.ts";
import type { RunOutcome } from "../../pipeline/run.ts";
import { advisoryIdOf, type DemoStep, demoFiles, demoSubjects } from "./demo-data.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Marks a folder as a demo workspace, which a later demo may empty and reuse. */
const markerFile = ".echo-advisory-demo";

const usage = `Usage: npm run demo -- [options]

Runs the pipeline four times in a fresh workspace, on mock data it generates in the real formats, and
prints after each run the state distribution, the decision changes with their rules and reasons, and the
advisories that changed (before → after); at the end, the history of the advisories involved, the timings
and where the built site is.

Options:
  --out <dir>    put the workspace here (created; a previous demo workspace there is replaced)
  --keep <dir>   the same as --out
  --no-site      do not build the site
  -h, --help     show this help

Without --out the workspace is a new folder under ${tmpdir()}, printed at the start and kept.
`;

interface Scenario {
  title: string;
  purpose: string;
  step: DemoStep;
}

const overriddenId = advisoryIdOf(demoSubjects.overridden);
const pendingId = advisoryIdOf(demoSubjects.pending);

const scenario: readonly Scenario[] = [
  {
    title: "Initial load (the baseline)",
    purpose:
      "The vendor's data.json, the not-applicable CSV, the Debian tracker and NVD records are loaded for the first time.",
    step: { overrideRow: false, pendingFixed: false },
  },
  {
    title: "An analyst override added to the CSV",
    purpose: `The research team marks ${overriddenId} not applicable, although Debian has a fix for it.`,
    step: { overrideRow: true, pendingFixed: false },
  },
  {
    title: "An upstream fix published",
    purpose: `The Debian tracker now lists ${pendingId}, pending until now, as resolved with a version.`,
    step: { overrideRow: true, pendingFixed: true },
  },
  {
    title: "The override removed",
    purpose: `The research team withdraws its row for ${overriddenId}; the advisory is decided again.`,
    step: { overrideRow: false, pendingFixed: true },
  },
];

/** The runs' clocks: one day apart, so the demo prints the same decisions every time. */
const clockOf = (index: number) => new Date(Date.UTC(2026, 2, 1 + index, 6, 0, 0));

interface RunTiming {
  label: string;
  wallMs: number;
  transformMs: number | null;
}

async function main(): Promise<number> {
  let values: { out?: string; keep?: string; "no-site"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: "string" },
        keep: { type: "string" },
        "no-site": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.out !== undefined && values.keep !== undefined && resolve(values.out) !== resolve(values.keep)) {
    process.stderr.write("--out and --keep name the same thing: give one of them\n");
    return 2;
  }
  const started = performance.now();
  // The runs happen in this process (a process per run cost about 1.5 s more each, on Node's start-up and
  // module loading): the pipeline's own log is kept to errors, as the demo prints what the runs decided.
  process.env.ECHO_LOG_LEVEL ??= "quiet";
  const { runPipeline } = await import("../../pipeline/run.ts");
  const { runInspectCommand } = await import("../../pipeline/inspect.ts");
  const { PipelineError } = await import("../../pipeline/lib/errors.ts");
  const describeError = (error: unknown) =>
    error instanceof PipelineError ? (error as PipelineErrorType).describe() : errorText(error);
  const requested = values.out ?? values.keep;
  const workspace =
    requested === undefined ? await mkdtemp(join(tmpdir(), "echo-advisory-demo-")) : resolve(requested);
  if (requested !== undefined) {
    const problem = await prepareWorkspace(workspace);
    if (problem) {
      process.stderr.write(`${problem}\n`);
      return 2;
    }
  }
  await writeFile(
    join(workspace, markerFile),
    "A workspace of `npm run demo`; the next demo into this folder replaces it.\n",
  );

  const inputDir = join(workspace, "input");
  const outputDir = join(workspace, "output");
  const configPath = join(workspace, "config.yaml");
  await writeFile(configPath, demoConfig());

  out(`echo-advisory demo: four pipeline runs on generated mock data`);
  out(`Workspace: ${workspace}`);
  out(
    `Config:    ${configPath} (inputs in ${relative(workspace, inputDir)}/, outputs in ${relative(workspace, outputDir)}/)`,
  );
  out(`Watching:  ${overriddenId} (Debian has a fix) and ${pendingId} (Debian: open)`);

  const timings: RunTiming[] = [];
  const changedAfterBaseline = new Set<string>();
  let before: AdvisoryDocument | null = null;
  let previousSummary: RunSummaryJson | null = null;

  // One dbt process serves the four runs: a new `dbt` per run spent about 7 s of each run importing dbt and
  // parsing the project.
  const { DbtSession } = await import("../../pipeline/lib/dbt-session.ts");
  const dbtSession = new DbtSession(
    join(repoRoot, "dbt_project/.venv/bin/dbt"),
    join(repoRoot, "dbt_project"),
  );
  try {
    for (const [index, run] of scenario.entries()) {
      const asOf = clockOf(index);
      const runId = runIdOf(asOf);
      await writeInputs(inputDir, run.step);
      heading(`Run ${index + 1} of ${scenario.length}: ${run.title}`);
      out(`${run.purpose}`);
      out(
        `Same as: npm run pipeline -- --config ${configPath} --as-of ${asOf.toISOString().replace(".000Z", "Z")}`,
      );

      const runStarted = performance.now();
      let outcome: RunOutcome;
      try {
        outcome = await runPipeline({ configPath, asOf, clockPinned: true, dbtSession });
      } catch (error) {
        process.stderr.write(
          `\nRun ${index + 1} failed: ${describeError(error)}\nThe workspace is ${workspace}\n`,
        );
        return 1;
      }
      const wallMs = performance.now() - runStarted;
      if (outcome.exitCode !== 0) {
        process.stderr.write(
          `\nRun ${index + 1} was not published (exit code ${outcome.exitCode}): ${outcome.summary.publish.reasons.join("; ")}\n`,
        );
        return 1;
      }
      const transformMs =
        outcome.summary.stages.find((stage) => stage.stage === "transform")?.durationMs ?? null;
      timings.push({ label: `run ${index + 1}`, wallMs, transformMs });

      const summary = JSON.parse(
        await readFile(join(outputDir, "run_summary.json"), "utf8"),
      ) as RunSummaryJson;
      const after = JSON.parse(
        await readFile(join(outputDir, "advisory_current.json"), "utf8"),
      ) as AdvisoryDocument;
      const transitions = await readTransitions(join(outputDir, "history"), runId);
      out(
        `Run ${summary.run_id}: ${summary.status}, ${summary.advisory_count} advisories, ${transitions.length} decision change${transitions.length === 1 ? "" : "s"} (${seconds(wallMs)}, dbt build ${transformMs === null ? "?" : seconds(transformMs)})`,
      );

      printChecks(summary);
      printDistribution(summary, previousSummary);
      printTransitions(transitions);
      if (before === null) printWatched(after);
      else printBeforeAfter(before, after, transitions);
      if (index > 0) for (const transition of transitions) changedAfterBaseline.add(transition.advisory_id);
      before = after;
      previousSummary = summary;
    }
  } finally {
    await dbtSession.close();
  }

  // The history, as the CLI shows it from the database the runs left behind.
  const involved = [...new Set([overriddenId, pendingId, ...[...changedAfterBaseline].sort()])];
  heading(`History of the ${involved.length} advisories involved`);
  out(`Same as: npm run pipeline -- history --config ${configPath} --advisory <id>`);
  const historyStarted = performance.now();
  for (const id of involved) {
    out("");
    try {
      await runInspectCommand("history", ["--config", configPath, "--advisory", id]);
    } catch (error) {
      process.stderr.write(`history --advisory ${id} failed: ${describeError(error)}\n`);
      return 1;
    }
  }
  timings.push({ label: "history", wallMs: performance.now() - historyStarted, transformMs: null });

  let siteDir: string | null = null;
  if (!values["no-site"]) {
    heading("Site");
    siteDir = join(workspace, "site");
    out(`$ ECHO_OUTPUT_DIR=${outputDir} ECHO_SITE_OUT_DIR=${siteDir} npm run site:build`);
    const siteStarted = performance.now();
    const site = await execa(process.execPath, [join(repoRoot, "site/build.ts")], {
      reject: false,
      all: true,
      // Astro's launcher runs `node` from PATH: the project's Node 24 first, as under npm run.
      env: {
        PATH: [dirname(process.execPath), process.env.PATH].filter(Boolean).join(delimiter),
        ECHO_OUTPUT_DIR: outputDir,
        ECHO_SITE_OUT_DIR: siteDir,
      },
    });
    const siteMs = performance.now() - siteStarted;
    timings.push({ label: "site build", wallMs: siteMs, transformMs: null });
    if (site.exitCode !== 0) {
      process.stderr.write(
        `${lastLines(String(site.all), 40)}\nThe site build failed (exit code ${site.exitCode})\n`,
      );
      return 1;
    }
    out(`Built in ${seconds(siteMs)}: ${siteDir}`);
  }

  heading("Timings");
  const totalMs = performance.now() - started;
  out(
    table(
      ["STEP", "WALL", "DBT BUILD", "OTHER"],
      timings.map((timing) => [
        timing.label,
        seconds(timing.wallMs),
        timing.transformMs === null ? "" : seconds(timing.transformMs),
        timing.transformMs === null ? "" : seconds(timing.wallMs - timing.transformMs),
      ]),
      [false, true, true, true],
    ),
  );
  out(`  Total wall time: ${seconds(totalMs)}`);

  heading("Done");
  out(`Workspace: ${workspace}`);
  out(
    `Outputs:   ${outputDir} (advisory_current.json, cve_facts.json, data.json, openvex.json, history/, run reports)`,
  );
  out(`Explain:   npm run pipeline -- explain --config ${configPath} ${overriddenId}`);
  if (siteDir) {
    out(`Site:      ${siteDir}`);
    out(
      `Open it:   python3 -m http.server 4321 --bind 127.0.0.1 --directory ${siteDir}   then http://127.0.0.1:4321/`,
    );
  }
  return 0;
}

/** An empty or missing folder is used as it is; an earlier demo's workspace is emptied; anything else is refused. */
async function prepareWorkspace(dir: string): Promise<string | null> {
  if (!existsSync(dir)) {
    await mkdir(dir, { recursive: true });
    return null;
  }
  const entries = await readdir(dir);
  if (entries.length === 0) return null;
  if (!entries.includes(markerFile)) {
    return `${dir} is not empty and is not a demo workspace (no ${markerFile}): give an empty or new folder`;
  }
  for (const entry of entries) await rm(join(dir, entry), { recursive: true, force: true });
  return null;
}

/** The workspace's own configuration: its inputs in file mode, its database, output and dbt state. */
function demoConfig(): string {
  const quoted = (value: string) => JSON.stringify(value);
  return `# Written by npm run demo. Paths are relative to this file, except dbt's (the repository's project).
database: state/echo-advisory.duckdb
output_dir: output
dbt:
  project_dir: ${quoted(join(repoRoot, "dbt_project"))}
  executable: ${quoted(join(repoRoot, "dbt_project/.venv/bin/dbt"))}
  threads: 2
sources:
  echo_data:
    location: input/data.json
  echo_csv:
    location: input/advisory_not_applicable.csv
  debian_tracker:
    enabled: true
    mode: file
    location: input/debian_tracker.json
  nvd:
    enabled: true
    mode: file
    location: input/nvd
http:
  cache_dir: state/http-cache
`;
}

async function writeInputs(inputDir: string, step: DemoStep): Promise<void> {
  const files = demoFiles(step);
  const nvdDir = join(inputDir, "nvd");
  await mkdir(nvdDir, { recursive: true });
  for (const name of ["data.json", "advisory_not_applicable.csv", "debian_tracker.json"] as const) {
    await writeFile(join(inputDir, name), files[name]);
  }
  for (const [name, text] of Object.entries(files.nvd)) await writeFile(join(nvdDir, name), text);
}

async function readTransitions(historyDir: string, runId: string): Promise<LedgerTransition[]> {
  const path = ledgerPath(historyDir, runId);
  // A run that changed no decision writes no history file.
  if (!existsSync(path)) return [];
  return parseLedgerText(await readFile(path, "utf8"), path, runId);
}

// ---------------------------------------------------------------------------------------------- printing

/** The quality checks in one line, and each failing one (a warning does not stop publication) on its own. */
function printChecks(summary: RunSummaryJson) {
  const failing = summary.checks.filter((check) => !check.passed);
  out(`Quality checks: ${summary.checks.length - failing.length} of ${summary.checks.length} passed`);
  for (const check of failing) {
    const examples = check.examples.length > 0 ? `: ${check.examples.slice(0, 3).join("; ")}` : "";
    out(`  ${check.severity} ${check.check_id} (${check.failing_count})${examples}`);
  }
}

function printDistribution(summary: RunSummaryJson, previous: RunSummaryJson | null) {
  out("");
  out("State distribution");
  const before = new Map((previous?.state_distribution ?? []).map((entry) => [entry.state, entry.count]));
  const states = [
    ...summary.state_distribution,
    ...[...before.keys()]
      .filter((state) => !summary.state_distribution.some((entry) => entry.state === state))
      .map((state) => ({ state, state_type: "", count: 0 })),
  ];
  out(
    table(
      ["STATE", "TYPE", "COUNT", ...(previous ? ["CHANGE"] : [])],
      states.map((entry) => {
        const delta = entry.count - (before.get(entry.state) ?? 0);
        return [
          entry.state,
          entry.state_type,
          String(entry.count),
          ...(previous ? [delta === 0 ? "" : delta > 0 ? `+${delta}` : String(delta)] : []),
        ];
      }),
      [false, false, true, true],
    ),
  );
}

/** One line per advisory when few changed; grouped by change, rule and reason when many did (the baseline). */
function printTransitions(transitions: readonly LedgerTransition[]) {
  out("");
  if (transitions.length === 0) {
    out("Decision changes: none");
    return;
  }
  if (transitions.length > 12) {
    out(`Decision changes: ${transitions.length}, grouped by change, rule and reason code`);
    const groups = new Map<string, { change: string; rule: string; reason: string; ids: string[] }>();
    for (const transition of transitions) {
      const change = changeLabel(transition.from_state, transition.to_state);
      const rule = transition.rule_id ?? "-";
      const reason = transition.reason_code ?? "-";
      const key = `${change}\u0000${rule}\u0000${reason}`;
      const group = groups.get(key) ?? { change, rule, reason, ids: [] };
      group.ids.push(transition.advisory_id);
      groups.set(key, group);
    }
    const sorted = [...groups.values()].sort(
      (a, b) => b.ids.length - a.ids.length || a.rule.localeCompare(b.rule),
    );
    out(
      table(
        ["CHANGE", "RULE", "REASON CODE", "COUNT", "FOR EXAMPLE"],
        sorted.map((group) => [
          group.change,
          group.rule,
          group.reason,
          String(group.ids.length),
          group.ids.slice(0, 2).join(", ") + (group.ids.length > 2 ? ", …" : ""),
        ]),
        [false, false, false, true, false],
      ),
    );
    return;
  }
  out(`Decision changes: ${transitions.length}`);
  out(
    table(
      ["ADVISORY", "CHANGE", "RULE", "REASON CODE", "SOURCE"],
      transitions.map((transition) => [
        transition.advisory_id,
        changeLabel(transition.from_state, transition.to_state),
        transition.rule_id ?? "-",
        transition.reason_code ?? "-",
        transition.deciding_source ?? "-",
      ]),
    ),
  );
}

/** The baseline has no "before": it shows where the two watched advisories start. */
function printWatched(after: AdvisoryDocument) {
  out("");
  out("The advisories to watch, as decided now");
  const rows = [overriddenId, pendingId].map((id) =>
    after.advisories.find((advisory) => advisory.advisory_id === id),
  );
  printAdvisoryRows(
    ["ADVISORY", "STATE", "FIXED VERSION", "RULE"],
    rows
      .filter((advisory): advisory is PublishedAdvisory => advisory !== undefined)
      .map((advisory) => ({
        cells: [advisory.advisory_id, advisory.state, advisory.fixed_version ?? "-", advisory.rule_id],
        explanation: advisory.explanation,
      })),
  );
}

function printBeforeAfter(
  before: AdvisoryDocument,
  after: AdvisoryDocument,
  transitions: readonly LedgerTransition[],
) {
  if (transitions.length === 0) return;
  out("");
  out("Changed advisories, before → after");
  const find = (document: AdvisoryDocument, id: string) =>
    document.advisories.find((advisory) => advisory.advisory_id === id);
  printAdvisoryRows(
    ["ADVISORY", "STATE BEFORE → AFTER", "FIXED VERSION BEFORE → AFTER"],
    transitions.map((transition) => {
      const old = find(before, transition.advisory_id);
      const now = find(after, transition.advisory_id);
      return {
        cells: [
          transition.advisory_id,
          `${old?.state ?? "(not listed)"} → ${now?.state ?? "(not listed)"}`,
          `${old ? (old.fixed_version ?? "-") : "(not listed)"} → ${now ? (now.fixed_version ?? "-") : "(not listed)"}`,
        ],
        explanation: now?.explanation ?? "(no longer listed in data.json)",
      };
    }),
  );
}

/** A table whose every row is followed by its explanation, wrapped and indented under it. */
function printAdvisoryRows(headers: string[], rows: { cells: string[]; explanation: string }[]) {
  const lines = table(
    headers,
    rows.map((row) => row.cells),
  );
  out(lines[0] ?? "");
  rows.forEach((row, index) => {
    out(lines[index + 1] ?? "");
    for (const line of wrap(row.explanation, 96)) out(`      ${line}`);
  });
}

function heading(title: string) {
  out("");
  out(title);
  out("=".repeat(title.length));
}

/** Prints a line, or each line of a table. */
function out(text: string | string[]) {
  for (const line of typeof text === "string" ? [text] : text) process.stdout.write(`${line}\n`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
