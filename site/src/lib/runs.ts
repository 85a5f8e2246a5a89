// Build-time view of every run the output folder remembers. A run is known from any of three files, each
// of which may be missing: its ledger file (<history>/transitions/<run id>.jsonl; none when it changed
// nothing or was not published), its summary (<history>/runs/<run id>.json; older outputs kept only the
// latest, run_summary.json) and its report (<output>/run_report_<run id>.md). Nothing here decides anything.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { timeOfRunId } from "../../../pipeline/formats/run-id.ts";
import { runReportFileName, runReportFileNamePattern } from "../../../pipeline/formats/run-report.ts";
import { readRunSummaries } from "../../../pipeline/formats/run-summary.ts";
import { historyDir, type LedgerTransition, scanLedger } from "./history.ts";
import { outputDir, type RunSummary, readRunSummary } from "./output.ts";
import { groupListLimit, type TransitionGroup, TransitionGrouper } from "./transition-groups.ts";

export type { LedgerTransition, RunSummary };
export { groupListLimit, type TransitionGroup, TransitionGrouper };

export interface Run {
  runId: string;
  /** ISO time of the run's clock: from its summary or ledger, else read from the run id. */
  asOf: string;
  /** Its summary, when one was kept. */
  summary: RunSummary | undefined;
  /** How many decision changes it recorded; 0 when it has no ledger file. */
  transitionCount: number;
  /** Its recorded decision changes grouped by (from, to, rule), largest group first. */
  groups: TransitionGroup[];
  /** A ledger file exists for it (so it was published and changed something). */
  hasLedger: boolean;
  /** The report's file name in the output folder, when it was kept. */
  reportName: string | undefined;
  /** succeeded / blocked, from the summary, else the report's status row, else "published" when a ledger
   * file exists (only published runs write one); undefined when nothing says. */
  status: string | undefined;
}

const reportNamePattern = runReportFileNamePattern;

export const reportFileOf = runReportFileName;

function reportNames(): string[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir).filter((name) => reportNamePattern.test(name));
}

/** The "| Status | blocked |" row of a report, for runs that kept no summary. */
function reportStatus(name: string): string | undefined {
  const text = readFileSync(join(outputDir, name), "utf8");
  return /^\| Status \| ([a-z_]+) \|$/m.exec(text)?.[1];
}

let runs: Promise<Run[]> | undefined;

/** Every known run, oldest first. Read once per build and shared by the pages. */
export function loadRuns(): Promise<Run[]> {
  runs ??= (async () => {
    const [ledger, summaries] = await Promise.all([scanLedger(), readRunSummaries(historyDir)]);
    const byId = new Map<string, Run>();
    const entry = (runId: string): Run => {
      let run = byId.get(runId);
      if (!run) {
        run = {
          runId,
          asOf: timeOfRunId(runId),
          summary: undefined,
          transitionCount: 0,
          groups: [],
          hasLedger: false,
          reportName: undefined,
          status: undefined,
        };
        byId.set(runId, run);
      }
      return run;
    };
    for (const changes of ledger.runs) {
      const run = entry(changes.runId);
      if (changes.asOf) run.asOf = changes.asOf;
      run.transitionCount = changes.count;
      run.groups = changes.groups;
      run.hasLedger = true;
    }
    for (const file of summaries) entry(file.runId).summary = file.summary;
    // Outputs written before per-run summaries existed still have the latest run's.
    const latest = readRunSummary();
    if (latest && !byId.get(latest.run_id)?.summary) entry(latest.run_id).summary = latest;
    for (const name of reportNames()) {
      const runId = reportNamePattern.exec(name)?.[1] as string;
      entry(runId).reportName = name;
    }
    for (const run of byId.values()) {
      if (run.summary) {
        run.asOf = run.summary.as_of;
        run.status = run.summary.status;
      } else if (run.reportName) {
        run.status = reportStatus(run.reportName) ?? (run.hasLedger ? "published" : undefined);
      } else if (run.hasLedger) {
        run.status = "published";
      }
    }
    return [...byId.values()].sort((a, b) => a.runId.localeCompare(b.runId));
  })();
  return runs;
}

/** Decision changes the run's summary counted (what it would have recorded, when it was blocked). */
export function summaryTransitionCount(run: Run): number | undefined {
  return run.summary?.transitions.reduce((sum, entry) => sum + entry.count, 0);
}

export function readReport(run: Run): string | undefined {
  return run.reportName ? readFileSync(join(outputDir, run.reportName), "utf8") : undefined;
}

/**
 * The report without the sections whose "## " heading is in `omit` (a page that shows those figures from the
 * run's summary leaves them out instead of showing them twice). The report's title and first table stay.
 */
export function reportWithout(markdown: string, omit: readonly string[]): string {
  const parts = markdown.split(/^(?=## )/m);
  return parts
    .filter((part) => {
      const heading = /^## (.+)$/m.exec(part)?.[1]?.trim();
      return heading === undefined || !part.startsWith("## ") || !omit.includes(heading);
    })
    .join("");
}

// Run reports are rendered by report-markdown.ts (no HTML, no images, http(s) or relative links only).
export { renderReport } from "./report-markdown.ts";

/** The advisory id an example of a quality check starts with (as the report links it), and the rest. */
export function splitAdvisoryExample(example: string): { advisoryId: string; rest: string } | undefined {
  const match = /^([a-z0-9][a-z0-9+.-]*:(?:CVE-\d{4}-\d+|TEMP-[0-9A-F-]+))(.*)$/s.exec(example);
  if (!match) return undefined;
  return { advisoryId: match[1] as string, rest: match[2] as string };
}

export function advisoryHref(base: string, advisoryId: string): string {
  return `${base}/advisory/?id=${encodeURIComponent(advisoryId)}`;
}

/** States in the order they first appear, newest summary first (the current distribution leads). */
export function statesOf(summaries: readonly RunSummary[]): string[] {
  const states: string[] = [];
  for (const summary of [...summaries].reverse()) {
    for (const entry of summary.state_distribution)
      if (!states.includes(entry.state)) states.push(entry.state);
  }
  return states;
}

export function stateCount(summary: RunSummary, state: string): number {
  return summary.state_distribution.find((entry) => entry.state === state)?.count ?? 0;
}
