import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../../pipeline/lib/db.ts";
import { canonicalJson, sha256 } from "../../pipeline/lib/hash.ts";
import { RowStage } from "../../pipeline/lib/row-stage.ts";
import { defineAdapter, type LandingValue } from "../../pipeline/sources/types.ts";
import type { IngestedSource } from "../../pipeline/stages/ingest.ts";
import { initDatabase } from "../../pipeline/stages/init.ts";
import { loadSources } from "../../pipeline/stages/load.ts";

// A landing table of its own, so an INTEGER column is covered too (the real tables are all VARCHAR today).
const adapter = defineAdapter<LandingValue[]>({
  name: "row_stage_probe",
  landing: {
    name: "row_stage_probe",
    columns: [
      { name: "text_value", type: "VARCHAR" },
      { name: "number_value", type: "INTEGER" },
      { name: "other_text", type: "VARCHAR" },
    ],
  },
  toLandingRow: (row) => row,
  async *fetchItems() {},
});

const rows: LandingValue[][] = [
  ["curl", 7, "8.5.0-2"],
  ['quote"and\\back', null, "ctl\u0000\u001b\u007f"],
  ["\u2028\u2029", -2147483648, "é😀"],
  ["\ud800 lone", 2147483647, "and \udfff another"],
  ["looks like an escape: \\ud800", 0, ""],
  [null, null, null],
  // The first row again: one landing row, two positions in the snapshot.
  ["curl", 7, "8.5.0-2"],
];

let scratch: string;
let db: Database;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "row-stage-"));
  db = await openDatabase(join(scratch, "probe.duckdb"));
  await initDatabase(db);
  await db.run(
    `create table landing.row_stage_probe (content_hash varchar primary key, source varchar, run_id varchar,
       fetched_at timestamptz, text_value varchar, number_value integer, other_text varchar)`,
  );
});

afterAll(async () => {
  db.close();
  await rm(scratch, { recursive: true, force: true });
});

async function stageAndLoad(input: readonly LandingValue[][], runId: string) {
  const stage = await RowStage.open(db, adapter);
  input.forEach((row, index) => {
    stage.add(row, index + 10);
  });
  const staged = stage.finish();
  const ingested: IngestedSource = {
    adapter,
    fetchedAt: new Date("2026-11-01T00:00:00Z"),
    staged,
    rejections: [],
    health: adapter.health(),
    unchanged: false,
    incremental: false,
    checkpoint: null,
  };
  const [loaded] = await loadSources(db, runId, [ingested]);
  return { staged, loaded };
}

describe("rows staged as JSON and landed by DuckDB", () => {
  it("keys each row by the canonical hash and stores its values as the appender would", async () => {
    const { loaded } = await stageAndLoad(rows, "run-1");
    expect(loaded?.newObservations).toBe(rows.length - 1);
    const landed = await db.all<{
      content_hash: string;
      text_value: string | null;
      number_value: number | null;
      other_text: string | null;
    }>("select content_hash, text_value, number_value, other_text from landing.row_stage_probe");
    const byHash = new Map(landed.map((row) => [row.content_hash, row]));
    for (const row of rows) {
      const found = byHash.get(sha256(canonicalJson(row)));
      expect(found, JSON.stringify(row)).toBeDefined();
      // A lone surrogate cannot be stored as UTF-8: it is kept as U+FFFD, as the appender used to store it.
      const wellFormed = (value: LandingValue) => (typeof value === "string" ? value.toWellFormed() : value);
      expect([found?.text_value, found?.number_value, found?.other_text]).toEqual(row.map(wellFormed));
    }
  });

  it("records every position of a row in the snapshot, and the staged table is gone", async () => {
    const members = await db.all<{ content_hash: string; position: number }>(
      "select content_hash, position from landing.snapshot_members order by position",
    );
    // The repeated row keeps its first position.
    expect(members.map((member) => member.position)).toEqual([10, 11, 12, 13, 14, 15]);
    expect(members[0]?.content_hash).toBe(sha256(canonicalJson(rows[0])));
    const tables = await db.all(
      "select 1 from duckdb_tables() where temporary and table_name like 'staged_%'",
    );
    expect(tables).toHaveLength(0);
  });

  it("gives the same snapshot for the same rows and a new one when only their order changes", async () => {
    const again = await stageAndLoad(rows, "run-2");
    const first = await db.one<{ snapshot_hash: string }>(
      "select snapshot_hash from landing.snapshots where first_run_id = 'run-1'",
    );
    expect(again.staged.snapshotHash).toBe(first?.snapshot_hash);
    expect(again.loaded?.newSnapshot).toBe(false);
    const reordered = await stageAndLoad([...rows].reverse(), "run-3");
    expect(reordered.staged.snapshotHash).not.toBe(first?.snapshot_hash);
    expect(reordered.loaded?.newObservations).toBe(0);
  });

  it("lands only the rows a later snapshot adds, each with its own values, whatever their positions", async () => {
    const added: LandingValue[] = ["zlib", 42, "1:1.3.dfsg-3"];
    // The new row sits between known ones, so its position differs from every position landed before.
    const { loaded } = await stageAndLoad([rows[2] ?? [], added, rows[0] ?? []], "run-4");
    expect(loaded?.newObservations).toBe(1);
    const landed = await db.all<{
      text_value: string;
      number_value: number;
      other_text: string;
      run_id: string;
    }>(
      "select text_value, number_value, other_text, run_id from landing.row_stage_probe where content_hash = ?",
      [sha256(canonicalJson(added))],
    );
    expect(landed).toEqual([
      { text_value: "zlib", number_value: 42, other_text: "1:1.3.dfsg-3", run_id: "run-4" },
    ]);
    const total = await db.one<{ n: number }>("select count(*)::integer as n from landing.row_stage_probe");
    expect(total?.n).toBe(rows.length);
  });

  it("refuses a position that does not rise, before the row is staged", async () => {
    const stage = await RowStage.open(db, adapter);
    stage.add(["a", 1, "x"], 5);
    expect(() => stage.add(["b", 2, "y"], 5)).toThrow("row position 5 does not follow 5");
    expect(() => stage.add(["b", 2, "y"], 3)).toThrow("row position 3 does not follow 5");
    expect(stage.finish().count).toBe(1);
    await stage.drop(db);
  });
});
