import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import type { KnownExploited, PublishedAdvisory } from "./formats/advisory.ts";
import type { LedgerTransition } from "./formats/ledger-transition.ts";
import { runIdOf, runIdPattern } from "./formats/run-id.ts";
import { Database } from "./lib/db.ts";
import { errorMessage, PipelineError } from "./lib/errors.ts";
import { changeLabel, table, wrap } from "./lib/text-layout.ts";
import { loadConfig } from "./stages/config.ts";

/**
 * Operator inspection: `explain` shows why one advisory is in its current state, `history` what runs
 * recorded and which decisions each changed. Both only read the database earlier runs left behind (opened
 * read-only, so several can run side by side and nothing is ever changed) and never run the pipeline.
 */

export type InspectCommand = "explain" | "history";

const explainUsage = `Usage: npm run pipeline -- explain [options] <package>:<CVE>
       npm run pipeline -- explain [options] <package> <CVE>

Shows why an advisory is in its current state: the decision (state, rule, reason, confidence), the
customer-facing explanation, every source's evidence and the advisory's decision history, as the latest
run recorded them in the database. Changes nothing. The id is case-sensitive, e.g. curl:CVE-2023-38545.

Options:
  --config <path>   configuration file (default: config.yaml in the current directory)
  --json            print one JSON object instead of text (for scripts)
  -h, --help        show this help

Exit codes:
  0  shown
  1  the database could not be read
  2  bad usage, no database yet, or the advisory is not in the current data
`;

const historyUsage = `Usage: npm run pipeline -- history [options]
       npm run pipeline -- history --run <run id> [options]
       npm run pipeline -- history --advisory <package>:<CVE> [options]

Without --run or --advisory: lists the recorded runs, newest first, with how many decisions each changed.
With --run: the run's status and clock, then the decisions it changed, counted by change (from → to)
and listed one per line. With --advisory: the advisory's decision periods, oldest first. Changes nothing.

Options:
  --config <path>     configuration file (default: config.yaml in the current directory)
  --run <run id>      a run id such as 20260301T060000Z (the run's clock, 2026-03-01T06:00:00Z, works too)
  --advisory <id>     an advisory id, <package>:<CVE> (case-sensitive)
  --limit <n>         list at most n runs or transitions (default 50; 0 lists all)
  --json              print one JSON object instead of text (for scripts)
  -h, --help          show this help

Exit codes:
  0  shown
  1  the database could not be read
  2  bad usage, no database yet, or an unknown run or advisory
`;

const isoSeconds = "'%Y-%m-%dT%H:%M:%SZ'";
/** A timestamptz column as an ISO-8601 UTC string, whatever the session's time zone. */
const iso = (column: string) => `strftime(${column} at time zone 'UTC', ${isoSeconds})`;

export async function runInspectCommand(command: InspectCommand, args: string[]): Promise<number> {
  return command === "explain" ? explain(args) : history(args);
}

// ---------------------------------------------------------------------------------------------- explain

/** The advisory as the mart holds it: its published record's fields, and what the ledger adds. */
interface CurrentRow
  extends Pick<
    PublishedAdvisory,
    | "advisory_id"
    | "cve_id"
    | "package_name"
    | "state"
    | "state_type"
    | "fixed_version"
    | "rule_id"
    | "reason_code"
    | "explanation"
    | "contributing_sources"
    | "dissenting_sources"
    | "evidence"
  > {
  unaffected_from_version: string | null;
  /** CISA's KEV entry for the CVE (a priority signal, never part of the decision); null when not listed. */
  known_exploited: KnownExploited | null;
  confidence: number | null;
  rule_description: string | null;
  deciding_source: string | null;
  is_retained: boolean;
  decided_at: string | null;
  decided_run_id: string | null;
  first_seen_at: string | null;
  first_seen_run_id: string | null;
}

