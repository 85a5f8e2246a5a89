// Build-time access to the pipeline's output files. Pages call these; nothing here decides anything.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runReportFileNamePattern } from "../../../pipeline/formats/run-report.ts";
import {
  parseRunSummary,
  type RunSummaryJson,
  runSummaryFileName,
} from "../../../pipeline/formats/run-summary.ts";

export const outputDir = resolve(process.env.ECHO_OUTPUT_DIR ?? "output");

export type { RuleCount, StateCount } from "../../../pipeline/formats/run-summary.ts";

/** run_summary.json, typed as the report stage writes it. */
export type RunSummary = RunSummaryJson;

export function readRunSummary(): RunSummary | undefined {
  const path = join(outputDir, runSummaryFileName);
  if (!existsSync(path)) return undefined;
  return parseRunSummary(readFileSync(path, "utf8"), path);
}

/** The newest run report's markdown, by file name (run_report_<UTC time>.md sorts by time). */
export function readLatestReport(): { name: string; markdown: string } | undefined {
  if (!existsSync(outputDir)) return undefined;
  const name = readdirSync(outputDir)
    .filter((file) => runReportFileNamePattern.test(file))
    .sort()
    .at(-1);
  return name ? { name, markdown: readFileSync(join(outputDir, name), "utf8") } : undefined;
}
