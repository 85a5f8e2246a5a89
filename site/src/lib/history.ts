// Build-time access to the decision ledger (<history>/transitions/*.jsonl) and the per-run summaries
// (<history>/runs/*.json). The ledger is read a file and a line at a time: a first run at 25× the vendor's
// data records a million transitions, more than a build should hold at once.
import { join } from "node:path";
import { listLedgerFiles, readLedgerFileTransitions } from "../../../pipeline/formats/ledger.ts";
import type { LedgerTransition } from "../../../pipeline/formats/ledger-transition.ts";
import { dataLayout } from "./data-layout.ts";
import { outputDir } from "./output.ts";
import { ParkedShards } from "./parked-shards.ts";
import { shardOf } from "./shards.ts";
import { groupListLimit, type TransitionGroup, TransitionGrouper } from "./transition-groups.ts";

export type { LedgerTransition };

/** The history folder the pipeline wrote (config `history_dir`); ECHO_HISTORY_DIR when it is not under output. */
export const historyDir = process.env.ECHO_HISTORY_DIR ?? join(outputDir, "history");

/** What one pass over the ledger gives the pages: each run's decision changes, grouped, and every timeline. */
export interface LedgerScan {
  runs: LedgerRunChanges[];
  /** Each advisory's timeline entries, oldest first, parked per advisory shard under kind "timelines". */
  timelines: ParkedShards;
}

export interface LedgerRunChanges {
  runId: string;
  /** The run's as_of, from its first transition. */
  asOf: string | undefined;
  count: number;
  /** Grouped by (from, to, rule), largest first, each with its first groupListLimit advisory ids. */
  groups: TransitionGroup[];
}

let scan: Promise<LedgerScan> | undefined;

/**
 * Reads the ledger once per build, for both the run pages and the advisory timelines: at 25× the vendor's
 * data a first run records a million transitions, and each pass costs seconds.
 */
export function scanLedger(): Promise<LedgerScan> {
  scan ??= (async () => {
    const timelines = new ParkedShards();
    const { advisoryBits: bits } = dataLayout();
    const runs: LedgerRunChanges[] = [];
    // Oldest run first; each file's transitions validated as the pipeline validates them.
    for (const file of await listLedgerFiles(historyDir)) {
      const grouper = new TransitionGrouper(groupListLimit);
      let asOf: string | undefined;
      for await (const transition of readLedgerFileTransitions(file.path, file.runId)) {
        asOf ??= new Date(transition.as_of).toISOString();
        grouper.add(transition);
        const {
          advisory_id: id,
          contributing_sources: _agree,
          dissenting_sources: _dissent,
          ...entry
        } = transition;
        await timelines.add(
          "timelines",
          shardOf(id, bits),
          `${JSON.stringify(id)}\t${JSON.stringify(entry)}`,
        );
      }
      runs.push({ runId: file.runId, asOf, count: grouper.count, groups: grouper.groups() });
    }
    await timelines.flush();
    return { runs, timelines };
  })();
  return scan;
}
