import { join } from "node:path";
import { runIdFileNamePattern } from "./run-id.ts";

/**
 * Each run's report, `run_report_<run id>.md`: Markdown for people (the run's changes, its checks, its
 * sources), published beside the feeds. Its content is not a contract; its name is.
 */
export const runReportFileNamePattern = runIdFileNamePattern("run_report_", ".md");

export function runReportFileName(runId: string): string {
  return `run_report_${runId}.md`;
}

export function runReportPath(outputDir: string, runId: string): string {
  return join(outputDir, runReportFileName(runId));
}
