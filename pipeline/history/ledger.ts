import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { compactUtc } from "../lib/clock.ts";
import type { Database } from "../lib/db.ts";
import { PipelineError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/files.ts";
import { parseOwnJsonFile } from "../lib/json-file.ts";
import type { RunSummaryJson } from "../run.ts";

/**
 * The decision ledger: every change of an advisory's decision (state, deciding rule or published version),
 * one JSON object per line, one file per run that changed something (`transitions/<run id>.jsonl`). The
 * database is a cache that may be lost (CI machines are ephemeral); these files are the history. They only
 * grow: a run adds at most one new file and never rewrites an older one, so they diff and merge well in git.
 */
export const transitionsDirName = "transitions";

const runIdPattern = /^\d{8}T\d{6}Z$/;
const fileNamePattern = /^(\d{8}T\d{6}Z)\.jsonl$/;

const nullableText = z.string().min(1).nullable();

export const ledgerTransition = z
  .object({
    run_id: z.string().regex(runIdPattern, "must be a run id such as 20260131T070000Z"),
    as_of: z.iso.datetime({ offset: true }),
    advisory_id: z.string().regex(/^[^:\s]+:[^:\s]+$/, "must be <package>:<vulnerability id>"),
    from_state: nullableText,
    to_state: nullableText,
    state_type: z.enum(["final", "non_final"]).nullable(),
    rule_id: nullableText,
    reason_code: nullableText,
    fixed_version: nullableText,
    unaffected_from_version: nullableText,
    confidence: z.number().min(0).max(1).nullable(),
    deciding_source: nullableText,
    evidence: z
      .object({
        signal: nullableText,
        version: nullableText,
        reason: nullableText,
        release: nullableText,
        record: nullableText,
        date: z.iso.datetime({ offset: true }).nullable(),
        fetched_at: z.iso.datetime({ offset: true }).nullable(),
        stale: z.boolean(),
      })
      .strict()
      .nullable(),
    contributing_sources: z.array(z.string()),
    dissenting_sources: z.array(z.string()),
  })
  .strict();
export type LedgerTransition = z.infer<typeof ledgerTransition>;

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

export function ledgerPath(historyDir: string, runId: string): string {
  return join(historyDir, transitionsDirName, `${runId}.jsonl`);
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

/**
 * The ledger files, oldest run first, without reading them. A file not named as the pipeline names them
 * stops the reader: it would be history nobody can place.
 */
export async function listLedgerFiles(historyDir: string): Promise<{ runId: string; path: string }[]> {
  const directory = join(historyDir, transitionsDirName);
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new PipelineError(`cannot read the history directory: ${(error as Error).message}`, {
      location: { file: directory },
    });
  }
  const files: { runId: string; path: string }[] = [];
  for (const name of names.sort()) {
    if (name.endsWith(".tmp")) continue; // left by a crash during an atomic write; never complete
    const match = fileNamePattern.exec(name);
    const path = join(directory, name);
    if (!match) {
      throw new PipelineError("unexpected file in the history directory", {
        location: { file: path },
        hint: "history files are named <run id>.jsonl, e.g. 20260131T070000Z.jsonl; move other files elsewhere",
        exitCode: 2,
      });
    }
    files.push({ runId: match[1] as string, path });
  }
  return files;
}

/**
 * A ledger file's transitions. Given as bytes it is split into lines before any decoding: a first run at 25×
 * the vendor's data writes a million lines, more text than one JavaScript string can hold.
 */
export function parseLedgerText(text: string | Buffer, path: string, runId: string): LedgerTransition[] {
  const lines = typeof text === "string" ? text.split("\n") : splitLines(text);
  if (lines.at(-1) === "") lines.pop();
  else if (lines.length > 0) throw truncatedLedger(path, lines.length);
  const checker = new LedgerLineChecker(path, runId);
  return lines.map((line, index) => checker.check(line, index + 1));
}

/**
 * A ledger file's transitions, read a chunk at a time and checked as parseLedgerText checks them, for a
 * reader that needs each transition once (the site): a million of them never sit in memory together.
 */
export async function* readLedgerFileTransitions(
  path: string,
  runId: string,
): AsyncGenerator<LedgerTransition> {
  const checker = new LedgerLineChecker(path, runId);
  let pending: Buffer = Buffer.alloc(0);
  let lineNumber = 0;
  for await (const chunk of createReadStream(path)) {
    const bytes = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
      lineNumber += 1;
      yield checker.check(bytes.toString("utf8", start, end), lineNumber);
      start = end + 1;
    }
    pending = bytes.subarray(start);
  }
  if (pending.length > 0) throw truncatedLedger(path, lineNumber + 1);
}

function truncatedLedger(path: string, line: number): PipelineError {
  return new PipelineError("the last line has no line end: the file looks truncated", {
    location: { file: path, line },
    exitCode: 2,
  });
}

/** Checks a ledger file's lines in order: each a valid transition of the file's run, no advisory twice. */
class LedgerLineChecker {
  private readonly seen = new Set<string>();
  private checkedAsOf: string | undefined;
  private readonly path: string;
  private readonly runId: string;

  constructor(path: string, runId: string) {
    this.path = path;
    this.runId = runId;
  }

