import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import {
  ledgerPath,
  listLedgerFiles,
  parseLedgerText,
  serialiseLedger,
  streamedLedgerChunks,
} from "../formats/ledger.ts";
import type { LedgerTransition } from "../formats/ledger-transition.ts";
import type { Database } from "../lib/db.ts";
import { writeFileAtomic } from "../lib/files.ts";

/**
 * The decision ledger in the database: history.advisory_transitions holds what the ledger files
 * (formats/ledger.ts) hold, restored from them at the start of every run, since the database is a cache that
 * may be lost and the files are the history.
 */
/** Columns of history.advisory_transitions, in table order; evidence is flattened, lists kept as lists. */
const tableColumns = [
  ["run_id", "varchar not null"],
  ["as_of", "timestamptz not null"],
  ["advisory_id", "varchar not null"],
  ["from_state", "varchar"],
  ["to_state", "varchar"],
  ["state_type", "varchar"],
  ["rule_id", "varchar"],
  ["reason_code", "varchar"],
  ["fixed_version", "varchar"],
  ["unaffected_from_version", "varchar"],
  ["confidence", "double"],
  ["deciding_source", "varchar"],
  ["evidence_signal", "varchar"],
  ["evidence_version", "varchar"],
  ["evidence_reason", "varchar"],
  ["evidence_release", "varchar"],
  ["evidence_record", "varchar"],
  ["evidence_date", "timestamptz"],
  ["evidence_fetched_at", "timestamptz"],
  ["is_evidence_stale", "boolean"],
  ["contributing_sources", "varchar[]"],
  ["dissenting_sources", "varchar[]"],
  ["ledger_file", "varchar not null"],
  ["ledger_line", "integer not null"],
] as const;

export async function createHistoryTables(db: Database): Promise<void> {
  await db.run(`
    create schema if not exists history;
    create table if not exists history.advisory_transitions (
      ${tableColumns.map(([name, type]) => `${name} ${type}`).join(",\n      ")},
      primary key (run_id, advisory_id)
    );
    -- Which ledger files (run id and SHA-256) history.advisory_transitions holds, so a run restores only
    -- the files that are new since.
    create table if not exists history.restored_ledger_files (
      run_id varchar primary key,
      sha256 varchar not null
    );
  `);
}

export interface LedgerFile {
  runId: string;
  path: string;
  /** SHA-256 of the file's bytes: a later run tells from it that the history is as this run left it. */
  sha256: string;
  transitions: LedgerTransition[];
}

/**
 * Reads every ledger file, oldest run first. A damaged file stops the run with its name, line and key:
 * deciding on a partial history would record transitions that never happened.
 */
export async function readLedger(historyDir: string): Promise<LedgerFile[]> {
  return (await readLedgerFiles(historyDir, () => true)).map((file) => ({
    ...file,
    transitions: file.transitions ?? [],
  }));
}

/** A ledger file, parsed or not (when the database already holds its rows). */
export interface LedgerFileRead extends Omit<LedgerFile, "transitions"> {
  transitions: LedgerTransition[] | null;
}

/** What a run restores: every file's digest, and the files whose rows the database lacks, parsed. */
export interface LedgerToRestore {
  files: LedgerFileRead[];
  /** Only the parsed files' rows go in; the rest are in the database already, unchanged. */
  incremental: boolean;
}

/**
 * Reads the ledger for a run. The files the database restored earlier, with the same SHA-256, are hashed
 * but not parsed again: they were checked then, and their rows are there. When a restored file changed or
 * went, every file is parsed and the history is replaced whole.
 */
export async function readLedgerToRestore(db: Database, historyDir: string): Promise<LedgerToRestore> {
  const restored = new Map(
    (
      await db.all<{ run_id: string; sha256: string }>(
        "select run_id, sha256 from history.restored_ledger_files",
      )
    ).map((row) => [row.run_id, row.sha256]),
  );
  // New or changed files are parsed as they are read; the restored ones only if the history must be
  // replaced whole after all (one of them changed or went), which reads those a second time.
  const files = await readLedgerFiles(historyDir, (runId, sha256) => restored.get(runId) !== sha256);
  const current = new Map(files.map((file) => [file.runId, file.sha256]));
  const incremental = [...restored].every(([runId, sha256]) => current.get(runId) === sha256);
  if (!incremental) {
    for (const file of files) {
      file.transitions ??= parseLedgerText(await readFile(file.path), file.path, file.runId);
    }
  }
  return { files, incremental };
}

