// Build-time access to the pipeline's output files. Pages call these; nothing here decides anything.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { StateCount } from "../../../pipeline/export.ts";
import type { RuleCount } from "../../../pipeline/report.ts";

export const outputDir = resolve(process.env.ECHO_OUTPUT_DIR ?? "output");

export type { StateCount } from "../../../pipeline/export.ts";
export type { RuleCount } from "../../../pipeline/report.ts";

export interface RunSummary {
  run_id: string;
  status: string;
  as_of: string;
  advisory_count: number;
  // null when the clock was pinned: wall-clock figures are left out of reproducible outputs.
  stage_durations_ms: Record<string, number> | null;
  state_distribution: StateCount[];
  rules: RuleCount[];
  sources: { source: string; status: string; observations: number; rejected: number; error: string | null }[];
  checks: {
    check_id: string;
    severity: string;
    passed: boolean;
    failing_count: number;
    examples: string[];
  }[];
  /** Whether this run replaced the published outputs, and why not when it did not. */
  published: boolean;
  publish_guard: {
    state_changes: number;
    previously_listed: number;
    reasons: string[];
    mass_change_accepted: boolean;
  };
  /** Decision changes of the run: from → to (null: new, or no longer listed). */
  transitions: { from: string | null; to: string | null; count: number }[];
  rejected_total: number;
}

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
