import { type ChangeCounts, changeFeedPath } from "./formats/changes.ts";
import { completeInterruptedPublish, releasePaths } from "./formats/release-journal.ts";
import { recordDecisionInputs, recordPublishedState } from "./history/decision-inputs.ts";
import { recordExportInputs } from "./history/export-inputs.ts";
import { countRunTransitions } from "./history/ledger.ts";
import { closedOnFailure } from "./lib/db.ts";
import type { DbtInvoker } from "./lib/dbt-session.ts";
import { PipelineError } from "./lib/errors.ts";
import { StagedRelease } from "./lib/files.ts";
import { log } from "./lib/log.ts";
import { acquireRunLock } from "./lib/run-lock.ts";
import {
  finishRun,
  recordDbtTimings,
  recordFailure,
  StageClock,
  startRun,
  withRunDatabase,
} from "./run-record.ts";
import { type RunStatus, type RunSummary, sortTransitionCounts, toSummaryJson } from "./run-summary.ts";
import { enabledAdapters } from "./sources/registry.ts";
import { type Config, loadConfig } from "./stages/config.ts";
import { exportStage } from "./stages/export.ts";
import { ingestSources } from "./stages/ingest.ts";
import { initialiseRun } from "./stages/init.ts";
import { loadSources } from "./stages/load.ts";
import { qualityStage } from "./stages/quality.ts";
import { reportStage } from "./stages/report.ts";
import { transformStage } from "./stages/transform.ts";

// The orchestrator: runs the stages in order (pipeline/stages/), holds the run lock, and keeps the run's
// record (run-record.ts). Each stage owns its work; nothing here decides or writes a published file (it
// only has an interrupted publish completed first, so that the run reads a whole release).

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
  /**
   * Run dbt in this already started session (or a session server's) instead of a new `dbt` process, for
   * many runs in one process or on one machine.
   */
  dbtSession?: DbtInvoker;
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
    cveFacts: string;
    ledger: string | null;
    /** This run's change file and what it counts, when the run published. */
    changes: { path: string; counts: ChangeCounts } | null;
    changeFeed: string;
  };
  transitionCount: number;
  /** 0, or EXIT_BLOCKED when the publish guard kept the outputs from being replaced. */
  exitCode: number;
}

/** Exit code of a run the publish guard stopped from publishing (documented in the CLI's help). */
export const EXIT_BLOCKED = 3;

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
    const { db, runId, startedWith, historyDeferred } = await stages.time("init", async () => {
      const initialised = await initialiseRun(config);
      try {
        const id = await startRun(
          initialised.db,
          config,
          startedAt,
          options.asOf,
          initialised.latestLedgerRun,
        );
        return { ...initialised, runId: id };
      } catch (error) {
        initialised.db.close();
        throw error;
      }
    });
    log.info("run started", { run_id: runId, as_of: options.asOf.toISOString(), config: config.configPath });
    try {
      const ingested = await stages.time("ingest", () =>
        closedOnFailure(db, () =>
          ingestSources(db, adapters, {
            asOf: options.asOf,
            revalidate: options.revalidate ?? false,
            ...(options.onlySources ? { onlySources: new Set(options.onlySources) } : {}),
          }),
        ),
      );
      const landed = await stages.time("load", () =>
        closedOnFailure(db, () => loadSources(db, runId, ingested)),
      );
      const { transform, decisionInputs } = await stages.time("transform", () =>
        transformStage(db, config, runId, startedWith, {
          rebuild: options.rebuild ?? false,
          dbtSession: options.dbtSession,
          historyDeferred,
        }),
      );
      return await withRunDatabase(config, async (reopened) => {
        await recordDecisionInputs(reopened, runId, decisionInputs);
        const { sources, checks, guard } = await stages.time("quality", () =>
          qualityStage(reopened, {
            runId,
            asOf: options.asOf,
            config,
            ingested,
            loaded: landed,
            decisionsReusedFrom: transform.reusedDecisionsOf,
            acceptMassChange: options.acceptMassChange ?? false,
            dbtNodes: transform.nodes,
          }),
        );
        const transitions = sortTransitionCounts(await countRunTransitions(reopened, runId));
        const transitionCount = transitions.reduce((total, entry) => total + entry.count, 0);
        const status: RunStatus = options.dryRun ? "dry_run" : guard.publish ? "succeeded" : "blocked";
        const exitCode = guard.publish ? 0 : EXIT_BLOCKED;
        // Everything the run publishes is one release, published in one step at the end of the report
        // stage: a run killed at any point leaves the previous release or the new one.
        const release = new StagedRelease(config.output_dir);
        try {
          const exported = await stages.time("export", () =>
            exportStage(reopened, release, {
              config,
              runId,
              asOf: options.asOf,
              status,
              transitionCount,
              reusedDecisionsOf: transform.reusedDecisionsOf,
            }),
          );
          const summary = await stages.time("report", () =>
            reportStage(reopened, release, {
              config,
              runId,
              asOf: options.asOf,
              startedAt,
              clockPinned: options.clockPinned ?? false,
              status,
              exitCode,
              guard,
              advisoryCount: exported.advisoryCount,
              transitions,
              stageTimings: stages.timings,
              sources,
              checks,
              rejectedTotal: ingested.reduce((sum, source) => sum + source.rejections.length, 0),
              transform,
            }),
          );
          if (status === "succeeded")
            await recordPublishedState(
              reopened,
              runId,
              startedWith,
              exported.ledgerSha256,
              exported.advisoryCurrentSha256,
            );
          if (status === "succeeded" && exported.exportKey !== null)
            await recordExportInputs(reopened, runId, exported.exportKey, exported.documentSha256);
          await recordDbtTimings(reopened, runId, transform.nodes);
          await finishRun(reopened, runId, status, exitCode, stages.timings, toSummaryJson(summary));
          return {
            runId,
            summary,
            files: {
              ...releasePaths(config.output_dir, runId),
              ledger: exported.ledgerPath,
              changes: exported.changes,
              changeFeed: changeFeedPath(config.output_dir),
            },
            transitionCount,
            exitCode,
          };
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
