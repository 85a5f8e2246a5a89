import type { Database } from "../lib/db.ts";
import { PipelineError } from "../lib/errors.ts";
import type { CheckResult, PublishDecision, Severity, SourceRunSummary } from "../run-summary.ts";
import type { Config, QualityCheckId } from "./config.ts";
import type { IngestedSource } from "./ingest.ts";
import type { LoadedSource } from "./load.ts";

export interface QualityContext {
  runId: string;
  asOf: Date;
  config: Config;
  /** Per-source health of this run, with the age of the data in use. */
  sources: readonly SourceRunSummary[];
  /** dbt did not run: the decisions are this earlier run's (pipeline/history/decision-inputs.ts). */
  decisionsReusedFrom?: string | null;
  /** dbt's data test results behind the decisions in use: this run's, or the last dbt build's. */
  dbtTests: readonly DbtTestResult[];
}

export interface DbtTestResult {
  uniqueId: string;
  status: string;
}

interface CheckDefinition {
  checkId: QualityCheckId;
  defaultSeverity: Severity;
  description: (context: QualityContext) => string;
  /** One string per failing item, most important first. */
  failingItems: (db: Database, context: QualityContext) => Promise<string[]>;
}

/** The final states, as the advisory_states seed names them (dbt loads it into reference). */
const finalStates = "(select state from reference.advisory_states where state_type = 'final')";

/** The conditions a model's one column_checks test holds (dbt_project/tests/generic/column_checks.sql). */
const columnCheckKinds = new Set(["not_null", "unique", "accepted_values"]);

/**
 * The named dbt data tests on a model's columns (`<test>:<column>`), as dbt ran them for the decisions in
 * use: each one that did not pass is a failing item, and so is one that is missing from dbt's results (a
 * check must never pass because its test was removed). not_null, unique and accepted_values are conditions
 * of the model's column_checks test; any other kind (not_blank, relationships) is a test of its own.
 */
function dbtTestFailures(context: QualityContext, model: string, tests: readonly string[]): string[] {
  const failing: string[] = [];
  for (const test of tests) {
    const [kind, column] = test.split(":") as [string, string];
    const testName = columnCheckKinds.has(kind) ? `column_checks_${model}` : `${kind}_${model}_${column}`;
    const result = context.dbtTests.find(
      (node) => node.uniqueId.startsWith("test.") && node.uniqueId.includes(`.${testName}.`),
    );
    if (result === undefined)
      failing.push(`${kind} ${model}.${column}: ${testName} not among dbt's test results`);
    else if (result.status !== "pass")
      failing.push(`${kind} ${model}.${column}: dbt test ${testName} ${result.status}`);
  }
  return failing;
}

/** Runs a query whose rows have one `item` column, with `$run_id` and `$as_of` bound. */
async function items(db: Database, sql: string, context: QualityContext): Promise<string[]> {
  const values: string[] = [];
  const bound = sql.replace(/\$(run_id|as_of)/g, (_, name: string) => {
    values.push(name === "run_id" ? context.runId : context.asOf.toISOString());
    return "?";
  });
  return (await db.all<{ item: string }>(bound, values)).map((row) => row.item);
}

/**
 * Checks over what the run is about to publish and over the sources it read. Decisions are dbt's; these
 * look for holes, for advisories that stopped moving, for decisions that went back, and for sources that
 * fail quietly. Each has a severity (config `quality.severities`); an error-severity failure keeps the run
 * from being published (see evaluatePublishGuard).
 */