interface HistoryPeriod {
  valid_from: string;
  valid_from_run_id: string;
  valid_to: string | null;
  valid_to_run_id: string | null;
  is_current: boolean;
  /** "changed": a later decision replaced it; "no_longer_listed": data.json stopped listing the advisory. */
  ended_by: "changed" | "no_longer_listed" | null;
  previous_state: string | null;
  state: string;
  state_type: string | null;
  rule_id: string | null;
  reason_code: string | null;
  fixed_version: string | null;
  unaffected_from_version: string | null;
  deciding_source: string | null;
  explanation: string | null;
}

export interface AdvisoryExplanation extends CurrentRow {
  history: HistoryPeriod[];
}

async function explain(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions("explain", args, {
    config: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    process.stdout.write(explainUsage);
    return 0;
  }
  const advisoryId = advisoryIdFrom(positionals);
  const result = await withInspectedDatabase(stringOption(values.config), async (db) => {
    await requireTables(db, ["marts.mart_advisory_current", "marts.mart_advisory_history"]);
    const current = await readCurrent(db, advisoryId);
    if (!current) throw await unknownAdvisory(db, advisoryId);
    return { ...current, history: await readPeriods(db, advisoryId) } satisfies AdvisoryExplanation;
  });
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : renderExplanation(result));
  return 0;
}

function advisoryIdFrom(positionals: string[]): string {
  if (positionals.length === 1 && positionals[0]) return positionals[0].trim();
  if (positionals.length === 2) return `${positionals[0]?.trim()}:${positionals[1]?.trim()}`;
  throw new PipelineError(
    positionals.length === 0
      ? "explain needs an advisory id"
      : `explain takes one advisory, got ${positionals.length} arguments: ${positionals.join(" ")}`,
    { hint: "give it as <package>:<CVE> or <package> <CVE>, e.g. curl:CVE-2023-38545", exitCode: 2 },
  );
}

async function readCurrent(db: Database, advisoryId: string): Promise<CurrentRow | undefined> {
  const hasCatalogue = await tableExists(db, "marts.mart_rule_catalogue");
  // A database built before the KEV source has no such column; its advisories are simply not marked.
  const hasKev = await columnExists(db, "marts.mart_advisory_current", "known_exploited");
  const row = await db.one<CurrentRow>(
    `select
       current.advisory_id,
       current.cve_id,
       current.package_name,
       current.state,
       current.state_type,
       current.fixed_version,
       current.unaffected_from_version,
       ${hasKev ? "current.known_exploited" : "null"} as known_exploited,
       current.confidence::double as confidence,
       current.rule_id,
       ${hasCatalogue ? "rules.description" : "null::varchar"} as rule_description,
       current.reason_code,
       current.explanation,
       current.deciding_source,
       coalesce(current.is_retained, false) as is_retained,
       ${iso("current.decided_at")} as decided_at,
       current.decided_run_id,
       ${iso("current.first_seen_at")} as first_seen_at,
       current.first_seen_run_id,
       list_sort(coalesce(current.contributing_sources, [])) as contributing_sources,
       list_sort(coalesce(current.dissenting_sources, [])) as dissenting_sources,
       coalesce(current.evidence, []) as evidence
     from marts.mart_advisory_current as current
     ${hasCatalogue ? "left join marts.mart_rule_catalogue as rules on rules.rule_id = current.rule_id" : ""}
     where current.advisory_id = ?`,
    [advisoryId],
  );
  return row ? { ...row, confidence: row.confidence === null ? null : Number(row.confidence) } : undefined;
}