/** Every ledger file's run id and SHA-256, oldest first, read without parsing any. */
export async function readLedgerDigests(historyDir: string): Promise<LedgerFileRead[]> {
  return readLedgerFiles(historyDir, () => false);
}

/** The ledger files with their digests; `parse` says which to parse (a damaged one stops the run). */
async function readLedgerFiles(
  historyDir: string,
  parse: (runId: string, sha256: string) => boolean,
): Promise<LedgerFileRead[]> {
  const files: LedgerFileRead[] = [];
  for (const { runId, path } of await listLedgerFiles(historyDir)) {
    const bytes = await readFile(path);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    files.push({
      runId,
      path,
      sha256,
      transitions: parse(runId, sha256) ? parseLedgerText(bytes, path, runId) : null,
    });
  }
  return files;
}

/** The latest run the ledger knows, so that a run never decides "before" history it would contradict. */
export function latestLedgerRun(files: readonly { runId: string }[]): string | undefined {
  return files.at(-1)?.runId;
}

/**
 * Makes history.advisory_transitions hold the ledger files' content: the files are the truth, the table is
 * what dbt reads. Incrementally, the parsed files' rows replace those of the same runs; otherwise the whole
 * table is replaced. One transaction, with the list of files restored, so dbt never sees half a history.
 * Returns the number of rows written.
 */
export async function restoreLedger(db: Database, { files, incremental }: LedgerToRestore): Promise<number> {
  let count = 0;
  await db.transaction(async () => {
    // Everything goes in as text through the appender; one insert casts it to the table's types.
    await db.run(
      `create or replace temp table incoming_transitions (${tableColumns.map(([name]) => `${name} varchar`).join(", ")})`,
    );
    const appender = await db.connection.createAppender("incoming_transitions", "main", "temp");
    for (const file of files) {
      file.transitions?.forEach((transition, index) => {
        for (const value of ledgerRowTexts(transition, file.path, index + 1)) {
          if (value === null) appender.appendNull();
          else appender.appendVarchar(value);
        }
        appender.endRow();
        count += 1;
      });
    }
    appender.closeSync();
    if (incremental) {
      await db.run(
        "delete from history.advisory_transitions where run_id in (select distinct run_id from temp.incoming_transitions)",
      );
    } else await db.run("delete from history.advisory_transitions");
    await db.run(
      `insert into history.advisory_transitions
       select ${tableColumns.map(([name, type]) => castFromText(name, type)).join(", ")}
       from temp.incoming_transitions`,
    );
    await db.run("drop table temp.incoming_transitions");
    await db.run("delete from history.restored_ledger_files");
    for (const file of files) {
      await db.run("insert into history.restored_ledger_files values (?, ?)", [file.runId, file.sha256]);
    }
  });
  return count;
}

function castFromText(name: string, type: string): string {
  const target = type.replace(" not null", "");
  return target === "varchar[]" ? `from_json(${name}, '["VARCHAR"]')` : `${name}::${target}`;
}

function ledgerRowTexts(transition: LedgerTransition, file: string, line: number): (string | null)[] {
  const evidence = transition.evidence;
  const text = (value: string | number | boolean | null | undefined) =>
    value === null || value === undefined ? null : String(value);
  // Same order as tableColumns.
  return [
    transition.run_id,
    transition.as_of,
    transition.advisory_id,
    transition.from_state,
    transition.to_state,
    transition.state_type,
    transition.rule_id,
    transition.reason_code,
    transition.fixed_version,
    transition.unaffected_from_version,
    text(transition.confidence),
    transition.deciding_source,
    text(evidence?.signal),
    text(evidence?.version),
    text(evidence?.reason),
    text(evidence?.release),
    text(evidence?.record),
    text(evidence?.date),
    text(evidence?.fetched_at),
    text(evidence?.stale),
    JSON.stringify(transition.contributing_sources),
    JSON.stringify(transition.dissenting_sources),
    file,
    String(line),
  ];
}

interface TransitionRow {
  run_id: string;
  as_of: string;
  advisory_id: string;
  from_state: string | null;
  to_state: string | null;
  state_type: "final" | "non_final" | null;
  rule_id: string | null;
  reason_code: string | null;
  fixed_version: string | null;
  unaffected_from_version: string | null;
  confidence: number | string | null;
  deciding_source: string | null;
  evidence_signal: string | null;
  evidence_version: string | null;
  evidence_reason: string | null;
  evidence_release: string | null;
  evidence_record: string | null;
  evidence_date: string | null;
  evidence_fetched_at: string | null;
  is_evidence_stale: boolean | null;
  contributing_sources: string[] | null;
  dissenting_sources: string[] | null;
}

