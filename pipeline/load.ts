import { DuckDBTimestampTZValue } from "@duckdb/node-api";
import type { IngestedSource } from "./ingest.ts";
import type { Database } from "./lib/db.ts";
import { canonicalJson, sha256 } from "./lib/hash.ts";
import type { SourceStatus } from "./sources/types.ts";

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
  } else if (ingested.rows) {
    const hashes = ingested.rows.map((row) => sha256(canonicalJson(row)));
    // Positions are part of the snapshot so that a reordered CSV reports its rows at their new lines.
    snapshotHash = sha256(
      `${adapter.name}\n${hashes.map((hash, index) => `${ingested.positions[index]} ${hash}`).join("\n")}`,
    );
    const known = await db.one<{ first_run_id: string }>(
      "select first_run_id from landing.snapshots where snapshot_hash = ?",
      [snapshotHash],
    );
    if (!known) {
      newSnapshot = true;
      newObservations = await landSnapshot(db, runId, ingested, hashes, snapshotHash, fetchedAt);
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
  ingested: IngestedSource,
  hashes: readonly string[],
  snapshotHash: string,
  fetchedAt: DuckDBTimestampTZValue,
): Promise<number> {
  const { adapter } = ingested;
  const rows = ingested.rows ?? [];
  const columnDefinitions = adapter.landingColumns
    .map((column) => `${column.name} ${column.type}`)
    .join(", ");
  const columnNames = adapter.landingColumns.map((column) => column.name).join(", ");
  await db.run(
    `create or replace temp table incoming (content_hash varchar, position integer, ${columnDefinitions})`,
  );
  const appender = await db.connection.createAppender("incoming", "main", "temp");
  rows.forEach((row, index) => {
    appender.appendVarchar(hashes[index] as string);
    appender.appendInteger(ingested.positions[index] ?? index + 1);
    row.forEach((value, columnIndex) => {
      if (value === null) appender.appendNull();
      else if (adapter.landingColumns[columnIndex]?.type === "INTEGER") appender.appendInteger(Number(value));
      else appender.appendVarchar(String(value));
    });
    appender.endRow();
  });
  appender.closeSync();

  const before = await db.one<{ n: number }>(
    `select count(*)::integer as n from landing.${adapter.landingTable}`,
  );
  await db.run(
    `insert into landing.${adapter.landingTable} (content_hash, source, run_id, fetched_at, ${columnNames})
     select distinct on (content_hash) content_hash, ?, ?, ?, ${columnNames}
     from temp.incoming
     where content_hash not in (select content_hash from landing.${adapter.landingTable})
     order by content_hash`,
    [adapter.name, runId, fetchedAt],
  );
  const after = await db.one<{ n: number }>(
    `select count(*)::integer as n from landing.${adapter.landingTable}`,
  );
  await db.run(
    `insert into landing.snapshots (snapshot_hash, source, first_run_id, fetched_at, observation_count)
     values (?, ?, ?, ?, ?)`,
    [snapshotHash, adapter.name, runId, fetchedAt, rows.length],
  );
  await db.run(
    `insert into landing.snapshot_members (snapshot_hash, content_hash, position)
     select ?, content_hash, min(position) from temp.incoming group by content_hash`,
    [snapshotHash],
  );
  await db.run("drop table temp.incoming");
  return (after?.n ?? 0) - (before?.n ?? 0);
}

function appendNullable(
  appender: { appendVarchar(value: string): void; appendNull(): void },
  value: string | undefined,
) {
  if (value === undefined) appender.appendNull();
  else appender.appendVarchar(value);
}
