// Build-time access to the pipeline's output files. Pages call these; nothing here decides anything.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunSummaryJson } from "../../../pipeline/run.ts";

export const outputDir = resolve(process.env.ECHO_OUTPUT_DIR ?? "output");

export type { StateCount } from "../../../pipeline/stages/export/advisory-current.ts";
export type { RuleCount } from "../../../pipeline/stages/report.ts";

/** run_summary.json, typed as the report stage writes it. */
export type RunSummary = RunSummaryJson;

function readJson<T>(name: string): T | undefined {
  const path = join(outputDir, name);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export function readRunSummary(): RunSummary | undefined {
  return readJson<RunSummary>("run_summary.json");
}

/** The newest run report's markdown, by file name (run_report_<UTC time>.md sorts by time). */
export function readLatestReport(): { name: string; markdown: string } | undefined {
  if (!existsSync(outputDir)) return undefined;
  const name = readdirSync(outputDir)
    .filter((file) => /^run_report_\d{8}T\d{6}Z\.md$/.test(file))
    .sort()
    .at(-1);
  return name ? { name, markdown: readFileSync(join(outputDir, name), "utf8") } : undefined;
}
