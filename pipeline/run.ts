import { createHash } from "node:crypto";
import {
  findReusableDecisions,
  ledgerListing,
  type PublishedState,
  publishedFileDigest,
  type ReuseVerdict,
  readDecisionInputs,
  recordDecisionInputs,
  recordPublishedState,
} from "./history/decision-inputs.ts";
import {
  countRunTransitions,
  latestLedgerRun,
  readLedgerToRestore,
  restoreLedger,
  runLedgerFile,
  runSummaryPath,
  streamRunTransitions,
} from "./history/ledger.ts";
import { readPublishedEvidence, restorePublishedEvidence } from "./history/published-evidence.ts";
import { compactUtc } from "./lib/clock.ts";
import { pauseHereForCrashTest } from "./lib/crash-test-pause.ts";
import { type Database, openDatabase, withDatabase } from "./lib/db.ts";
import type { DbtSession } from "./lib/dbt-session.ts";
import { errorMessage, PipelineError } from "./lib/errors.ts";
import { completeInterruptedPublish, StagedRelease } from "./lib/files.ts";
import { hashedChunks } from "./lib/hash.ts";
import { log } from "./lib/log.ts";
import { acquireRunLock } from "./lib/run-lock.ts";
import { enabledAdapters } from "./sources/registry.ts";
import { type Config, loadConfig } from "./stages/config.ts";
import {
  advisoryCurrentPath,
  advisoryDocumentText,
  countCurrentAdvisories,
  readStateDistribution,
  serialiseJson,
  streamAdvisoryLines,
  vendorFeedPath,
  vendorFeedText,
} from "./stages/export/advisory-current.ts";
import { openVexPath, writeOpenVex } from "./stages/export/openvex.ts";
import { type IngestedSource, ingestSources } from "./stages/ingest.ts";
import { initDatabase } from "./stages/init.ts";
import { type LoadedSource, loadSources } from "./stages/load.ts";
import { evaluatePublishGuard, runQualityChecks } from "./stages/quality.ts";
import {
  type RejectedRecordSummary,
  type RuleCount,
  type RunStatus,
  type RunSummary,
  renderRunReport,
  reportPath,
  type SourceRunSummary,
  type StageTiming,
  type TransitionCount,
} from "./stages/report.ts";
import { keptDecisions, runDbtBuild } from "./stages/transform.ts";

export interface RunOptions {
  configPath: string;
  asOf: Date;
  /**
   * The clock was pinned (--as-of or SOURCE_DATE_EPOCH): outputs must then be byte-identical for the same
   * inputs, so wall-clock measurements (start time, durations) stay in the database and the log only.
   */
  clockPinned?: boolean;
  /** Compute everything, publish nothing: output/ stays byte-identical. */
  dryRun?: boolean;
  /** Publish even when more advisories change state than quality.max_state_change_share allows. */
  acceptMassChange?: boolean;
  /** Fetch only these sources (--source); the others keep their last good data. */
  onlySources?: readonly string[];
  /** Look up final advisories again and ignore checkpoints and conditional requests. */
  revalidate?: boolean;
  /**
   * Adjusts the loaded configuration before the run (tools that preview a change, such as the overrides
   * check, point the database and output at a scratch folder and the CSV at the proposed file).
   */
  adjustConfig?: (config: Config) => Config;
  /** Run dbt in this already started session instead of a new `dbt` process (for many runs in one process). */
  dbtSession?: DbtSession;
  /** Run dbt even when the decision inputs are the previous run's (pipeline/history/decision-inputs.ts). */
  rebuild?: boolean;
}

export interface RunOutcome {
  runId: string;
  summary: RunSummary;
  files: {
    advisoryCurrent: string;
    report: string;
    summary: string;
    vendorFeed: string;
    openVex: string;
    ledger: string | null;
  };
  transitionCount: number;
  /** 0, or EXIT_BLOCKED when the publish guard kept the outputs from being replaced. */
  exitCode: number;
}

/** Exit code of a run the publish guard stopped from publishing (documented in the CLI's help). */
export const EXIT_BLOCKED = 3;

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

