// Build-time access to the decision ledger (<history>/transitions/*.jsonl) and the per-run summaries
// (<history>/runs/*.json). The ledger is read a file and a line at a time: a first run at 25× the vendor's
// data records a million transitions, more than a build should hold at once.
import { join } from "node:path";
import {
  type LedgerTransition,
  listLedgerFiles,
  readLedgerFileTransitions,
} from "../../../pipeline/history.ts";
import { outputDir } from "./output.ts";

export type { LedgerTransition };

/** The history folder the pipeline wrote (config `history_dir`); ECHO_HISTORY_DIR when it is not under output. */
export const historyDir = process.env.ECHO_HISTORY_DIR ?? join(outputDir, "history");

export interface LedgerFileEntry {
  runId: string;
  path: string;
}

/** The ledger files, oldest run first. */
export function listLedger(): Promise<LedgerFileEntry[]> {
  return listLedgerFiles(historyDir);
}

/** One run's transitions in file order, validated as the pipeline validates them. */
export function readTransitions(file: LedgerFileEntry): AsyncGenerator<LedgerTransition> {
  return readLedgerFileTransitions(file.path, file.runId);
}
