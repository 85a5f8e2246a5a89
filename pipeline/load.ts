import { createHash, type Hash } from "node:crypto";
import { type DuckDBAppender, DuckDBTimestampTZValue } from "@duckdb/node-api";
import type { IngestedSource } from "./ingest.ts";
import { pauseHereForCrashTest } from "./lib/crash-test-pause.ts";
import type { Database } from "./lib/db.ts";
import { sha256 } from "./lib/hash.ts";
import type { LandingColumn, LandingValue, SourceAdapter, SourceStatus } from "./sources/types.ts";

export interface LoadedSource {
  source: string;
  status: SourceStatus;
  snapshotHash: string | null;
  newSnapshot: boolean;
  newObservations: number;
}

/**
 * Lands each source's observations in DuckDB. Every observation is keyed by a hash of its content and each
 * delivery by a hash of its member list, so loading identical input again adds no landing rows; the run
 * ledger (`meta.source_fetches`) still records that the source was fetched.
 */
export async function loadSources(
  db: Database,
  runId: string,
  sources: readonly IngestedSource[],
): Promise<LoadedSource[]> {
  const loaded: LoadedSource[] = [];
  for (const ingested of sources) {
    loaded.push(await db.transaction(() => loadSource(db, runId, ingested)));
  }
  return loaded;
}