const isoOrNull = (value: string | null) => (value === null ? null : new Date(value).toISOString());

/**
 * Each of the run's transitions as one JSON text, ordered by advisory: DuckDB hands a row to JavaScript value
 * by value, which for a first run's million transitions took half of the export, while JSON.parse of one text
 * per row is native. The values parse to what the row objects held (strings, numbers, lists, null).
 */
const runTransitionsSql = `select
       to_json(struct_pack(
         run_id, as_of := as_of::varchar, advisory_id, from_state, to_state, state_type, rule_id, reason_code,
         fixed_version, unaffected_from_version, confidence := confidence::double, deciding_source,
         evidence_signal, evidence_version, evidence_reason, evidence_release, evidence_record,
         evidence_date := evidence_date::varchar, evidence_fetched_at := evidence_fetched_at::varchar,
         is_evidence_stale, contributing_sources, dissenting_sources
       ))::varchar as transition
     from marts.mart_advisory_transitions
     where run_id = ?
     order by advisory_id`;

/** This run's transitions as dbt decided them, in ledger form, ordered by advisory. */
export async function readRunTransitions(db: Database, runId: string): Promise<LedgerTransition[]> {
  const transitions: LedgerTransition[] = [];
  for await (const chunk of streamRunTransitions(db, runId)) transitions.push(...chunk);
  return transitions;
}

/**
 * The same, a chunk at a time: a first run at 25× the vendor's data makes a million transitions, which held
 * at once in JavaScript were most of the run's peak memory.
 */
export async function* streamRunTransitions(db: Database, runId: string): AsyncGenerator<LedgerTransition[]> {
  for await (const rows of db.stream<{ transition: string }>(runTransitionsSql, [runId])) {
    yield rows.map((row) => toLedgerTransition(JSON.parse(row.transition) as TransitionRow));
  }
}

/** How many of this run's transitions go from each state to each other one. */
export async function countRunTransitions(
  db: Database,
  runId: string,
): Promise<{ from: string | null; to: string | null; count: number }[]> {
  return db.all(
    `select from_state as "from", to_state as "to", count(*)::integer as count
     from marts.mart_advisory_transitions
     where run_id = ?
     group by from_state, to_state`,
    [runId],
  );
}

function toLedgerTransition(row: TransitionRow): LedgerTransition {
  return {
    run_id: row.run_id,
    as_of: new Date(row.as_of).toISOString(),
    advisory_id: row.advisory_id,
    from_state: row.from_state,
    to_state: row.to_state,
    state_type: row.state_type,
    rule_id: row.rule_id,
    reason_code: row.reason_code,
    fixed_version: row.fixed_version,
    unaffected_from_version: row.unaffected_from_version,
    confidence: row.confidence === null ? null : Number(row.confidence),
    deciding_source: row.deciding_source,
    evidence:
      row.to_state === null
        ? null
        : {
            signal: row.evidence_signal,
            version: row.evidence_version,
            reason: row.evidence_reason,
            release: row.evidence_release,
            record: row.evidence_record,
            date: isoOrNull(row.evidence_date),
            fetched_at: isoOrNull(row.evidence_fetched_at),
            stale: row.is_evidence_stale ?? false,
          },
    contributing_sources: row.contributing_sources ?? [],
    dissenting_sources: row.dissenting_sources ?? [],
  };
}

/**
 * This run's ledger file as one file of the run's release: its content, or `null` (remove it) when the run
 * changed nothing, so a re-run of the same run (same clock) replaces what the earlier attempt wrote.
 */
export function runLedgerFile(
  historyDir: string,
  runId: string,
  transitionCount: number,
  transitions: AsyncIterable<readonly LedgerTransition[]>,
): { path: string; content: AsyncIterable<string> | null } {
  return {
    path: ledgerPath(historyDir, runId),
    content: transitionCount === 0 ? null : streamedLedgerChunks(transitions),
  };
}

/**
 * Writes this run's ledger file, or removes it when the run changed nothing: a re-run of the same run (same
 * clock) then replaces what the earlier attempt wrote instead of adding to it.
 */
export async function writeRunLedger(
  historyDir: string,
  runId: string,
  transitions: readonly LedgerTransition[],
): Promise<string | null> {
  const path = ledgerPath(historyDir, runId);
  if (transitions.length === 0) {
    await rm(path, { force: true });
    return null;
  }
  await writeFileAtomic(path, serialiseLedger(transitions));
  return path;
}