  check(line: string, lineNumber: number): LedgerTransition {
    const location = { file: this.path, line: lineNumber };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new PipelineError(`not a JSON object: ${(error as Error).message}`, { location, exitCode: 2 });
    }
    const parsed = ledgerTransition.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new PipelineError(issue?.message ?? "invalid transition", {
        location: { ...location, key: issue?.path.join(".") || "(line)" },
        exitCode: 2,
      });
    }
    const transition = parsed.data;
    if (transition.run_id !== this.runId) {
      throw new PipelineError(`run_id ${transition.run_id} does not match the file's run ${this.runId}`, {
        location: { ...location, key: "run_id" },
        exitCode: 2,
      });
    }
    // Every line of a run has the same as_of: checked once, not a million times.
    if (transition.as_of !== this.checkedAsOf && compactUtc(new Date(transition.as_of)) !== this.runId) {
      throw new PipelineError(`as_of ${transition.as_of} is not the time of run ${this.runId}`, {
        location: { ...location, key: "as_of" },
        exitCode: 2,
      });
    }
    if (this.seen.has(transition.advisory_id)) {
      throw new PipelineError(`advisory ${transition.advisory_id} appears twice in one run`, {
        location: { ...location, key: "advisory_id" },
        exitCode: 2,
      });
    }
    this.seen.add(transition.advisory_id);
    this.checkedAsOf = transition.as_of;
    return transition;
  }
}

/** The bytes' lines as text, split at each "\n" (the last one empty when the bytes end with one). */
function splitLines(bytes: Buffer): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.toString("utf8", start, end));
    start = end + 1;
  }
  lines.push(bytes.toString("utf8", start));
  return lines;
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

/** Canonical text of one run's file: one transition per line, keys in schema order, sorted by advisory. */
export function serialiseLedger(transitions: readonly LedgerTransition[]): string {
  return [...ledgerChunks(transitions)].join("");
}

/** The ledger's lines, a thousand at a time: a first run's million transitions pass V8's longest string. */
function* ledgerChunks(transitions: readonly LedgerTransition[]): Generator<string> {
  for (let start = 0; start < transitions.length; start += 1000) {
    let chunk = "";
    for (const transition of transitions.slice(start, start + 1000))
      chunk += `${JSON.stringify(ledgerTransition.parse(transition))}\n`;
    yield chunk;
  }
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

async function* streamedLedgerChunks(
  transitions: AsyncIterable<readonly LedgerTransition[]>,
): AsyncGenerator<string> {
  for await (const chunk of transitions) yield* ledgerChunks(chunk);
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

/**
 * Per-run summaries: every run that is not a dry run (published or blocked) keeps a copy of its
 * run_summary.json as `runs/<run id>.json`, so the site can show every run and not only the latest. A re-run of
 * the same run (same clock) replaces its file; no other run touches it.
 */
export const runSummariesDirName = "runs";

const summaryFileNamePattern = /^(\d{8}T\d{6}Z)\.json$/;

/** The few fields every reader relies on; the rest is passed through as written (see RunSummaryJson). */
const runSummaryShape = z.looseObject({
  run_id: z.string().regex(runIdPattern, "must be a run id such as 20260131T070000Z"),
  status: z.string().min(1),
  as_of: z.iso.datetime({ offset: true }),
  advisory_count: z.number().int().min(0),
  state_distribution: z.array(
    z.looseObject({ state: z.string(), state_type: z.string(), count: z.number().int().min(0) }),
  ),
  transitions: z.array(
    z.looseObject({ from: z.string().nullable(), to: z.string().nullable(), count: z.number().int().min(0) }),
  ),
  checks: z.array(
    z.looseObject({
      check_id: z.string(),
      severity: z.string(),
      passed: z.boolean(),
      failing_count: z.number().int().min(0),
      examples: z.array(z.string()),
    }),
  ),
});

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
  const directory = join(historyDir, runSummariesDirName);
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new PipelineError(`cannot read the run summaries directory: ${(error as Error).message}`, {
      location: { file: directory },
    });
  }
  const files: RunSummaryFile[] = [];
  for (const name of names.sort()) {
    if (name.endsWith(".tmp")) continue; // left by a crash during an atomic write; never complete
    const match = summaryFileNamePattern.exec(name);
    const path = join(directory, name);
    if (!match) {
      throw new PipelineError("unexpected file in the run summaries directory", {
        location: { file: path },
        hint: "run summaries are named <run id>.json, e.g. 20260131T070000Z.json; move other files elsewhere",
        exitCode: 2,
      });
    }
    const runId = match[1] as string;
    files.push({ runId, path, summary: parseRunSummaryText(await readFile(path, "utf8"), path, runId) });
  }
  return files;
}

export function parseRunSummaryText(text: string, path: string, runId: string): RunSummaryJson {
  const summary = parseOwnJsonFile(text, path, runSummaryShape, "not a run summary");
  if (summary.run_id !== runId) {
    throw new PipelineError(`run_id ${summary.run_id} does not match the file's run ${runId}`, {
      location: { file: path, key: "run_id" },
      exitCode: 2,
    });
  }
  return summary as unknown as RunSummaryJson;
}
