import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { PipelineError } from "../lib/errors.ts";
import { parseOwnJsonFile } from "../lib/json-file.ts";
import { listRunFiles } from "./run-files.ts";
import { runIdSchema } from "./run-id.ts";

/**
 * Per-run summaries: every run that is not a dry run (published or blocked) keeps a copy of its
 * run_summary.json as `runs/<run id>.json`, so the site can show every run and not only the latest. A re-run of
 * the same run (same clock) replaces its file; no other run touches it.
 */
export const runSummariesDirName = "runs";

const count = z.number().int().min(0);
const isoTime = z.iso.datetime({ offset: true });

/** A figure a pinned clock leaves out (null): it would differ between two runs of the same inputs. */
const wallClock = <T extends z.ZodType>(schema: T) => schema.nullable();

export const runStatuses = ["succeeded", "blocked", "dry_run"] as const;
export const sourceSummaryStatuses = ["ok", "degraded", "failed", "skipped", "stale"] as const;
export const checkSeverities = ["error", "warn"] as const;

export const stateCountSchema = z
  .object({ state: z.string().min(1), state_type: z.enum(["final", "non_final"]), count })
  .strict();
export type StateCount = z.infer<typeof stateCountSchema>;

export const transitionCountSchema = z
  .object({ from: z.string().nullable(), to: z.string().nullable(), count })
  .strict()
  .describe("How many advisories moved from one state to another (null: newly listed, or no longer listed).");
export type TransitionCount = z.infer<typeof transitionCountSchema>;

export const ruleCountSchema = z
  .object({
    priority: z.number().int(),
    rule_id: z.string().min(1),
    state: z.string().min(1),
    reason_code: z.string().min(1),
    advisory_count: count,
  })
  .strict();
export type RuleCount = z.infer<typeof ruleCountSchema>;

export const sourceSummarySchema = z
  .object({
    source: z.string().min(1),
    status: z.enum(sourceSummaryStatuses),
    last_good_fetch_at: isoTime.nullable(),
    data_age_hours: z.number().nullable(),
    max_age_hours: z.number().nullable(),
    requests: count,
    retries: count,
    observations: count,
    rejected: count,
    bytes: count,
    duration_ms: wallClock(z.number().min(0)),
    error: z.string().nullable(),
    snapshot_hash: z.string().nullable(),
    new_snapshot: z.boolean(),
  })
  .strict();
export type SourceSummary = z.infer<typeof sourceSummarySchema>;

export const checkSummarySchema = z
  .object({
    check_id: z.string().min(1),
    severity: z.enum(checkSeverities),
    passed: z.boolean(),
    failing_count: count,
    examples: z.array(z.string()),
  })
  .strict();
export type CheckSummary = z.infer<typeof checkSummarySchema>;

/** run_summary.json, and each run's copy in <history>/runs/<run id>.json. */
export const runSummarySchema = z
  .object({
    run_id: runIdSchema,
    status: z.enum(runStatuses),
    exit_code: z.number().int(),
    published: z.boolean(),
    publish_guard: z
      .object({
        state_changes: count,
        previously_listed: count,
        mass_change_accepted: z.boolean(),
        reasons: z.array(z.string()),
      })
      .strict(),
    as_of: isoTime,
    clock_pinned: z.boolean(),
    started_at: wallClock(isoTime),
    finished_at: wallClock(isoTime),
    advisory_count: count,
    stage_durations_ms: wallClock(z.record(z.string(), z.number().min(0))),
    state_distribution: z.array(stateCountSchema),
    transitions: z.array(transitionCountSchema),
    rules: z.array(ruleCountSchema),
    sources: z.array(sourceSummarySchema),
    checks: z.array(checkSummarySchema),
    rejected_total: count,
    dbt: z
      .object({
        models: wallClock(count),
        tests: wallClock(count),
        warnings: wallClock(count),
        reused_decisions_of: wallClock(runIdSchema),
        elapsed_seconds: wallClock(z.number().min(0)),
        model_timings: wallClock(z.array(z.object({ model: z.string(), seconds: z.number() }).strict())),
      })
      .strict()
      .describe("How dbt ran; all null when the clock was pinned (it depends on the database, a cache)."),
  })
  .strict();
export type RunSummaryJson = z.infer<typeof runSummarySchema>;

export const runSummaryFileName = "run_summary.json";

export interface RunSummaryFile {
  runId: string;
  path: string;
  summary: RunSummaryJson;
}

export function runSummaryPath(historyDir: string, runId: string): string {
  return join(historyDir, runSummariesDirName, `${runId}.json`);
}

/**
 * Reads every per-run summary, oldest run first. A file that is not a run summary stops the reader with its
 * name (and the key at fault): a page built from half-read history would misstate what happened.
 */
export async function readRunSummaries(historyDir: string): Promise<RunSummaryFile[]> {
  const files: RunSummaryFile[] = [];
  const listed = await listRunFiles(join(historyDir, runSummariesDirName), ".json", {
    directory: "run summaries directory",
    files: "run summaries",
  });
  for (const { runId, path } of listed) {
    files.push({ runId, path, summary: parseRunSummaryText(await readFile(path, "utf8"), path, runId) });
  }
  return files;
}

/**
 * What a reader requires of a run summary file: the fields every reader relies on. The history keeps the
 * summaries of every run, written by older versions too, which lack fields added since (dbt's
 * reused_decisions_of, model_timings); they stay readable. What a run writes is checked against the whole
 * runSummarySchema in the tests.
 */
const readableRunSummary = z.looseObject({
  run_id: runIdSchema,
  status: z.string().min(1),
  as_of: isoTime,
  advisory_count: count,
  state_distribution: z.array(z.looseObject({ state: z.string(), state_type: z.string(), count })),
  transitions: z.array(z.looseObject({ from: z.string().nullable(), to: z.string().nullable(), count })),
  checks: z.array(
    z.looseObject({
      check_id: z.string(),
      severity: z.string(),
      passed: z.boolean(),
      failing_count: count,
      examples: z.array(z.string()),
    }),
  ),
});

/** A run summary file's content; a damaged one stops the reader, naming the file and the key at fault. */
export function parseRunSummary(text: string, path: string): RunSummaryJson {
  // Typed as written today; a field added since an older file was written may be missing from it.
  return parseOwnJsonFile(text, path, readableRunSummary, "not a run summary") as unknown as RunSummaryJson;
}

/** The same, for a run's own copy in the history, which must be that run's. */
export function parseRunSummaryText(text: string, path: string, runId: string): RunSummaryJson {
  const summary = parseRunSummary(text, path);
  if (summary.run_id !== runId) {
    throw new PipelineError(`run_id ${summary.run_id} does not match the file's run ${runId}`, {
      location: { file: path, key: "run_id" },
      exitCode: 2,
    });
  }
  return summary;
}