const checks: readonly CheckDefinition[] = [
  {
    checkId: "advisory_fields_complete",
    defaultSeverity: "error",
    description: () => "every advisory has a state, a state type, a rule, a reason code and an explanation",
    // dbt's data tests on the mart assert this (not_null, and not_blank on the explanation); their results
    // are read back here rather than the condition computed a second time.
    failingItems: async (_db, context) =>
      dbtTestFailures(context, "mart_advisory_current", [
        "not_null:state",
        "not_null:state_type",
        "not_null:rule_id",
        "not_null:reason_code",
        "not_null:explanation",
        "not_blank:explanation",
      ]),
  },
  {
    checkId: "advisory_ids_unique",
    defaultSeverity: "error",
    description: () => "advisory ids are unique",
    failingItems: async (_db, context) =>
      dbtTestFailures(context, "mart_advisory_current", ["unique:advisory_id", "not_null:advisory_id"]),
  },
  {
    checkId: "final_states_have_evidence",
    defaultSeverity: "error",
    description: () =>
      "every final state rests on evidence from a named source, and its published evidence lists the deciding observation itself (source, release and record; for a retained decision the recorded source suffices)",
    failingItems: (db, context) =>
      items(
        db,
        `select advisory_id || ' ' || state || ' (' || rule_id || ')' as item from marts.mart_advisory_current
         where state_type = 'final'
           and (deciding_source is null
             or (not is_retained and len(list_filter(evidence, entry ->
                   entry.source = deciding_source
                   -- A record-level verdict (a withdrawn OSV record) names no release: any of its releases.
                   and (evidence_release is null or entry.release = evidence_release)
                   and entry.record is not distinct from evidence_record)) = 0))
         order by advisory_id`,
        context,
      ),
  },
  {
    checkId: "stalled_advisories",
    defaultSeverity: "warn",
    description: (context) =>
      `no advisory stays non-final (under investigation or pending upstream) for more than ${context.config.quality.stalled_after_days} days; oldest first`,
    failingItems: (db, context) =>
      items(
        db,
        // The current non-final stretch starts at the latest period entered from a final state or from nothing.
        `with stretch as (
           select current.advisory_id, current.state, max(history.valid_from) as non_final_since
           from marts.mart_advisory_current as current
           inner join marts.mart_advisory_history as history on current.advisory_id = history.advisory_id
           where current.state_type = 'non_final'
             and history.state not in ${finalStates}
             and (history.previous_state is null or history.previous_state in ${finalStates})
           group by current.advisory_id, current.state
         )
         select advisory_id || ' ' || state || ' since ' || strftime(non_final_since, '%Y-%m-%d')
             || ' (' || date_diff('day', non_final_since, $as_of::timestamptz) || ' days)' as item
         from stretch
         where non_final_since < $as_of::timestamptz - to_days(${context.config.quality.stalled_after_days})
         order by non_final_since, advisory_id`,
        context,
      ),
  },
  {
    checkId: "regressions",
    defaultSeverity: "warn",
    description: () =>
      "no advisory leaves a final state in this run (each listed with the rule and reason that moved it)",
    failingItems: (db, context) =>
      items(
        db,
        `select advisory_id || ': ' || from_state || ' → ' || coalesce(to_state, 'no longer listed')
             || coalesce(' by ' || rule_id || ' (' || reason_code || ')', '') as item
         from marts.mart_advisory_transitions
         where run_id = $run_id and from_state in ${finalStates} and to_state is distinct from from_state
         order by advisory_id`,
        context,
      ),
  },
  {
    checkId: "source_record_drop",
    defaultSeverity: "error",
    description: (context) =>
      `no source delivers nothing, or ${context.config.quality.source_drop_percent} % fewer records than its last good full delivery`,
    failingItems: (db, context) =>
      items(
        db,
        `with this_run as (
           select source, observations from meta.source_fetches
           where run_id = $run_id and status not in ('failed', 'skipped') and not unchanged and delivery = 'full'
         ),
         last_good as (
           select fetches.source, fetches.observations
           from meta.source_fetches as fetches
           inner join meta.runs as runs on fetches.run_id = runs.run_id
           where fetches.run_id <> $run_id and fetches.status not in ('failed', 'skipped') and not fetches.unchanged
             and fetches.delivery = 'full' and fetches.observations > 0
             and runs.as_of < $as_of::timestamptz and runs.status in ('succeeded', 'blocked')
           qualify row_number() over (partition by fetches.source order by runs.as_of desc) = 1
         )
         select this_run.source || ': ' || this_run.observations || ' records'
             || coalesce(' against ' || last_good.observations || ' in its last good delivery ('
               || round(100.0 * (last_good.observations - this_run.observations) / last_good.observations, 1)
               || ' % fewer)', ', nothing delivered') as item
         from this_run
         left join last_good on this_run.source = last_good.source
         where this_run.observations = 0
            or this_run.observations < last_good.observations * (1 - ${context.config.quality.source_drop_percent} / 100.0)
         order by this_run.source`,
        context,
      ),
  },
  {
    checkId: "source_staleness",
    defaultSeverity: "warn",
    description: () => "every source's data in use is younger than its configured max_age_hours",
    failingItems: async (_db, context) =>
      context.sources
        .filter((source) => source.tooOld)
        .map(
          (source) =>
            `${source.source}: last good fetch ${source.lastGoodFetchAt ?? "never"}, older than ${source.maxAgeHours} h`,
        ),
  },
  {
    checkId: "sources_fetched",
    defaultSeverity: "warn",
    description: () => "every source was fetched in this run (a failed source's last good data stays in use)",
    failingItems: (db, context) =>
      items(
        db,
        `select source || ': ' || coalesce(error, status) as item from meta.source_fetches
         where run_id = $run_id and status = 'failed' order by source`,
        context,
      ),
  },
  {
    checkId: "input_records_accepted",
    defaultSeverity: "warn",
    description: () => "every input record was accepted",
    failingItems: (db, context) =>
      items(
        db,
        `select source || ' ' || coalesce(file, '') || coalesce(':' || line, '') || coalesce(' ' || key, '') || ': ' || reason as item
         from meta.rejected_records where run_id = $run_id order by source, line, key`,
        context,
      ),
  },
  {
    checkId: "override_rows_match_advisories",
    defaultSeverity: "warn",
    description: () => "every not-applicable row names a package/CVE pair present in data.json",
    failingItems: (db, context) =>
      items(
        db,
        `select 'line ' || csv_line_number || ': ' || advisory_id as item from marts.mart_override_rows_unmatched
         order by csv_line_number`,
        context,
      ),
  },
  {
    checkId: "override_rows_unique",
    defaultSeverity: "warn",
    description: () => "the not-applicable feed names each package/CVE pair once",
    failingItems: (db, context) =>
      items(
        db,
        `select coalesce(file, '') || coalesce(':' || line, '') || ': ' || reason as item
         from meta.rejected_records
         where run_id = $run_id and source = 'echo_csv' and reason like 'duplicate of line%'
         order by line`,
        context,
      ),
  },
  {
    checkId: "override_reason_codes_known",
    defaultSeverity: "warn",
    description: () =>
      "every not-applicable row gives a reason code of override_reasons; a row with another is quarantined (not landed, so it decides nothing) and listed here",
    // The adapter's rejections name each row; dbt's relationships test on the rows in use is the backstop
    // should one ever get past the adapter (the rule then ignores it: int_advisory_rule_matches).
    failingItems: async (db, context) => [
      ...(await items(
        db,
        `select coalesce(file, '') || coalesce(':' || line, '') || ': ' || reason as item
         from meta.rejected_records
         where run_id = $run_id and source = 'echo_csv' and key = 'internal_status'
         order by line`,
        context,
      )),
      ...dbtTestFailures(context, "int_not_applicable_overrides_current", ["relationships:internal_status"]),
    ],
  },
];

