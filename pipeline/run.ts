import { type Config, loadConfig } from "./config.ts";
import {
  advisoryCurrentPath,
  buildAdvisoryDocument,
  readCurrentAdvisories,
  readStateDistribution,
  serialiseAdvisoryDocument,
  serialiseJson,
} from "./export.ts";
import { type IngestedSource, ingestSources } from "./ingest.ts";
import { initDatabase } from "./init.ts";
import { compactUtc } from "./lib/clock.ts";
import { type Database, openDatabase, withDatabase } from "./lib/db.ts";
import { errorMessage, PipelineError } from "./lib/errors.ts";
import { writeFileAtomic } from "./lib/files.ts";
import { log } from "./lib/log.ts";
import { type LoadedSource, loadSources } from "./load.ts";
import { runQualityChecks } from "./quality.ts";
import {
  type RejectedRecordSummary,
  type RuleCount,
  type RunSummary,
  renderRunReport,
  reportPath,
  type SourceRunSummary,
  type StageTiming,
} from "./report.ts";
import { enabledAdapters } from "./sources/registry.ts";
import { runDbtBuild } from "./transform.ts";

export interface RunOptions {
  configPath: string;
  asOf: Date;
  /** Look up final advisories again and ignore checkpoints and conditional requests. */
  revalidate?: boolean;
}

export interface RunOutcome {
  runId: string;
  summary: RunSummary;
  files: { advisoryCurrent: string; report: string; summary: string };
}

/** Times each stage; the timings are printed, recorded in the ledger and shown in the report. */
class StageClock {
  readonly timings: StageTiming[] = [];

  async time<T>(stage: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const durationMs = Math.round(performance.now() - started);
      this.timings.push({ stage, durationMs });
      log.info("stage finished", { stage, duration_ms: durationMs });
    }
  }
}

export async function runPipeline(options: RunOptions): Promise<RunOutcome> {
  const startedAt = new Date();
  const stages = new StageClock();
  const config = await stages.time("config", () => loadConfig(options.configPath));
  const adapters = enabledAdapters(config);

  const { db, runId } = await stages.time("init", async () => {
    const opened = await openDatabase(config.database);
    try {
      await initDatabase(opened);
      const id = await startRun(opened, config, startedAt, options.asOf);
      return { db: opened, runId: id };
    } catch (error) {
      opened.close();
      throw error;
    }
  });
  log.info("run started", { run_id: runId, as_of: options.asOf.toISOString(), config: config.configPath });

  try {
    const ingested = await stages.time("ingest", () =>
      ingestSources(db, adapters, { asOf: options.asOf, revalidate: options.revalidate ?? false }),
    );
    const loaded = await stages.time("load", async () => {
      try {
        return await loadSources(db, runId, ingested);
      } finally {
        // dbt opens the same database file next; DuckDB allows one writing process at a time.
        db.close();
      }
    });
    const transform = await stages.time("transform", () => runDbtBuild(config, runId, options.asOf));

    return await withDatabase(config.database, async (reopened) => {
      await ensurePrimarySourceUsable(reopened);
      const files = {
        advisoryCurrent: advisoryCurrentPath(config.output_dir),
        report: reportPath(config.output_dir, options.asOf),
        summary: `${config.output_dir}/run_summary.json`,
      };
      const { advisories, distribution } = await stages.time("export", async () => {
        const current = await readCurrentAdvisories(reopened);
        const document = buildAdvisoryDocument(current, options.asOf);
        await writeFileAtomic(files.advisoryCurrent, serialiseAdvisoryDocument(document));
        return { advisories: current, distribution: await readStateDistribution(reopened) };
      });
      const checks = await stages.time("quality", () =>
        runQualityChecks(reopened, runId, config.report.list_limit),
      );
      const summary = await stages.time("report", async () => {
        const rules = await reopened.all<RuleCount>(
          "select priority, rule_id, state, reason_code, advisory_count::integer as advisory_count from marts.mart_rule_catalogue order by priority",
        );
        const rejected = await reopened.all<RejectedRecordSummary>(
          "select source, file, line, key, reason from meta.rejected_records where run_id = ? order by source, line, key limit ?",
          [runId, config.report.list_limit],
        );
        const rejectedTotal = ingested.reduce((sum, source) => sum + source.rejections.length, 0);
        const countNodes = (prefix: string) =>
          transform.nodes.filter((node) => node.uniqueId.startsWith(prefix)).length;
        const built: RunSummary = {
          runId,
          startedAt,
          asOf: options.asOf,
          configPath: config.configPath,
          status: "succeeded",
          advisoryCount: advisories.length,
          stages: stages.timings,
          stateDistribution: distribution,
          rules,
          sources: await summariseSources(reopened, config, ingested, loaded, options.asOf),
          rejected,
          rejectedTotal,
          checks,
          dbt: {
            elapsedSeconds: transform.elapsedSeconds,
            models: countNodes("model."),
            seeds: countNodes("seed."),
            tests: countNodes("test."),
            unitTests: countNodes("unit_test."),
            warnings: transform.warnings.length,
          },
        };
        await writeFileAtomic(files.report, renderRunReport(built));
        await writeFileAtomic(files.summary, serialiseJson(toSummaryJson(built)));
        return built;
      });
      await finishRun(reopened, runId, "succeeded", 0, stages.timings);
      return { runId, summary, files };
    });
  } catch (error) {
    await recordFailure(config, runId, error, stages.timings);
    throw error;
  }
}

