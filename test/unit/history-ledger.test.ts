import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ledgerPath,
  parseLedgerText,
  readLedgerFileTransitions,
  serialiseLedger,
} from "../../pipeline/formats/ledger.ts";
import type { LedgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import {
  createHistoryTables,
  latestLedgerRun,
  readLedger,
  readLedgerToRestore,
  restoreLedger,
  writeRunLedger,
} from "../../pipeline/history/ledger.ts";
import { type Database, openDatabase } from "../../pipeline/lib/db.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";

const runId = "20260301T060000Z";

function transition(overrides: Partial<LedgerTransition> = {}): LedgerTransition {
  return {
    run_id: runId,
    as_of: "2026-03-01T06:00:00.000Z",
    advisory_id: "curl:CVE-2024-0001",
    from_state: null,
    to_state: "fixed",
    state_type: "final",
    rule_id: "vendor_fixed_version",
    reason_code: "fix_available",
    fixed_version: "8.5.0-2",
    unaffected_from_version: null,
    confidence: 0.9,
    deciding_source: "echo_data",
    evidence: {
      signal: "fixed",
      version: "8.5.0-2",
      reason: null,
      release: null,
      record: null,
      date: null,
      fetched_at: "2026-03-01T06:00:00.000Z",
      stale: false,
    },
    contributing_sources: ["echo_data"],
    dissenting_sources: [],
    ...overrides,
  };
}

const ledgerFile = "/h/transitions/20260301T060000Z.jsonl";

async function failure(text: string): Promise<PipelineError> {
  // Read from a file the ledger is bytes, split before decoding; the site streams it a chunk at a time. All
  // three must refuse alike.
  const asBytes = refusal(Buffer.from(text));
  const asText = refusal(text);
  expect(asBytes.describe()).toBe(asText.describe());
  const streamed = await streamedRefusal(text);
  expect(streamed).toBe(asText.describe());
  return asText;
}

/** The refusal of the streaming reader, for `text` written to a file, described as if read at ledgerFile. */
async function streamedRefusal(text: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "echo-ledger-stream-"));
  const path = join(directory, "20260301T060000Z.jsonl");
  try {
    await writeFile(path, text);
    for await (const _transition of readLedgerFileTransitions(path, runId)) {
      // read on to the damage
    }
  } catch (error) {
    if (error instanceof PipelineError) return error.describe().replace(path, ledgerFile);
    throw error;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
  throw new Error("expected the streamed ledger to be refused");
}

function refusal(text: string | Buffer): PipelineError {
  try {
    parseLedgerText(text, ledgerFile, runId);
  } catch (error) {
    if (error instanceof PipelineError) return error;
    throw error;
  }
  throw new Error("expected the ledger text to be refused");
}

describe("history ledger files", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-ledger-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("writes one sorted JSON object per line and reads it back unchanged", async () => {
    const transitions = [
      transition(),
      transition({ advisory_id: "zlib:CVE-2023-45853", to_state: "wont_fix" }),
    ];
    const path = await writeRunLedger(dir, runId, transitions);
    expect(path).toBe(ledgerPath(dir, runId));
    const text = await readFile(path as string, "utf8");
    expect(text.split("\n")).toHaveLength(3);
    expect(text).toBe(serialiseLedger(transitions));
    const files = await readLedger(dir);
    expect(files.map((file) => file.runId)).toEqual([runId]);
    expect(files[0]?.transitions).toEqual(transitions);
  });

  it("removes the run's file when a re-run of the same run changes nothing", async () => {
    await writeRunLedger(dir, runId, [transition()]);
    expect(await writeRunLedger(dir, runId, [])).toBeNull();
    expect(await readLedger(dir)).toEqual([]);
  });

  it("reads runs oldest first, ignores temporary files a crash left, and knows the latest run", async () => {
    await writeRunLedger(dir, "20260302T060000Z", [
      transition({ run_id: "20260302T060000Z", as_of: "2026-03-02T06:00:00.000Z" }),
    ]);
    await writeRunLedger(dir, runId, [transition()]);
    await writeFile(join(dir, "transitions", "20260303T060000Z.jsonl.123.ab.tmp"), "{half");
    const files = await readLedger(dir);
    expect(files.map((file) => file.runId)).toEqual([runId, "20260302T060000Z"]);
    expect(latestLedgerRun(files)).toBe("20260302T060000Z");
  });

  it("has no history when the directory does not exist yet", async () => {
    expect(await readLedger(join(dir, "nowhere"))).toEqual([]);
  });

  it("refuses a file whose name is not a run id", async () => {
    await mkdir(join(dir, "transitions"), { recursive: true });
    await writeFile(join(dir, "transitions", "notes.txt"), "hello\n");
    await expect(readLedger(dir)).rejects.toThrow(/unexpected file in the history directory/);
  });

  it("streams a file of many chunks as parseLedgerText reads it whole, characters split across chunks included", async () => {
    // Multi-byte package names make some of the 64 KB read chunks end inside a character.
    const transitions = Array.from({ length: 3000 }, (_, index) =>
      transition({ advisory_id: `lib€${index}:CVE-2024-${String(index).padStart(4, "0")}` }),
    );
    const text = serialiseLedger(transitions);
    expect(Buffer.byteLength(text)).toBeGreaterThan(4 * 65_536);
    const path = join(dir, "20260301T060000Z.jsonl");
    await writeFile(path, text);
    const streamed = [];
    for await (const item of readLedgerFileTransitions(path, runId)) streamed.push(item);
    expect(streamed).toEqual(parseLedgerText(Buffer.from(text), path, runId));
    expect(streamed).toHaveLength(3000);
  });

  it("names the file, line and key of every kind of damage, read whole or streamed", async () => {
    const good = JSON.stringify(transition());
    expect((await failure(`${good}\n{"run_id":`)).describe()).toMatch(
      /20260301T060000Z\.jsonl:2: .*truncated/,
    );
    expect((await failure(`${good}\nnot json\n`)).describe()).toMatch(/\.jsonl:2: not a JSON object/);
    expect((await failure(`${JSON.stringify({ ...transition(), to_state: 7 })}\n`)).describe()).toMatch(
      /\.jsonl:1 key to_state: /,
    );
    expect((await failure(`${JSON.stringify({ ...transition(), surprise: true })}\n`)).describe()).toMatch(
      /\.jsonl:1/,
    );
    expect(
      (await failure(`${JSON.stringify(transition({ run_id: "20260302T060000Z" }))}\n`)).describe(),
    ).toMatch(/\.jsonl:1 key run_id: run_id 20260302T060000Z does not match the file's run 20260301T060000Z/);
    expect(
      (await failure(`${JSON.stringify(transition({ as_of: "2026-03-01T07:00:00.000Z" }))}\n`)).describe(),
    ).toMatch(/\.jsonl:1 key as_of: .* is not the time of run/);
    expect((await failure(`${good}\n${good}\n`)).describe()).toMatch(
      /\.jsonl:2 key advisory_id: advisory curl:CVE-2024-0001 appears twice/,
    );
  });
});