async function loadSource(db: Database, runId: string, ingested: IngestedSource): Promise<LoadedSource> {
  const { adapter, health } = ingested;
  const fetchedAt = new DuckDBTimestampTZValue(BigInt(ingested.fetchedAt.getTime()) * 1000n);
  let snapshotHash: string | null = null;
  let newSnapshot = false;
  let newObservations = 0;
  let delivery: "full" | "incremental" = ingested.incremental ? "incremental" : "full";

  if (ingested.unchanged) {
    // Nothing changed upstream: the snapshot this source delivered last time is still the current one.
    const previous = await db.one<{ snapshot_hash: string; delivery: string }>(
      `select fetches.snapshot_hash, fetches.delivery from meta.source_fetches as fetches
       inner join meta.runs as runs on runs.run_id = fetches.run_id
       where fetches.source = ? and fetches.snapshot_hash is not null
       order by runs.run_seq desc limit 1`,
      [adapter.name],
    );
    snapshotHash = previous?.snapshot_hash ?? null;
    // Re-recording a delivery keeps its kind: an unchanged incremental must not pose as a full one.
    delivery = previous?.delivery === "incremental" ? "incremental" : "full";
  } else if (ingested.staged) {
    snapshotHash = ingested.staged.snapshotHash;
    const known = await db.one<{ first_run_id: string }>(
      "select first_run_id from landing.snapshots where snapshot_hash = ?",
      [snapshotHash],
    );
    if (!known) {
      newSnapshot = true;
      newObservations = await landSnapshot(db, runId, adapter, ingested.staged, fetchedAt);
    } else if (known.first_run_id === runId) {
      // This run is being done again (same clock): report what its first attempt landed, as that did.
      newSnapshot = true;
      const landed = await db.one<{ n: number }>(
        `select count(*)::integer as n from landing.${adapter.landingTable} where run_id = ? and source = ?`,
        [runId, adapter.name],
      );
      newObservations = landed?.n ?? 0;
    }
  }
  if (ingested.staged) await db.run(`drop table if exists temp.${ingested.staged.table}`);

  await db.run(
    `insert or replace into meta.source_fetches
       (run_id, source, status, snapshot_hash, new_snapshot, delivery, unchanged, observations, rejected, bytes,
        requests, retries, duration_ms, error, fetched_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      runId,
      adapter.name,
      health.status,
      snapshotHash,
      newSnapshot,
      delivery,
      ingested.unchanged,
      health.observations,
      health.rejected,
      health.bytes,
      health.requests,
      health.retries,
      health.durationMs,
      health.error ?? null,
      fetchedAt,
    ],
  );
  if (ingested.checkpoint !== null && snapshotHash !== null) {
    await db.run(
      "insert or replace into meta.source_checkpoints (source, checkpoint, run_id, saved_at) values (?, ?, ?, ?)",
      [adapter.name, ingested.checkpoint, runId, fetchedAt],
    );
  }
  await db.run("delete from meta.rejected_records where run_id = ? and source = ?", [runId, adapter.name]);
  if (ingested.rejections.length > 0) {
    const appender = await db.connection.createAppender("rejected_records", "meta");
    for (const rejection of ingested.rejections) {
      appender.appendVarchar(runId);
      appender.appendVarchar(adapter.name);
      appendNullable(appender, rejection.location.file);
      if (rejection.location.line === undefined) appender.appendNull();
      else appender.appendInteger(rejection.location.line);
      appendNullable(appender, rejection.location.key);
      appender.appendVarchar(rejection.reason);
      appendNullable(appender, rejection.excerpt);
      appender.endRow();
    }
    appender.closeSync();
  }
  return { source: adapter.name, status: health.status, snapshotHash, newSnapshot, newObservations };
}

/**
 * A source's rows as its fetch yields them, appended straight to a temporary table with their content hash
 * and position: at 25× the vendor's data they are millions, which JavaScript would hold at several GB until
 * the load. The snapshot hash is computed on the way. The sources are fetched concurrently on one connection:
 * every stage is opened before the fetches start and dropped after they end, so that while they run the
 * connection only sees appends, which are synchronous and so never overlap.
 */
export class RowStage {
  readonly table: string;
  private readonly columns: readonly LandingColumn[];
  private readonly appender: DuckDBAppender;
  private readonly snapshot: Hash;
  private count = 0;

  private constructor(
    table: string,
    columns: readonly LandingColumn[],
    appender: DuckDBAppender,
    source: string,
  ) {
    this.table = table;
    this.columns = columns;
    this.appender = appender;
    this.snapshot = createHash("sha256").update(`${source}\n`);
  }

  static async open(db: Database, adapter: SourceAdapter<unknown>): Promise<RowStage> {
    const table = `staged_${adapter.name}`;
    const columns = adapter.landingColumns.map((column) => `${column.name} ${column.type}`).join(", ");
    await db.run(
      `create or replace temp table ${table} (content_hash varchar, position integer, ${columns})`,
    );
    const appender = await db.connection.createAppender(table, "main", "temp");
    return new RowStage(table, adapter.landingColumns, appender, adapter.name);
  }

  /** `position`: where the row stood in the input (a CSV line); its 1-based order when not given. */
  add(row: readonly LandingValue[], position?: number): void {
    this.count += 1;
    const at = position ?? this.count;
    const hash = rowContentHash(row);
    // Positions are part of the snapshot so that a reordered CSV reports its rows at their new lines.
    this.snapshot.update(`${this.count === 1 ? "" : "\n"}${at} ${hash}`);
    const appender = this.appender;
    appender.appendVarchar(hash);
    appender.appendInteger(at);
    row.forEach((value, index) => {
      if (value === null) appender.appendNull();
      else if (this.columns[index]?.type === "INTEGER") appender.appendInteger(Number(value));
      else appender.appendVarchar(String(value));
    });
    appender.endRow();
  }

  /** The staged delivery; the rows are in `temp.<table>` until the load lands or drops them. */
  finish(): StagedRows {
    this.appender.closeSync();
    return { table: this.table, count: this.count, snapshotHash: this.snapshot.digest("hex") };
  }

  /** After a failed fetch: no more rows come. The table is dropped once no fetch is appending (drop()). */
  abandon(): void {
    try {
      this.appender.closeSync();
    } catch {
      // Already closed, or its last flush failed: the rows are thrown away either way.
    }
  }

  async drop(db: Database): Promise<void> {
    await db.run(`drop table if exists temp.${this.table}`);
  }
}

export interface StagedRows {
  /** Temporary table: content_hash, position, then the landing columns. */
  table: string;
  count: number;
  /** Over the source's name and every row's position and content hash, in input order. */
  snapshotHash: string;
}

/**
 * A landing row's content key: the SHA-256 of its values as a JSON array. For a flat list of strings, finite
 * numbers and nulls JSON.stringify gives exactly the canonical JSON the keys were first computed over, at a
 * fraction of the cost.
 */
export function rowContentHash(row: readonly LandingValue[]): string {
  return sha256(JSON.stringify(row));
}

async function landSnapshot(
  db: Database,
  runId: string,
  adapter: SourceAdapter<unknown>,
  staged: StagedRows,
  fetchedAt: DuckDBTimestampTZValue,
): Promise<number> {
  const columnNames = adapter.landingColumns.map((column) => column.name).join(", ");
  const before = await db.one<{ n: number }>(
    `select count(*)::integer as n from landing.${adapter.landingTable}`,
  );
  await db.run(
    `insert into landing.${adapter.landingTable} (content_hash, source, run_id, fetched_at, ${columnNames})
     select distinct on (content_hash) content_hash, ?, ?, ?, ${columnNames}
     from temp.${staged.table}
     where content_hash not in (select content_hash from landing.${adapter.landingTable})
     order by content_hash`,
    [adapter.name, runId, fetchedAt],
  );
  const after = await db.one<{ n: number }>(
    `select count(*)::integer as n from landing.${adapter.landingTable}`,
  );
  pauseHereForCrashTest("load:observations-landed");
  await db.run(
    `insert into landing.snapshots (snapshot_hash, source, first_run_id, fetched_at, observation_count)
     values (?, ?, ?, ?, ?)`,
    [staged.snapshotHash, adapter.name, runId, fetchedAt, staged.count],
  );
  await db.run(
    `insert into landing.snapshot_members (snapshot_hash, content_hash, position)
     select ?, content_hash, min(position) from temp.${staged.table} group by content_hash`,
    [staged.snapshotHash],
  );
  return (after?.n ?? 0) - (before?.n ?? 0);
}

function appendNullable(
  appender: { appendVarchar(value: string): void; appendNull(): void },
  value: string | undefined,
) {
  if (value === undefined) appender.appendNull();
  else appender.appendVarchar(value);
}