/** Per-source health for the report: how the fetch went, and how old the data in use is. */
async function summariseSources(
  db: Database,
  config: Config,
  ingested: readonly IngestedSource[],
  loaded: readonly LoadedSource[],
  asOf: Date,
): Promise<SourceRunSummary[]> {
  const selected = await db.all<{ source: string; is_stale: boolean; snapshot_fetched_at: string }>(
    "select source, is_stale, snapshot_fetched_at::varchar as snapshot_fetched_at from intermediate.int_source_snapshots_selected",
  );
  const bySource = new Map(selected.map((row) => [row.source, row]));
  return ingested.map((source, index) => {
    const name = source.adapter.name;
    const inUse = bySource.get(name);
    const lastGoodFetchAt = inUse ? new Date(inUse.snapshot_fetched_at).toISOString() : null;
    const maxAgeHours = (config.sources as Record<string, { max_age_hours?: number } | undefined>)[name]
      ?.max_age_hours;
    const tooOld =
      lastGoodFetchAt !== null &&
      maxAgeHours !== undefined &&
      asOf.getTime() - new Date(lastGoodFetchAt).getTime() > maxAgeHours * 3_600_000;
    const stale = source.health.status === "failed" ? lastGoodFetchAt !== null : tooOld;
    return {
      source: name,
      health: source.health,
      status: stale ? "stale" : source.health.status,
      snapshotHash: loaded[index]?.snapshotHash ?? null,
      newSnapshot: loaded[index]?.newSnapshot ?? false,
      newObservations: loaded[index]?.newObservations ?? 0,
      unchanged: source.unchanged,
      lastGoodFetchAt,
    };
  });
}

async function startRun(db: Database, config: Config, startedAt: Date, asOf: Date): Promise<string> {
  const next = await db.one<{ seq: number }>(
    "select coalesce(max(run_seq), 0)::integer + 1 as seq from meta.runs",
  );
  const runSeq = next?.seq ?? 1;
  // Sortable, readable, and unique within the ledger even when the clock is pinned.
  const runId = `${compactUtc(asOf)}-${String(runSeq).padStart(4, "0")}`;
  await db.run(
    `insert into meta.runs (run_id, run_seq, started_at, as_of, status, config_path)
     values (?, ?, ?::timestamptz, ?::timestamptz, 'running', ?)`,
    [runId, runSeq, startedAt.toISOString(), asOf.toISOString(), config.configPath],
  );
  return runId;
}

async function finishRun(
  db: Database,
  runId: string,
  status: string,
  exitCode: number,
  timings: StageTiming[],
) {
  await db.run(
    "update meta.runs set status = ?, exit_code = ?, finished_at = now(), stage_timings = ? where run_id = ?",
    [status, exitCode, JSON.stringify(timings), runId],
  );
}

async function recordFailure(config: Config, runId: string, error: unknown, timings: StageTiming[]) {
  try {
    await withDatabase(config.database, (db) =>
      finishRun(db, runId, "failed", error instanceof PipelineError ? error.exitCode : 1, timings),
    );
  } catch (ledgerError) {
    log.warn("could not record the failed run in the ledger", {
      run_id: runId,
      error: errorMessage(ledgerError),
    });
  }
}

/** Without any good data.json the mart is empty; publishing it would erase every advisory. */
async function ensurePrimarySourceUsable(db: Database): Promise<void> {
  const selected = await db.one(
    "select 1 as usable from intermediate.int_source_snapshots_selected where source = 'echo_data'",
  );
  if (!selected) {
    throw new PipelineError(
      "no usable data.json: the echo_data source failed and no earlier run loaded it; the published outputs were left as they were",
      { hint: "fix the echo_data location or file named in the error above and run again" },
    );
  }
}

function toSummaryJson(summary: RunSummary) {
  return {
    run_id: summary.runId,
    status: summary.status,
    as_of: summary.asOf.toISOString(),
    started_at: summary.startedAt.toISOString(),
    advisory_count: summary.advisoryCount,
    stage_durations_ms: Object.fromEntries(summary.stages.map((stage) => [stage.stage, stage.durationMs])),
    state_distribution: summary.stateDistribution,
    rules: summary.rules,
    sources: summary.sources.map((source) => ({
      source: source.source,
      status: source.status,
      last_good_fetch_at: source.lastGoodFetchAt,
      requests: source.health.requests,
      retries: source.health.retries,
      observations: source.health.observations,
      rejected: source.health.rejected,
      bytes: source.health.bytes,
      duration_ms: source.health.durationMs,
      error: source.health.error ?? null,
      snapshot_hash: source.snapshotHash,
      new_snapshot: source.newSnapshot,
    })),
    checks: summary.checks.map((check) => ({
      check_id: check.checkId,
      severity: check.severity,
      passed: check.passed,
      failing_count: check.failingCount,
    })),
    rejected_total: summary.rejectedTotal,
  };
}