async function readPeriods(db: Database, advisoryId: string): Promise<HistoryPeriod[]> {
  const rows = await db.all<Omit<HistoryPeriod, "ended_by">>(
    `select
       ${iso("valid_from")} as valid_from,
       valid_from_run_id,
       ${iso("valid_to")} as valid_to,
       valid_to_run_id,
       is_current,
       previous_state,
       state,
       state_type,
       rule_id,
       reason_code,
       fixed_version,
       unaffected_from_version,
       deciding_source,
       explanation
     from marts.mart_advisory_history
     where advisory_id = ?
     order by valid_from, valid_from_run_id`,
    [advisoryId],
  );
  return rows.map((row, index) => {
    let endedBy: HistoryPeriod["ended_by"] = null;
    if (row.valid_to_run_id !== null) {
      // A period ends either at the next decision or at the run that stopped listing the advisory.
      endedBy = rows[index + 1]?.valid_from_run_id === row.valid_to_run_id ? "changed" : "no_longer_listed";
    }
    return { ...row, ended_by: endedBy };
  });
}

/** The error for an id the current data does not hold, with the closest ids it does hold. */
async function unknownAdvisory(db: Database, advisoryId: string): Promise<PipelineError> {
  const separator = advisoryId.indexOf(":");
  const packageName = separator === -1 ? advisoryId : advisoryId.slice(0, separator);
  const cveId = separator === -1 ? "" : advisoryId.slice(separator + 1);
  // Same id in another case first, then the same CVE in other packages, then the package's other advisories.
  const suggestions = await db.all<{ advisory_id: string }>(
    `select advisory_id
     from marts.mart_advisory_current
     where lower(advisory_id) = lower(?)
        or (? <> '' and lower(cve_id) = lower(?))
        or lower(package_name) = lower(?)
     order by
       lower(advisory_id) = lower(?) desc,
       lower(cve_id) = lower(?) desc,
       package_name = ? desc,
       advisory_id desc
     limit 5`,
    [advisoryId, cveId, cveId, packageName, advisoryId, cveId, packageName],
  );
  const packageCount = await db.one<{ count: number }>(
    "select count(*)::integer as count from marts.mart_advisory_current where package_name = ?",
    [packageName],
  );
  const last = await db.one<{ valid_to_run_id: string | null; state: string }>(
    `select valid_to_run_id, state from marts.mart_advisory_history
     where advisory_id = ? order by valid_from desc limit 1`,
    [advisoryId],
  );
  const hints: string[] = [];
  if (last) {
    hints.push(
      `it was last ${last.state}${last.valid_to_run_id ? ` until run ${last.valid_to_run_id}, which no longer listed it` : ""}; see its periods with: history --advisory ${advisoryId}`,
    );
  }
  if (suggestions.length > 0) {
    hints.push(`did you mean ${suggestions.map((row) => row.advisory_id).join(", ")}?`);
  }
  if (packageCount?.count) hints.push(`package ${packageName} has ${packageCount.count} advisories`);
  if (separator === -1) hints.push("an advisory id is <package>:<CVE>");
  if (hints.length === 0)
    hints.push("ids are <package>:<CVE> and case-sensitive, as in advisory_current.json");
  return new PipelineError(`advisory ${advisoryId} is not in the current data`, {
    hint: hints.join("; "),
    exitCode: 2,
  });
}

