import { PipelineError } from "../../lib/errors.ts";
import { excerpt, type Rejection } from "../types.ts";
import { compareTimestamps, normaliseTimestamp } from "./helpers.ts";

/**
 * OSV's per-ecosystem `modified_id.csv`: one `<RFC 3339 timestamp>,<id>` per line, newest first, for
 * incremental sync (the bucket-wide file writes the id as `<ecosystem>/<id>`; the id is kept as written).
 */
export interface ModifiedId {
  /** The record's modified time, normalised to UTC (`…Z`), fraction kept. */
  modified: string;
  id: string;
  /** 1-based line in the file. */
  line: number;
}

export interface ModifiedIdsResult {
  /** Records modified strictly after the checkpoint, newest first, each id once (its newest line). */
  entries: ModifiedId[];
  /** The checkpoint to save once these records are loaded: the newest time seen, or the old checkpoint. */
  checkpoint: string | null;
  /** Lines that are not `<timestamp>,<id>`. */
  rejections: Rejection[];
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._:/+-]*$/;

/**
 * Reads modified_id.csv and returns the records changed after `since` (a checkpoint saved by an earlier
 * run; null reads every line). The whole file is read rather than stopping at the first older line, so a
 * file that is not perfectly sorted loses nothing. A checkpoint that is not a timestamp is a PipelineError.
 */
export function parseModifiedIds(
  text: string,
  options: { since?: string | null; file?: string } = {},
): ModifiedIdsResult {
  const file = options.file ?? "modified_id.csv";
  let since: string | null = null;
  if (options.since) {
    since = normaliseTimestamp(options.since);
    if (since === null) {
      throw new PipelineError(`the checkpoint ${JSON.stringify(options.since)} is not an RFC 3339 time`, {
        location: { file },
      });
    }
  }
  const newest = new Map<string, ModifiedId>();
  const rejections: Rejection[] = [];
  let checkpoint = since;
  const lines = text.split("\n");
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.replace(/\r$/, "").replace(/^\uFEFF/, "");
    if (line.trim() === "") continue;
    const comma = line.indexOf(",");
    const stamp = comma < 0 ? null : normaliseTimestamp(line.slice(0, comma));
    const id = comma < 0 ? "" : line.slice(comma + 1).trim();
    if (stamp === null || !idPattern.test(id)) {
      rejections.push({
        location: { file, line: index + 1 },
        reason:
          stamp === null
            ? "expected <RFC 3339 timestamp>,<id>: the timestamp is missing or invalid"
            : "expected <RFC 3339 timestamp>,<id>: the id is missing or invalid",
        excerpt: excerpt(line),
      });
      continue;
    }
    if (checkpoint === null || compareTimestamps(stamp, checkpoint) > 0) checkpoint = stamp;
    if (since !== null && compareTimestamps(stamp, since) <= 0) continue;
    const seen = newest.get(id);
    if (!seen || compareTimestamps(stamp, seen.modified) > 0)
      newest.set(id, { modified: stamp, id, line: index + 1 });
  }
  const entries = [...newest.values()].sort(
    (a, b) => compareTimestamps(b.modified, a.modified) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return { entries, checkpoint, rejections };
}