export async function runQualityChecks(db: Database, context: QualityContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const failing = await check.failingItems(db, context);
    results.push({
      checkId: check.checkId,
      severity: context.config.quality.severities[check.checkId] ?? check.defaultSeverity,
      passed: failing.length === 0,
      failingCount: failing.length,
      detail: check.description(context),
      examples: failing.slice(0, context.config.report.list_limit),
    });
  }
  await db.run("delete from meta.check_results where run_id = ?", [context.runId]);
  for (const result of results) {
    await db.run(
      "insert into meta.check_results (run_id, check_id, severity, passed, failing_count, detail) values (?, ?, ?, ?, ?, ?)",
      [context.runId, result.checkId, result.severity, result.passed, result.failingCount, result.detail],
    );
  }
  return results;
}

/**
 * The publish guard: a run that would change the state of too many advisories at once, or whose
 * error-severity checks fail, still records everything but does not replace what is published.
 */
export async function evaluatePublishGuard(
  db: Database,
  context: QualityContext,
  checkResults: readonly CheckResult[],
  acceptMassChange: boolean,
): Promise<PublishDecision> {
  // The models' "previous decisions" are those before the run they were built for. When this run kept the
  // previous run's decisions, those decisions (the current mart) are the ones listed before this run.
  const previouslyListedQuery = context.decisionsReusedFrom
    ? "select count(*) from marts.mart_advisory_current"
    : "select count(*) from intermediate.int_advisory_decisions_previous where not is_no_longer_listed";
  const counts = await db.one<{ state_changes: number; previously_listed: number }>(
    `select
       (select count(*) from marts.mart_advisory_transitions
        where run_id = ? and from_state is not null and to_state is distinct from from_state)::integer as state_changes,
       (${previouslyListedQuery})::integer as previously_listed`,
    [context.runId],
  );
  const stateChanges = counts?.state_changes ?? 0;
  const previouslyListed = counts?.previously_listed ?? 0;
  const share = previouslyListed === 0 ? 0 : stateChanges / previouslyListed;
  const limit = context.config.quality.max_state_change_share;
  const reasons: string[] = [];
  let massChangeAccepted = false;
  if (share > limit) {
    const what = `${stateChanges} of ${previouslyListed} advisories (${(100 * share).toFixed(1)} %) would change state, more than the ${(100 * limit).toFixed(1)} % allowed (quality.max_state_change_share)`;
    if (acceptMassChange) massChangeAccepted = true;
    else reasons.push(`${what}; run again with --accept-mass-change if the change is expected`);
  }
  for (const check of checkResults) {
    if (check.severity === "error" && !check.passed) {
      reasons.push(`error check ${check.checkId} failed (${check.failingCount}): ${check.detail}`);
    }
  }
  return { publish: reasons.length === 0, reasons, stateChanges, previouslyListed, massChangeAccepted };
}