function renderExplanation(advisory: AdvisoryExplanation): string {
  const facts: Array<[string, string]> = [["State", `${advisory.state} (${advisory.state_type})`]];
  if (advisory.fixed_version) facts.push(["Fixed version", advisory.fixed_version]);
  if (advisory.unaffected_from_version) facts.push(["Unaffected from", advisory.unaffected_from_version]);
  facts.push(
    ["Confidence", advisory.confidence === null ? "-" : advisory.confidence.toFixed(2)],
    ["Rule", advisory.rule_id + (advisory.rule_description ? ` (${advisory.rule_description})` : "")],
    ["Reason code", advisory.reason_code],
    ["Deciding source", advisory.deciding_source ?? "-"],
    ["Decided at", withRun(advisory.decided_at, advisory.decided_run_id)],
    ["First seen", withRun(advisory.first_seen_at, advisory.first_seen_run_id)],
    ["Contributing", listOrNone(advisory.contributing_sources)],
    ["Dissenting", listOrNone(advisory.dissenting_sources)],
  );
  if (advisory.is_retained) facts.push(["Retained", "yes: the deciding source no longer lists it"]);
  const exploited = advisory.known_exploited;
  if (exploited) {
    facts.push([
      "Known exploited",
      `yes: in CISA's KEV catalogue since ${exploited.date_added}${exploited.due_date ? `, due ${exploited.due_date}` : ""}, ransomware use ${exploited.ransomware_use}${exploited.catalog_version ? ` (catalogue ${exploited.catalog_version})` : ""}`,
    ]);
  }

  const lines = [
    `${advisory.advisory_id}  (package ${advisory.package_name}, ${advisory.cve_id})`,
    "",
    ...keyValues(facts),
    "",
    "Explanation",
    ...wrap(advisory.explanation, 100).map((line) => `  ${line}`),
    "",
    evidenceHeading(advisory.evidence),
    ...(advisory.evidence.length === 0
      ? ["  none recorded"]
      : table(
          ["SOURCE", "SIGNAL", "VERSION", "RELEASE", "RECORD", "FETCHED AT", "STALE"],
          advisory.evidence.map((entry) => [
            entry.source,
            text(entry.signal),
            text(entry.version),
            text(entry.release),
            text(entry.record),
            text(entry.fetched_at),
            entry.stale ? "yes" : "no",
          ]),
        )),
    "",
    ...renderPeriods(advisory.history),
  ];
  return `${lines.join("\n")}\n`;
}

/** "Evidence (2 sources)", or "Evidence (4 entries from 2 sources)" when a source speaks per release. */
function evidenceHeading(evidence: readonly { source: string }[]): string {
  const sources = new Set(evidence.map((entry) => entry.source)).size;
  const from = `${sources} source${sources === 1 ? "" : "s"}`;
  return evidence.length === sources
    ? `Evidence (${from})`
    : `Evidence (${evidence.length} entries from ${from})`;
}

function renderPeriods(periods: HistoryPeriod[]): string[] {
  return [
    `History (${periods.length} period${periods.length === 1 ? "" : "s"}, oldest first)`,
    ...(periods.length === 0
      ? ["  none recorded"]
      : table(
          ["FROM RUN", "UNTIL RUN", "CHANGE", "RULE", "FIXED VERSION"],
          periods.map((period, index) => [
            period.valid_from_run_id,
            period.valid_to_run_id === null
              ? "current"
              : `${period.valid_to_run_id}${period.ended_by === "no_longer_listed" ? " (no longer listed)" : ""}`,
            `${period.previous_state ?? (index === 0 ? "new" : "listed again")} → ${period.state}`,
            text(period.rule_id),
            text(period.fixed_version),
          ]),
        )),
  ];
}

// ---------------------------------------------------------------------------------------------- history

interface RunListEntry {
  run_id: string;
  as_of: string;
  status: string | null;
  started_at: string | null;
  finished_at: string | null;
  transition_count: number;
}

interface RunRecord {
  run_id: string;
  run_seq: number;
  status: string;
  exit_code: number | null;
  as_of: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  config_path: string;
}

type TransitionLine = Pick<
  LedgerTransition,
  "advisory_id" | "from_state" | "to_state" | "rule_id" | "reason_code" | "fixed_version" | "deciding_source"
>;

interface ChangeCount {
  from_state: string | null;
  to_state: string | null;
  count: number;
}

