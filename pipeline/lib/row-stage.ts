import { createHash, type Hash } from "node:crypto";
import type { DuckDBAppender } from "@duckdb/node-api";
import type { LandingValue, SourceAdapter } from "../sources/types.ts";
import type { Database } from "./db.ts";
import { sha256 } from "./hash.ts";

/**
 * A source's rows as its fetch yields them, appended straight to a temporary table: at 25× the vendor's data
 * they are millions, which JavaScript would hold at several GB until the load. Each row is staged as one JSON
 * array (its text is also what its content key hashes), and the load has DuckDB hash it and split it into
 * columns, natively and in parallel. Appending every value and hashing every row here had been about a fifth
 * of the ingest's one JavaScript thread at 25× (profiled: 79 s of 337 s).
 * The sources are fetched concurrently on one connection: every stage is opened before the fetches start and
 * dropped after they end, so that while they run the connection only sees appends, which are synchronous and
 * so never overlap.
 */
export class RowStage {
  readonly table: string;
  /** The temporary table of the adapter's facts rows (SourceAdapter.factsLanding); null without one. */
  readonly factsTable: string | null;
  private readonly appender: DuckDBAppender;
  private readonly factsAppender: DuckDBAppender | null;
  private readonly snapshot: Hash;
  /** Snapshot text not yet hashed: hashing in large pieces rather than a call per row. */
  private snapshotPending = "";
  private count = 0;
  private factsCount = 0;
  private lastPosition = 0;

  private constructor(
    table: string,
    appender: DuckDBAppender,
    facts: { table: string; appender: DuckDBAppender } | null,
    source: string,
  ) {
    this.table = table;
    this.appender = appender;
    this.factsTable = facts?.table ?? null;
    this.factsAppender = facts?.appender ?? null;
    this.snapshot = createHash("sha256").update(`${source}\n`);
  }

  static async open(db: Database, adapter: SourceAdapter<unknown, unknown>): Promise<RowStage> {
    const table = `staged_${adapter.name}`;
    const create = (name: string) =>
      db.run(
        `create or replace temp table ${name} (position integer, content_hash varchar, row_json varchar)`,
      );
    await create(table);
    const appender = await db.connection.createAppender(table, "main", "temp");
    let facts: { table: string; appender: DuckDBAppender } | null = null;
    if (adapter.factsLanding) {
      const factsTable = `${table}__facts`;
      await create(factsTable);
      facts = { table: factsTable, appender: await db.connection.createAppender(factsTable, "main", "temp") };
    }
    return new RowStage(table, appender, facts, adapter.name);
  }

  /**
   * `position`: where the row stood in the input (a CSV line); the next one after the last row staged (of
   * either table) when not given. Positions must rise: the load finds each distinct row again by its position.
   */
  add(row: readonly LandingValue[], position?: number): void {
    this.append(this.appender, row, position, "");
    this.count += 1;
  }

  /**
   * A facts row (SourceAdapter.factsLanding), at the next position: the observations and facts of one
   * delivery share one sequence of positions, so each is a distinct member of the same snapshot.
   */
  addFacts(row: readonly LandingValue[]): void {
    if (this.factsAppender === null) throw new Error(`${this.table}: the source has no facts table`);
    this.append(this.factsAppender, row, undefined, "facts ");
    this.factsCount += 1;
  }

  private append(
    appender: DuckDBAppender,
    row: readonly LandingValue[],
    position: number | undefined,
    kind: string,
  ): void {
    const at = position ?? this.lastPosition + 1;
    if (!(at > this.lastPosition)) {
      throw new Error(`${this.table}: row position ${at} does not follow ${this.lastPosition}`);
    }
    const first = this.lastPosition === 0;
    this.lastPosition = at;
    const text = JSON.stringify(row);
    // Positions are part of the snapshot so that a reordered CSV reports its rows at their new lines.
    this.snapshotPending += `${first ? "" : "\n"}${at} ${kind}${text}`;
    if (this.snapshotPending.length > 1_000_000) this.flushSnapshot();
    appender.appendInteger(at);
    if (hasLoneSurrogate(text)) {
      // DuckDB's JSON reader refuses a lone surrogate. The key is hashed here over the text as it is, and the
      // values are staged as the appender would have stored them (a lone surrogate becomes U+FFFD).
      appender.appendVarchar(rowContentHash(row));
      appender.appendVarchar(
        JSON.stringify(row.map((value) => (typeof value === "string" ? value.toWellFormed() : value))),
      );
    } else {
      appender.appendNull();
      appender.appendVarchar(text);
    }
    appender.endRow();
  }

  /** The staged delivery; the rows are in `temp.<table>` until the load lands or drops them. */
  finish(): StagedRows {
    this.appender.closeSync();
    this.factsAppender?.closeSync();
    this.flushSnapshot();
    return {
      table: this.table,
      count: this.count,
      ...(this.factsTable === null ? {} : { factsTable: this.factsTable, factsCount: this.factsCount }),
      snapshotHash: this.snapshot.digest("hex"),
    };
  }

  private flushSnapshot(): void {
    this.snapshot.update(this.snapshotPending, "utf8");
    this.snapshotPending = "";
  }

  /** After a failed fetch: no more rows come. The tables are dropped once no fetch is appending (drop()). */
  abandon(): void {
    for (const appender of [this.appender, this.factsAppender]) {
      try {
        appender?.closeSync();
      } catch {
        // Already closed, or its last flush failed: the rows are thrown away either way.
      }
    }
  }

  async drop(db: Database): Promise<void> {
    await dropStagedTables(db, { table: this.table, factsTable: this.factsTable ?? undefined });
  }
}

/** Drops a delivery's temporary tables (after its load, or when it is not loaded). */
export async function dropStagedTables(
  db: Database,
  staged: Pick<StagedRows, "table" | "factsTable">,
): Promise<void> {
  await db.run(`drop table if exists temp.${staged.table}`);
  if (staged.factsTable) await db.run(`drop table if exists temp.${staged.factsTable}`);
}

export interface StagedRows {
  /**
   * Temporary table: position (unique, rising), content_hash (null, for the load to compute, unless the row
   * needed it done in JavaScript) and row_json, the landing row as a JSON array.
   */
  table: string;
  /** The observations staged. */
  count: number;
  /** The facts rows' temporary table, the same shape, positions interleaved with the observations'. */
  factsTable?: string;
  factsCount?: number;
  /** Over the source's name and every row's position and JSON text, in input order. */
  snapshotHash: string;
}

/** JSON.stringify writes a lone surrogate as a \uD8xx–\uDFxx escape; a false positive only costs a hash. */
const loneSurrogateEscape = /\\ud[89a-f]/i;
function hasLoneSurrogate(text: string): boolean {
  return text.includes("\\u") && loneSurrogateEscape.test(text);
}

/**
 * A landing row's content key: the SHA-256 of its values as a JSON array. For a flat list of strings, finite
 * numbers and nulls JSON.stringify gives exactly the canonical JSON the keys were first computed over, at a
 * fraction of the cost. The load computes the same in DuckDB (`sha256(row_json)`) for all other rows.
 */
export function rowContentHash(row: readonly LandingValue[]): string {
  return sha256(JSON.stringify(row));
}