describe("restoring the ledger into a database that already holds some of it", () => {
  let dir: string;
  let db: Database;
  const second = "20260302T060000Z";
  const secondTransition = () =>
    transition({
      run_id: second,
      as_of: "2026-03-02T06:00:00.000Z",
      from_state: "fixed",
      to_state: "wont_fix",
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-ledger-restore-"));
    db = await openDatabase(join(dir, "state.duckdb"));
    await createHistoryTables(db);
  });
  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const rows = () =>
    db.all<{ run_id: string; advisory_id: string; to_state: string }>(
      "select run_id, advisory_id, to_state from history.advisory_transitions order by run_id, advisory_id",
    );

  it("parses and writes only the files that are new, and replaces everything when a restored file changed or went", async () => {
    await writeRunLedger(dir, runId, [transition()]);
    const first = await readLedgerToRestore(db, dir);
    expect(first.files.map((file) => file.transitions?.length)).toEqual([1]);
    expect(await restoreLedger(db, first)).toBe(1);

    await writeRunLedger(dir, second, [secondTransition()]);
    const next = await readLedgerToRestore(db, dir);
    expect(next.incremental).toBe(true);
    // The restored file is hashed, not parsed again; only the new one is.
    expect(next.files.map((file) => file.transitions === null)).toEqual([true, false]);
    expect(await restoreLedger(db, next)).toBe(1);
    expect(await rows()).toEqual([
      { run_id: runId, advisory_id: "curl:CVE-2024-0001", to_state: "fixed" },
      { run_id: second, advisory_id: "curl:CVE-2024-0001", to_state: "wont_fix" },
    ]);

    // The first file edited by hand: every file is parsed and the table replaced whole.
    await writeRunLedger(dir, runId, [transition({ to_state: "not_applicable" })]);
    const edited = await readLedgerToRestore(db, dir);
    expect(edited.incremental).toBe(false);
    expect(edited.files.every((file) => file.transitions !== null)).toBe(true);
    expect(await restoreLedger(db, edited)).toBe(2);
    expect((await rows()).map((row) => row.to_state)).toEqual(["not_applicable", "wont_fix"]);

    // A restored file removed: its rows go.
    await rm(ledgerPath(dir, second));
    const removed = await readLedgerToRestore(db, dir);
    expect(removed.incremental).toBe(false);
    await restoreLedger(db, removed);
    expect((await rows()).map((row) => row.run_id)).toEqual([runId]);

    // Nothing new: nothing parsed, nothing written, the rows stay.
    const same = await readLedgerToRestore(db, dir);
    expect(same.incremental).toBe(true);
    expect(same.files.every((file) => file.transitions === null)).toBe(true);
    expect(await restoreLedger(db, same)).toBe(0);
    expect(await rows()).toHaveLength(1);
  });

  it("still stops at a damaged new file, naming it", async () => {
    await writeRunLedger(dir, runId, [transition()]);
    await restoreLedger(db, await readLedgerToRestore(db, dir));
    await writeFile(ledgerPath(dir, second), "{not json\n");
    await expect(readLedgerToRestore(db, dir)).rejects.toThrow(PipelineError);
  });
});
