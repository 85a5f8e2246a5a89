// Build-time access to the decision ledger (<history>/transitions/*.jsonl) and the per-run summaries
// (<history>/runs/*.json). Read once per build and shared by every page: the ledger can be tens of MB.
import { join } from "node:path";
import { type LedgerFile, type LedgerTransition, readLedger } from "../../../pipeline/history.ts";
import { outputDir } from "./output.ts";

export type { LedgerFile, LedgerTransition };

/** The history folder the pipeline wrote (config `history_dir`); ECHO_HISTORY_DIR when it is not under output. */
export const historyDir = process.env.ECHO_HISTORY_DIR ?? join(outputDir, "history");

let ledger: Promise<LedgerFile[]> | undefined;

/** Every run's transitions, oldest run first, validated as the pipeline validates them. */
export function loadLedger(): Promise<LedgerFile[]> {
  ledger ??= readLedger(historyDir);
  return ledger;
}

let byAdvisory: Promise<Map<string, LedgerTransition[]>> | undefined;

/** Each advisory's transitions, oldest first: its timeline. */
export function loadTimelines(): Promise<Map<string, LedgerTransition[]>> {
  byAdvisory ??= loadLedger().then((files) => {
    const timelines = new Map<string, LedgerTransition[]>();
    for (const file of files) {
      for (const transition of file.transitions) {
        const timeline = timelines.get(transition.advisory_id);
        if (timeline) timeline.push(transition);
        else timelines.set(transition.advisory_id, [transition]);
      }
    }
    return timelines;
  });
  return byAdvisory;
}