export async function runPipeline(requested: RunOptions): Promise<RunOutcome> {
  // Run ids and the ledger resolve to the second; the run's clock is cut to match.
  const options = { ...requested, asOf: new Date(Math.floor(requested.asOf.getTime() / 1000) * 1000) };
  const startedAt = new Date();
  const stages = new StageClock();
  const loaded = await stages.time("config", () => loadConfig(options.configPath));
  const config = options.adjustConfig ? options.adjustConfig(loaded) : loaded;
  const adapters = enabledAdapters(config);
  const unknownSources = (options.onlySources ?? []).filter(
    (name) => !adapters.some((adapter) => adapter.name === name),
  );
  if (unknownSources.length > 0) {
    throw new PipelineError(
      `--source ${unknownSources.join(", ")}: not an enabled source (enabled: ${adapters.map((adapter) => adapter.name).join(", ")})`,
      { location: { file: config.configPath, key: "sources" }, exitCode: 2 },
    );
  }

  const releaseLock = await acquireRunLock(config.database);
  try {
    // A run killed while publishing left its journal: its release is completed before anything reads it.
    const completed = await completeInterruptedPublish(config.output_dir);
    if (completed > 0)
      log.warn("completed the publish an interrupted run had started", {
        files: completed,
        dir: config.output_dir,
      });
    const { db, runId, startedWith } = await stages.time("init", async () => {
      const opened = await openDatabase(config.database, duckdbOptions(config));
      try {
        await initDatabase(opened);
        const ledger = await readLedgerToRestore(opened, config.history_dir);
        // What this run starts from on disk, for telling whether its decisions can be the previous run's.
        const found: PublishedState = {
          ledger: ledgerListing(ledger.files),
          published: await publishedFileDigest(config.output_dir),
        };
        // What was published last keeps when each observation was first fetched, should the database be new.
        // Restored before the run is recorded: a damaged file stops it with no run started.
        const evidence = await restorePublishedEvidence(opened, readPublishedEvidence(config.output_dir));
        const id = await startRun(opened, config, startedAt, options.asOf, latestLedgerRun(ledger.files));
        const restored = await restoreLedger(opened, ledger);
        log.info("history restored", {
          files: ledger.files.length,
          transitions_written: restored,
          incremental: ledger.incremental,
          dir: config.history_dir,
          published_evidence: evidence,
        });
        return { db: opened, runId: id, startedWith: found };
      } catch (error) {
        opened.close();
        throw error;
      }
    });
    log.info("run started", { run_id: runId, as_of: options.asOf.toISOString(), config: config.configPath });

    try {
      const ingested = await stages.time("ingest", () =>
        ingestSources(db, adapters, {
          asOf: options.asOf,
          revalidate: options.revalidate ?? false,
          ...(options.onlySources ? { onlySources: new Set(options.onlySources) } : {}),
        }),
      );
      const loaded = await stages.time("load", async () => {
        try {
          return await loadSources(db, runId, ingested);
        } catch (error) {
          db.close();
          throw error;
        }
      });
      const { transform, decisionInputs } = await stages.time("transform", async () => {
        let inputs: Awaited<ReturnType<typeof readDecisionInputs>>;
        let verdict: ReuseVerdict;
        try {
          inputs = await readDecisionInputs(db, runId, config.dbt.project_dir);
          verdict = options.rebuild
            ? { reusable: false, reason: "--rebuild" }
            : await findReusableDecisions(db, runId, inputs, startedWith);
        } finally {
          // dbt opens the same database file next; DuckDB allows one writing process at a time.
          db.close();
        }
        if (verdict.reusable) {
          log.info("decision inputs unchanged: dbt not run, the previous run's decisions stand", {
            previous_run: verdict.runId,
          });
          return { transform: keptDecisions(verdict.runId), decisionInputs: inputs };
        }
        log.info("dbt runs", { because: verdict.reason });
        return { transform: await runDbtBuild(config, options.dbtSession), decisionInputs: inputs };
      });

      return await withRunDatabase(config, async (reopened) => {
        await recordDecisionInputs(reopened, runId, decisionInputs);
        await ensurePrimarySourceUsable(reopened);
        const sources = await summariseSources(reopened, config, ingested, loaded, options.asOf);
        const qualityContext = {
          runId,
          asOf: options.asOf,
          config,
          sources,
          decisionsReusedFrom: transform.reusedDecisionsOf,
        };
        // Checks and the guard come before anything is published: a run that looks wrong publishes nothing.
        const { checks, guard } = await stages.time("quality", async () => {
          const results = await runQualityChecks(reopened, qualityContext);
          const decision = await evaluatePublishGuard(
            reopened,
            qualityContext,
            results,
            options.acceptMassChange ?? false,
          );
          return { checks: results, guard: decision };
        });
        const transitionCounts = sortTransitionCounts(await countRunTransitions(reopened, runId));
        const transitionCount = transitionCounts.reduce((total, entry) => total + entry.count, 0);
        const status: RunStatus = options.dryRun ? "dry_run" : guard.publish ? "succeeded" : "blocked";
        const exitCode = guard.publish ? 0 : EXIT_BLOCKED;
        const files = {
          advisoryCurrent: advisoryCurrentPath(config.output_dir),
          report: reportPath(config.output_dir, options.asOf),
          summary: `${config.output_dir}/run_summary.json`,
          vendorFeed: vendorFeedPath(config.output_dir),
          openVex: openVexPath(config.output_dir),
          ledger: null as string | null,
        };
        // Everything this run publishes is staged first (each file written to a temporary as soon as it is
        // built) and published in one step at the end of the report stage, so a run killed at any point
        // leaves the previous release or the new one.
        const release = new StagedRelease(config.output_dir);
        // Digests of the ledger file and advisory_current.json as staged, for the next run's reuse check.
        const ledgerHash = createHash("sha256");
        const publishedHash = createHash("sha256");
        try {
          const advisoryCount = await stages.time("export", async () => {
            const count = await countCurrentAdvisories(reopened);
            // A dry run leaves output/ as it was, and a blocked run publishes only its report.
            if (status !== "succeeded") return count;
            // The ledger first: published outputs never show a decision the history does not hold.
            const ledgerFile = runLedgerFile(
              config.history_dir,
              runId,
              transitionCount,
              streamRunTransitions(reopened, runId),
            );
            if (ledgerFile.content === null) release.remove(ledgerFile.path);
            else {
              await release.stage(ledgerFile.path, hashedChunks(ledgerHash, ledgerFile.content));
              files.ledger = ledgerFile.path;
            }
            // OpenVEX before the others: an advisory it cannot state stops the run with nothing published.
            await writeOpenVex(release, files.openVex, reopened, count, {
              asOf: options.asOf,
              publicUrl: config.site.public_url,
            });
            await release.stage(
              files.advisoryCurrent,
              hashedChunks(
                publishedHash,
                advisoryDocumentText(
                  options.asOf,
                  count,
                  streamAdvisoryLines(reopened, config.site.public_url),
                ),
              ),
            );
            await release.stage(files.vendorFeed, vendorFeedText(reopened));
            return count;
          });
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
              finishedAt: new Date(),
              asOf: options.asOf,
              configPath: config.configPath,
              status,
              exitCode,
              publish: guard,
              clockPinned: options.clockPinned ?? false,
              ...(config.site.public_url ? { publicUrl: config.site.public_url } : {}),
              advisoryCount,
              transitions: transitionCounts,
              stages: stages.timings,
              stateDistribution: await readStateDistribution(reopened),
              rules,
              sources,
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
                reusedDecisionsOf: transform.reusedDecisionsOf,
                modelTimings: transform.nodes
                  .filter((node) => node.uniqueId.startsWith("model."))
                  .sort((a, b) => b.executionTimeSeconds - a.executionTimeSeconds)
                  .map((node) => ({
                    model: node.uniqueId.replace(/^model\.[^.]+\./, ""),
                    seconds: node.executionTimeSeconds,
                  })),
              },
            };
            // A dry run leaves output/ exactly as it was; a blocked run explains itself in its report.
            // Each run also keeps its own copy of the summary in the history, so the site can show every run.
            if (status !== "dry_run") {
              const summaryText = serialiseJson(toSummaryJson(built));
              await release.stage(files.report, renderRunReport(built));
              await release.stage(runSummaryPath(config.history_dir, runId), summaryText);
              await release.stage(files.summary, summaryText);
              await release.publish();
            }
            return built;
          });
          if (status === "succeeded")
            await recordPublishedState(
              reopened,
              runId,
              startedWith,
              files.ledger === null ? null : ledgerHash.digest("hex"),
              publishedHash.digest("hex"),
            );
          await recordDbtTimings(reopened, runId, transform.nodes);
          await finishRun(reopened, runId, status, exitCode, stages.timings, toSummaryJson(summary));
          return { runId, summary, files, transitionCount, exitCode };
        } finally {
          // Whatever was staged and not published (a failure, a dry run) is removed.
          await release.discard();
        }
      });
    } catch (error) {
      await recordFailure(config, runId, error, stages.timings);
      throw error;
    }
  } finally {
    await releaseLock();
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
      maxAgeHours: maxAgeHours ?? null,
      tooOld,
    };
  });
}

