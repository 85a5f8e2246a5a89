import { runIdOf } from "./formats/run-id.ts";
import { pauseHereForCrashTest } from "./lib/crash-test-pause.ts";
import { type Database, withDatabase } from "./lib/db.ts";
import { errorMessage, PipelineError } from "./lib/errors.ts";
import { log } from "./lib/log.ts";
import type { StageTiming } from "./run-summary.ts";
import type { Config } from "./stages/config.ts";

// The run's row in meta.runs, which the orchestrator (run.ts) owns: started, then finished, failed or, when
// its process was killed, found interrupted by the next run.

/**
 * Records the run in the ledger. The run id is the run's clock, so running again with the same clock is the
 * same run done again: its earlier attempt's records are replaced, not added to. A clock before the latest
 * run would decide against history that already happened after it, and is refused.
 */
export async function startRun(
  db: Database,
  config: Config,
  startedAt: Date,
  asOf: Date,
  latestInLedger: string | undefined,
): Promise<string> {
  const runId = runIdOf(asOf);
  const latest = await db.one<{ run_id: string; as_of: string }>(
    "select run_id, as_of::varchar as as_of from meta.runs where status <> 'dry_run' order by as_of desc limit 1",
  );
  const latestAsOfInDatabase = latest ? runIdOf(new Date(latest.as_of)) : undefined;
  const latestRun = [latestAsOfInDatabase, latestInLedger]
    .filter((id) => id !== undefined)
    .sort()
    .at(-1);
  if (latestRun !== undefined && runId < latestRun) {
    throw new PipelineError(
      `the run's clock ${asOf.toISOString()} is before the latest recorded run ${latestRun}: history only moves forward`,
      {
        location: { file: config.history_dir },
        hint: `run with --as-of ${latestRun} or later, or start a fresh history by moving ${config.database} and ${config.history_dir} aside`,
        exitCode: 2,
      },
    );
  }
  // This run holds the lock, so a run still recorded as running is one whose process was killed. Recorded
  // as interrupted, it reads as what happened (and a kept decision never rests on it).
  const interrupted = await db.all<{ run_id: string }>(
    "select run_id from meta.runs where status = 'running' and run_id <> ? order by run_seq",
    [runId],
  );
  if (interrupted.length > 0) {
    log.warn("earlier runs were killed before they finished; recorded as interrupted", {
      runs: interrupted.map((run) => run.run_id),
    });
    await db.run(
      "update meta.runs set status = 'interrupted', finished_at = now() where status = 'running' and run_id <> ?",
      [runId],
    );
  }
  const existing = await db.one<{ run_seq: number }>("select run_seq from meta.runs where run_id = ?", [
    runId,
  ]);
  if (existing) {
    log.info("re-running a recorded run: its earlier records are replaced", { run_id: runId });
    for (const table of ["source_fetches", "rejected_records", "check_results"]) {
      await db.run(`delete from meta.${table} where run_id = ?`, [runId]);
    }
    await db.run(
      `update meta.runs set started_at = ?::timestamptz, status = 'running', exit_code = null, finished_at = null,
         config_path = ?, stage_timings = null where run_id = ?`,
      [startedAt.toISOString(), config.configPath, runId],
    );
    return runId;
  }
  const next = await db.one<{ seq: number }>(
    "select coalesce(max(run_seq), 0)::integer + 1 as seq from meta.runs",
  );
  await db.run(
    `insert into meta.runs (run_id, run_seq, started_at, as_of, status, config_path)
     values (?, ?, ?::timestamptz, ?::timestamptz, 'running', ?)`,
    [runId, next?.seq ?? 1, startedAt.toISOString(), asOf.toISOString(), config.configPath],
  );
  return runId;
}

export async function recordDbtTimings(
  db: Database,
  runId: string,
  nodes: readonly { uniqueId: string; status: string; executionTimeSeconds: number }[],
) {
  await db.run("delete from meta.dbt_node_timings where run_id = ?", [runId]);
  const appender = await db.connection.createAppender("dbt_node_timings", "meta");
  for (const node of nodes) {
    appender.appendVarchar(runId);
    appender.appendVarchar(node.uniqueId);
    appender.appendVarchar(node.status);
    appender.appendDouble(node.executionTimeSeconds);
    appender.endRow();
  }
  appender.closeSync();
}

export async function finishRun(
  db: Database,
  runId: string,
  status: string,
  exitCode: number,
  timings: StageTiming[],
  summary?: unknown,
) {
  await db.run(
    "update meta.runs set status = ?, exit_code = ?, finished_at = now(), stage_timings = ?, summary = ? where run_id = ?",
    [
      status,
      exitCode,
      JSON.stringify(timings),
      summary === undefined ? null : JSON.stringify(summary),
      runId,
    ],
  );
}

export async function recordFailure(config: Config, runId: string, error: unknown, timings: StageTiming[]) {
  try {
    await withRunDatabase(config, (db) =>
      finishRun(db, runId, "failed", error instanceof PipelineError ? error.exitCode : 1, timings),
    );
  } catch (ledgerError) {
    log.warn("could not record the failed run in the ledger", {
      run_id: runId,
      error: errorMessage(ledgerError),
    });
  }
}

/** The run's database, held to the same memory cap as dbt's connection. */
export function withRunDatabase<T>(config: Config, work: (db: Database) => Promise<T>): Promise<T> {
  return withDatabase(config.database, work, { memoryLimit: config.duckdb.memory_limit });
}

/** Times each stage; the timings are printed, recorded in the ledger and shown in the report. */
export class StageClock {
  readonly timings: StageTiming[] = [];

  async time<T>(stage: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const durationMs = Math.round(performance.now() - started);
      this.timings.push({ stage, durationMs });
      // Memory as the stage ends, for finding what a large run holds on to (timings and outputs leave it out).
      const memory = process.memoryUsage();
      log.info("stage finished", {
        stage,
        duration_ms: durationMs,
        heap_used_mb: Math.round(memory.heapUsed / 1_048_576),
        rss_mb: Math.round(memory.rss / 1_048_576),
      });
      pauseHereForCrashTest(`after:${stage}`);
    }
  }
}