async function history(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions("history", args, {
    config: { type: "string" },
    run: { type: "string" },
    advisory: { type: "string" },
    limit: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    process.stdout.write(historyUsage);
    return 0;
  }
  let run = stringOption(values.run);
  let advisory = stringOption(values.advisory);
  // A lone positional is accepted as either, told apart by its shape.
  for (const positional of positionals) {
    if (run === undefined && advisory === undefined && runIdPattern.test(positional)) run = positional;
    else if (run === undefined && advisory === undefined && positional.includes(":")) advisory = positional;
    else {
      throw new PipelineError(`unexpected argument '${positional}'`, {
        hint: "use --run <run id> or --advisory <package>:<CVE>; see history --help",
        exitCode: 2,
      });
    }
  }
  if (run !== undefined && advisory !== undefined) {
    throw new PipelineError("give either --run or --advisory, not both", { exitCode: 2 });
  }
  const limit = parseLimit(stringOption(values.limit));
  const json = values.json === true;
  const configPath = stringOption(values.config);

  if (advisory !== undefined) {
    const advisoryId = advisory.trim();
    const periods = await withInspectedDatabase(configPath, async (db) => {
      await requireTables(db, ["marts.mart_advisory_current", "marts.mart_advisory_history"]);
      const found = await readPeriods(db, advisoryId);
      if (found.length === 0) throw await unknownAdvisory(db, advisoryId);
      return found;
    });
    process.stdout.write(
      json
        ? `${JSON.stringify({ advisory_id: advisoryId, history: periods }, null, 2)}\n`
        : `${advisoryId}\n\n${renderPeriods(periods).join("\n")}\n`,
    );
    return 0;
  }

  if (run !== undefined) {
    const runId = normaliseRunId(run);
    const shown = await withInspectedDatabase(configPath, (db) => readRun(db, runId, limit));
    process.stdout.write(json ? `${JSON.stringify(shown, null, 2)}\n` : renderRun(shown));
    return 0;
  }

  const runs = await withInspectedDatabase(configPath, (db) => listRuns(db));
  const listed = limit === 0 ? runs : runs.slice(0, limit);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ run_count: runs.length, omitted: runs.length - listed.length, runs: listed }, null, 2)}\n`,
    );
    return 0;
  }
  const lines =
    runs.length === 0
      ? ["No runs recorded yet."]
      : [
          `Runs (${runs.length}, newest first)`,
          ...table(
            ["RUN ID", "AS OF", "STATUS", "CHANGES"],
            listed.map((entry) => [
              entry.run_id,
              entry.as_of,
              entry.status ?? "(history file only)",
              String(entry.transition_count),
            ]),
            [false, false, false, true],
          ),
          ...more(runs.length - listed.length, "run"),
        ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

/** 20260301T060000Z as is; an ISO timestamp (the run's clock) becomes the run id it gives. */
function normaliseRunId(value: string): string {
  const trimmed = value.trim();
  if (runIdPattern.test(trimmed)) return trimmed;
  const parsed = /^\d{4}-\d{2}-\d{2}T/.test(trimmed) ? new Date(trimmed) : new Date(Number.NaN);
  if (!Number.isNaN(parsed.getTime())) return runIdOf(parsed);
  throw new PipelineError(`'${value}' is not a run id`, {
    hint: "run ids look like 20260301T060000Z; list them with: npm run pipeline -- history",
    exitCode: 2,
  });
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 50;
  if (!/^\d+$/.test(value.trim())) {
    throw new PipelineError(`--limit '${value}' is not a whole number`, {
      hint: "give how many lines to list, or 0 for all",
      exitCode: 2,
    });
  }
  return Number(value.trim());
}

async function listRuns(db: Database): Promise<RunListEntry[]> {
  await requireTables(db, ["meta.runs", "marts.mart_advisory_transitions"]);
  // Runs restored from the history files have transitions but no row in this database's run log.
  return db.all<RunListEntry>(
    `with
     changes as (
       select run_id, min(as_of) as as_of, count(*)::integer as transition_count
       from marts.mart_advisory_transitions
       group by run_id
     )
     select
       coalesce(runs.run_id, changes.run_id) as run_id,
       ${iso("coalesce(runs.as_of, changes.as_of)")} as as_of,
       runs.status,
       ${iso("runs.started_at")} as started_at,
       ${iso("runs.finished_at")} as finished_at,
       coalesce(changes.transition_count, 0) as transition_count
     from meta.runs as runs
     full outer join changes
       on runs.run_id = changes.run_id
     order by coalesce(runs.as_of, changes.as_of) desc, 1 desc`,
  );
}

interface RunDetails {
  run_id: string;
  as_of: string;
  /** The run's row in meta.runs; null for a run known only from the history files. */
  run: RunRecord | null;
  transition_count: number;
  changes: ChangeCount[];
  transitions: TransitionLine[];
  omitted: number;
}

async function readRun(db: Database, runId: string, limit: number): Promise<RunDetails> {
  const runs = await listRuns(db);
  const listed = runs.find((entry) => entry.run_id === runId);
  if (!listed) {
    const latest = runs.slice(0, 5).map((entry) => entry.run_id);
    throw new PipelineError(`run ${runId} is not recorded in the database`, {
      hint:
        latest.length > 0
          ? `the latest runs are ${latest.join(", ")}; list all with: npm run pipeline -- history`
          : "no run is recorded yet: run the pipeline first",
      exitCode: 2,
    });
  }
  const run =
    (await db.one<RunRecord>(
      `select
         run_id,
         run_seq,
         status,
         exit_code,
         ${iso("as_of")} as as_of,
         ${iso("started_at")} as started_at,
         ${iso("finished_at")} as finished_at,
         (epoch_ms(finished_at) - epoch_ms(started_at))::bigint as duration_ms,
         config_path
       from meta.runs
       where run_id = ?`,
      [runId],
    )) ?? null;
  const changes = await db.all<ChangeCount>(
    `select from_state, to_state, count(*)::integer as count
     from marts.mart_advisory_transitions
     where run_id = ?
     group by all
     order by count desc, from_state nulls first, to_state nulls last`,
    [runId],
  );
  const transitions = await db.all<TransitionLine>(
    `select advisory_id, from_state, to_state, rule_id, reason_code, fixed_version, deciding_source
     from marts.mart_advisory_transitions
     where run_id = ?
     order by advisory_id
     ${limit === 0 ? "" : `limit ${limit}`}`,
    [runId],
  );
  return {
    run_id: runId,
    as_of: listed.as_of,
    run: run ? { ...run, duration_ms: run.duration_ms === null ? null : Number(run.duration_ms) } : null,
    transition_count: listed.transition_count,
    changes,
    transitions,
    omitted: listed.transition_count - transitions.length,
  };
}

function renderRun(details: RunDetails): string {
  const { run } = details;
  const facts: Array<[string, string]> = run
    ? [
        ["Status", `${run.status}${run.exit_code === null ? "" : ` (exit code ${run.exit_code})`}`],
        ["As of", run.as_of],
        ["Started", run.started_at],
        [
          "Finished",
          run.finished_at === null
            ? "-"
            : `${run.finished_at}${run.duration_ms === null ? "" : ` (${(run.duration_ms / 1000).toFixed(1)} s)`}`,
        ],
        ["Run number", String(run.run_seq)],
        ["Config", run.config_path],
      ]
    : [
        ["Status", "unknown: this database's run log does not hold the run (it came from the history files)"],
        ["As of", details.as_of],
      ];
  const lines = [`Run ${details.run_id}`, ...keyValues(facts), ""];
  if (details.transition_count === 0) {
    lines.push("Decision changes: none (the run changed no decision)");
  } else {
    lines.push(
      `Decision changes: ${details.transition_count}`,
      ...table(
        ["CHANGE", "COUNT"],
        details.changes.map((change) => [
          changeLabel(change.from_state, change.to_state),
          String(change.count),
        ]),
        [false, true],
      ),
      "",
      "Transitions",
      ...table(
        ["ADVISORY", "CHANGE", "RULE", "REASON CODE", "FIXED VERSION"],
        details.transitions.map((transition) => [
          transition.advisory_id,
          changeLabel(transition.from_state, transition.to_state),
          text(transition.rule_id),
          text(transition.reason_code),
          text(transition.fixed_version),
        ]),
      ),
      ...more(details.omitted, "transition"),
    );
    if (run && run.status !== "succeeded") {
      lines.push("", `Note: this run ended ${run.status}; its changes may not have been published.`);
    }
  }
  return `${lines.join("\n")}\n`;
}

// ------------------------------------------------------------------------------------------------ shared

type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

function parseOptions(command: InspectCommand, args: string[], options: OptionSpec) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new PipelineError(errorMessage(error), {
      hint: `see: npm run pipeline -- ${command} --help`,
      exitCode: 2,
    });
  }
}

function stringOption(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * Opens the configured database read-only. A missing file is an error, not a new empty database: there is
 * nothing to inspect before the pipeline has run.
 */
async function withInspectedDatabase<T>(
  configPath: string | undefined,
  work: (db: Database) => Promise<T>,
): Promise<T> {
  // Inspecting reads the database only: it needs neither dbt nor the sources' files.
  const config = await loadConfig(configPath ?? "config.yaml", { checkPaths: false });
  if (!existsSync(config.database)) {
    throw new PipelineError("the database does not exist, so there is nothing to inspect yet", {
      location: { file: config.database },
      hint: `run the pipeline first with npm run pipeline -- --config ${config.configPath}, or check database: in the config`,
      exitCode: 2,
    });
  }
  let db: Database;
  try {
    const instance = await DuckDBInstance.create(config.database, {
      access_mode: "READ_ONLY",
      autoinstall_known_extensions: "false",
      threads: "2",
      memory_limit: config.duckdb.memory_limit,
    });
    db = new Database(instance, await instance.connect());
  } catch (error) {
    throw new PipelineError(`cannot open the database: ${errorMessage(error).split("\n")[0]}`, {
      location: { file: config.database },
      hint: "a pipeline run in progress holds the database; try again when it has finished",
      cause: error,
    });
  }
  try {
    return await work(db);
  } finally {
    db.close();
  }
}

async function columnExists(db: Database, qualified: string, column: string): Promise<boolean> {
  const [schema, name] = qualified.split(".");
  const row = await db.one<{ found: boolean }>(
    `select count(*) > 0 as found from information_schema.columns
     where table_schema = ? and table_name = ? and column_name = ?`,
    [schema ?? "", name ?? "", column],
  );
  return row?.found === true;
}

async function tableExists(db: Database, qualified: string): Promise<boolean> {
  const [schema, name] = qualified.split(".");
  const row = await db.one<{ found: boolean }>(
    `select count(*) > 0 as found from information_schema.tables where table_schema = ? and table_name = ?`,
    [schema ?? "", name ?? ""],
  );
  return row?.found === true;
}

async function requireTables(db: Database, tables: string[]): Promise<void> {
  for (const table of tables) {
    if (!(await tableExists(db, table))) {
      throw new PipelineError(`the database has no ${table} yet: no run has decided the advisories`, {
        hint: "run the pipeline first; a run that fails before its transform stage builds no decisions",
        exitCode: 2,
      });
    }
  }
}

function text(value: string | null | undefined): string {
  return value === null || value === undefined || value === "" ? "-" : value;
}

function listOrNone(values: string[]): string {
  return values.length === 0 ? "none" : values.join(", ");
}

function withRun(at: string | null, runId: string | null): string {
  return `${text(at)}${runId ? ` (run ${runId})` : ""}`;
}

function keyValues(facts: Array<[string, string]>): string[] {
  const width = Math.max(...facts.map(([key]) => key.length));
  return facts.map(([key, value]) => `  ${key.padEnd(width)}  ${value}`);
}

function more(count: number, noun: string): string[] {
  return count > 0 ? [`  … and ${count} more ${noun}${count === 1 ? "" : "s"} (--limit 0 lists all)`] : [];
}
