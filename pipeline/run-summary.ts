import type {
  checkSeverities,
  RuleCount,
  RunSummaryJson,
  runStatuses,
  StateCount,
  sourceSummaryStatuses,
  TransitionCount,
} from "./formats/run-summary.ts";
import type { SourceHealth } from "./sources/types.ts";
import type { QualityCheckId } from "./stages/config.ts";

/**
 * What a run found and did, as the stages hand it on: the quality stage's checks and guard, the report's
 * figures. The report renders it and run_summary.json is written from it (toSummaryJson).
 */
export interface StageTiming {
  stage: string;
  durationMs: number;
}

export interface SourceRunSummary {
  source: string;
  health: SourceHealth;
  /** ok / degraded / failed as fetched, or stale: its data in use is older than the source's maximum age
   * or comes from an earlier run because this one failed. */
  status: (typeof sourceSummaryStatuses)[number];
  snapshotHash: string | null;
  newSnapshot: boolean;
  newObservations: number;
  unchanged: boolean;
  /** When the data in use was fetched; null when the source never delivered. */
  lastGoodFetchAt: string | null;
  /** The source's max_age_hours, when it has one. */
  maxAgeHours: number | null;
  /** The data in use is older than maxAgeHours. */
  tooOld: boolean;
}

export interface RejectedRecordSummary {
  source: string;
  file: string | null;
  line: number | null;
  key: string | null;
  reason: string;
}

/** succeeded: published; blocked: the publish guard kept the outputs; dry_run: nothing was to be published. */
export type RunStatus = (typeof runStatuses)[number];

export interface RunSummary {
  runId: string;
  startedAt: Date;
  /** When the report was assembled: the end of the run but for writing it. */
  finishedAt: Date;
  asOf: Date;
  configPath: string;
  status: RunStatus;
  exitCode: number;
  publish: PublishDecision;
  /** Pinned clock: wall-clock figures are left out so that the report is reproducible. */
  clockPinned: boolean;
  /** The site's public address (config site.public_url), for links to advisories. */
  publicUrl?: string;
  advisoryCount: number;
  /** Decision changes this run recorded in the history (new advisories count as from = null). */
  transitions: TransitionCount[];
  stages: StageTiming[];
  stateDistribution: StateCount[];
  rules: RuleCount[];
  sources: SourceRunSummary[];
  rejected: RejectedRecordSummary[];
  rejectedTotal: number;
  checks: CheckResult[];
  dbt: {
    elapsedSeconds: number;
    models: number;
    tests: number;
    unitTests: number;
    seeds: number;
    warnings: number;
    /** dbt did not run: this run's decision inputs were those of this earlier run, whose decisions stand. */
    reusedDecisionsOf: string | null;
    /** Every model's build time in this run, slowest first, from dbt's run_results.json. */
    modelTimings: { model: string; seconds: number }[];
  };
}

export type Severity = (typeof checkSeverities)[number];

export interface CheckResult {
  checkId: QualityCheckId;
  severity: Severity;
  passed: boolean;
  failingCount: number;
  detail: string;
  /** A few of the failing items, for the report; ordered so the most important come first. */
  examples: string[];
}

export interface PublishDecision {
  publish: boolean;
  /** Why the outputs were not replaced (empty when they were). */
  reasons: string[];
  /** Advisories whose state this run changes, against the advisories previously listed. */
  stateChanges: number;
  previouslyListed: number;
  /** --accept-mass-change let a mass change through. */
  massChangeAccepted: boolean;
}

/** run_summary.json as written (formats/run-summary.ts is its schema). */
export function toSummaryJson(summary: RunSummary): RunSummaryJson {
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
export function sortTransitionCounts(counts: TransitionCount[]): TransitionCount[] {
  const label = (entry: TransitionCount) => `${entry.from ?? ""}>${entry.to ?? ""}`;
  return counts.sort((a, b) => b.count - a.count || (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0));
}