export interface QualityStageInput {
  runId: string;
  asOf: Date;
  config: Config;
  ingested: readonly IngestedSource[];
  loaded: readonly LoadedSource[];
  decisionsReusedFrom: string | null;
  acceptMassChange: boolean;
  /** The nodes dbt built in this run (none when the previous run's decisions stand). */
  dbtNodes: readonly DbtTestResult[];
}

/**
 * Before anything is published: each source's health and the age of its data in use, the quality checks,
 * and the publish guard's verdict. A run that looks wrong publishes nothing.
 */
export async function qualityStage(
  db: Database,
  input: QualityStageInput,
): Promise<{ sources: SourceRunSummary[]; checks: CheckResult[]; guard: PublishDecision }> {
  await ensurePrimarySourceUsable(db);
  const sources = await summariseSources(db, input.config, input.ingested, input.loaded, input.asOf);
  const context: QualityContext = {
    runId: input.runId,
    asOf: input.asOf,
    config: input.config,
    sources,
    decisionsReusedFrom: input.decisionsReusedFrom,
    dbtTests: input.decisionsReusedFrom === null ? input.dbtNodes : await lastRecordedDbtTests(db),
  };
  const checks = await runQualityChecks(db, context);
  const guard = await evaluatePublishGuard(db, context, checks, input.acceptMassChange);
  return { sources, checks, guard };
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

/** The data test results of the last run that built the models, from the run ledger. */
export async function lastRecordedDbtTests(db: Database): Promise<DbtTestResult[]> {
  return db.all<DbtTestResult>(
    `select unique_id as "uniqueId", status from meta.dbt_node_timings
     where unique_id like 'test.%' and run_id = (
       select timings.run_id from meta.dbt_node_timings as timings
       inner join meta.runs as runs on runs.run_id = timings.run_id
       where timings.unique_id like 'test.%'
       order by runs.run_seq desc limit 1
     )`,
  );
}
