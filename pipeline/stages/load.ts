import { DuckDBTimestampTZValue } from "@duckdb/node-api";
import { pauseHereForCrashTest } from "../lib/crash-test-pause.ts";
import type { Database } from "../lib/db.ts";
import { dropStagedTables, type StagedRows } from "../lib/row-stage.ts";
import type { LandingColumn, SourceAdapter, SourceStatus } from "../sources/types.ts";
import type { IngestedSource } from "./ingest.ts";

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
  if (ingested.staged) await dropStagedTables(db, ingested.staged);

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

async function landSnapshot(
  db: Database,
  runId: string,
  adapter: SourceAdapter<unknown, unknown>,
  staged: StagedRows,
  fetchedAt: DuckDBTimestampTZValue,
): Promise<number> {
  // The members first: one row per distinct content, at its first position. Filling in the staged table's
  // content_hash with an UPDATE instead made the 25× run fail with "Out of Memory" inside OSV's load, under
  // the 1.5 GB cap (an update holds its undo data in memory until it commits); this form completes there.
  // A source's facts rows (SourceAdapter.factsLanding) are members of the same snapshot, at positions of
  // their own in the same sequence.
  const stagedRows = [staged.table, ...(staged.factsTable ? [staged.factsTable] : [])]
    .map((table) => `select position, content_hash, row_json from temp.${table}`)
    .join(" union all ");
  await db.run(
    `insert into landing.snapshot_members (snapshot_hash, content_hash, position)
     select ?, coalesce(content_hash, sha256(row_json)) as row_hash, min(position)
     from (${stagedRows}) group by row_hash`,
    [staged.snapshotHash],
  );
  const landed = await landRows(db, runId, adapter.name, adapter.landingTable, adapter.landingColumns, {
    stagedTable: staged.table,
    snapshotHash: staged.snapshotHash,
    fetchedAt,
  });
  if (staged.factsTable && adapter.factsLanding) {
    const facts = adapter.factsLanding.landing;
    await landRows(db, runId, adapter.name, facts.name, facts.columns, {
      stagedTable: staged.factsTable,
      snapshotHash: staged.snapshotHash,
      fetchedAt,
    });
  }
  pauseHereForCrashTest("load:observations-landed");
  await db.run(
    `insert into landing.snapshots (snapshot_hash, source, first_run_id, fetched_at, observation_count)
     values (?, ?, ?, ?, ?)`,
    [staged.snapshotHash, adapter.name, runId, fetchedAt, staged.count],
  );
  return landed;
}

/** Lands the staged rows of one table that it does not hold yet; returns how many it added. */
async function landRows(
  db: Database,
  runId: string,
  source: string,
  table: string,
  columns: readonly LandingColumn[],
  from: { stagedTable: string; snapshotHash: string; fetchedAt: DuckDBTimestampTZValue },
): Promise<number> {
  const columnNames = columns.map((column) => column.name).join(", ");
  // from_json splits the staged array in one parse; a VARCHAR list keeps numbers as their JSON text.
  const columnValues = columns
    .map((column, index) =>
      column.type === "VARCHAR" ? `row_values[${index + 1}]` : `row_values[${index + 1}]::${column.type}`,
    )
    .join(", ");
  const before = await db.one<{ n: number }>(`select count(*)::integer as n from landing.${table}`);
  // Each new content is read back at its member position, so each row is hashed once.
  await db.run(
    `insert into landing.${table} (content_hash, source, run_id, fetched_at, ${columnNames})
     select content_hash, ?, ?, ?, ${columnValues}
     from (
       select members.content_hash, from_json(staged.row_json, '["VARCHAR"]') as row_values
       from landing.snapshot_members as members
       inner join temp.${from.stagedTable} as staged on staged.position = members.position
       where members.snapshot_hash = ?
         and members.content_hash not in (select content_hash from landing.${table})
       order by members.content_hash
     )`,
    [source, runId, from.fetchedAt, from.snapshotHash],
  );
  const after = await db.one<{ n: number }>(`select count(*)::integer as n from landing.${table}`);
  return (after?.n ?? 0) - (before?.n ?? 0);
}

function appendNullable(
  appender: { appendVarchar(value: string): void; appendNull(): void },
  value: string | undefined,
) {
  if (value === undefined) appender.appendNull();
  else appender.appendVarchar(value);
}