/**
 * Records the run in the ledger. The run id is the run's clock, so running again with the same clock is the
 * same run done again: its earlier attempt's records are replaced, not added to. A clock before the latest
 * run would decide against history that already happened after it, and is refused.
 */
async function startRun(
  db: Database,
  config: Config,
  startedAt: Date,
  asOf: Date,
  latestInLedger: string | undefined,
): Promise<string> {
  const runId = compactUtc(asOf);
  const latest = await db.one<{ run_id: string; as_of: string }>(
    "select run_id, as_of::varchar as as_of from meta.runs where status <> 'dry_run' order by as_of desc limit 1",
  );
  const latestAsOfInDatabase = latest ? compactUtc(new Date(latest.as_of)) : undefined;
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

async function recordDbtTimings(
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

async function finishRun(
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

/** The pipeline's own DuckDB connection is held to the same memory cap as dbt's. */
function duckdbOptions(config: Config): { memoryLimit: string } {
  return { memoryLimit: config.duckdb.memory_limit };
}

function withRunDatabase<T>(config: Config, work: (db: Database) => Promise<T>): Promise<T> {
  return withDatabase(config.database, work, duckdbOptions(config));
}

async function recordFailure(config: Config, runId: string, error: unknown, timings: StageTiming[]) {
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

/** run_summary.json as written: what the site and scripts read. */
export type RunSummaryJson = ReturnType<typeof toSummaryJson>;

function toSummaryJson(summary: RunSummary) {
  return {
    run_id: summary.runId,
    status: summary.status,
    exit_code: summary.exitCode,
    published: summary.status === "succeeded",
    publish_guard: {
      state_changes: summary.publish.stateChanges,
      previously_listed: summary.publish.previouslyListed,
      mass_change_accepted: summary.publish.massChangeAccepted,
      reasons: summary.publish.reasons,
    },
    as_of: summary.asOf.toISOString(),
    clock_pinned: summary.clockPinned,
    // Wall-clock figures differ between two runs of the same inputs; a pinned clock promises they do not.
    started_at: summary.clockPinned ? null : summary.startedAt.toISOString(),
    finished_at: summary.clockPinned ? null : summary.finishedAt.toISOString(),
    advisory_count: summary.advisoryCount,
    stage_durations_ms: summary.clockPinned
      ? null
      : Object.fromEntries(summary.stages.map((stage) => [stage.stage, stage.durationMs])),
    state_distribution: summary.stateDistribution,
    transitions: summary.transitions,
    rules: summary.rules,
    sources: summary.sources.map((source) => ({
      source: source.source,
      status: source.status,
      last_good_fetch_at: source.lastGoodFetchAt,
      data_age_hours:
        source.lastGoodFetchAt === null
          ? null
          : Math.round((summary.asOf.getTime() - new Date(source.lastGoodFetchAt).getTime()) / 36_000) / 100,
      max_age_hours: source.maxAgeHours,
      requests: source.health.requests,
      retries: source.health.retries,
      observations: source.health.observations,
      rejected: source.health.rejected,
      bytes: source.health.bytes,
      duration_ms: summary.clockPinned ? null : source.health.durationMs,
      error: source.health.error ?? null,
      snapshot_hash: source.snapshotHash,
      new_snapshot: source.newSnapshot,
    })),
    checks: summary.checks.map((check) => ({
      check_id: check.checkId,
      severity: check.severity,
      passed: check.passed,
      failing_count: check.failingCount,
      examples: check.examples,
    })),
    rejected_total: summary.rejectedTotal,
    // How dbt ran, or whether it ran at all (a run may keep the previous run's decisions), depends on the
    // database, which is a cache, and not on the inputs: a pinned clock leaves it out with the durations.
    dbt: summary.clockPinned
      ? {
          models: null,
          tests: null,
          warnings: null,
          reused_decisions_of: null,
          elapsed_seconds: null,
          model_timings: null,
        }
      : {
          models: summary.dbt.models,
          tests: summary.dbt.tests,
          warnings: summary.dbt.warnings,
          reused_decisions_of: summary.dbt.reusedDecisionsOf,
          elapsed_seconds: summary.dbt.elapsedSeconds,
          model_timings: summary.dbt.modelTimings,
        },
  };
}

/** How many advisories moved between which states in this run, largest moves first. */
function sortTransitionCounts(counts: TransitionCount[]): TransitionCount[] {
  const label = (entry: TransitionCount) => `${entry.from ?? ""}>${entry.to ?? ""}`;
  return counts.sort((a, b) => b.count - a.count || (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0));
}
