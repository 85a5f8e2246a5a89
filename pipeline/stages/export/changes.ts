import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  type ChangeCounts,
  type ChangeKind,
  changesDirectory,
  changesDocumentText,
  changesHeader,
  changesPath,
  compareIds,
} from "../../formats/changes.ts";
import { ListedLayoutError, readListedItems } from "../../formats/listed-document.ts";
import { runIdPattern } from "../../formats/run-id.ts";
import { PipelineError } from "../../lib/errors.ts";
import type { StagedRelease } from "../../lib/files.ts";

/** One advisory of an advisory_current.json as read back: its id, state and exact line. */
interface ListedAdvisory {
  id: string;
  state: string;
  text: string;
  line: number;
}

export interface ChangeFileResult {
  path: string;
  /** The staged temporary holding the file until the release is published. */
  stagedPath: string;
  previousRunId: string | null;
  counts: ChangeCounts;
}

const hint = "restore the file from git (it is what the previous run published), or remove it to start over";

/**
 * The advisories of an advisory_current.json, a line at a time, checked to be in advisory_id order (the
 * merge relies on it). `onRunId` receives the file's run_id (null when it has none: a file older than the
 * member). No file: nothing.
 */
async function* listedAdvisories(
  path: string,
  what: string,
  onRunId: (runId: string | null) => void,
): AsyncGenerator<ListedAdvisory> {
  try {
    await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      onRunId(null);
      return;
    }
    throw error;
  }
  let runId: string | null = null;
  let headerDone = false;
  let previous: string | undefined;
  const fail = (line: number | undefined, message: string, key?: string) =>
    new PipelineError(`${what}: ${message}`, {
      location: { file: path, ...(line === undefined ? {} : { line }), ...(key ? { key } : {}) },
      hint,
      exitCode: 2,
    });
  try {
    const items = readListedItems(
      path,
      "advisories",
      (key, value) => {
        if (key === "run_id") {
          if (typeof value !== "string" || !runIdPattern.test(value))
            throw fail(undefined, `run_id ${JSON.stringify(value)} is not a run id`, "run_id");
          runId = value;
        }
      },
      false,
    );
    for await (const { line, text } of items) {
      if (!headerDone) {
        headerDone = true;
        onRunId(runId);
      }
      let id: unknown;
      let state: unknown;
      try {
        ({ id, state } = idAndState(text));
      } catch (error) {
        throw fail(line, `not one advisory as JSON (${(error as Error).message})`);
      }
      if (typeof id !== "string") throw fail(line, "an advisory without an advisory_id", "advisory_id");
      if (typeof state !== "string") throw fail(line, `${id} has no state`, "state");
      if (previous !== undefined && compareIds(previous, id) >= 0)
        throw fail(
          line,
          `${id} after ${previous}: the advisories are not sorted by advisory_id`,
          "advisory_id",
        );
      previous = id;
      yield { id, state, text, line };
    }
  } catch (error) {
    if (!(error instanceof ListedLayoutError)) throw error;
    throw fail(error.line, `not in the layout the pipeline writes (one advisory per line): ${error.message}`);
  }
  if (!headerDone) onRunId(runId);
}

const jsonString = String.raw`"(?:[^"\\]|\\.)*"`;
/** The first members of an advisory's line as the pipeline writes them (formats/advisory.ts field order). */
const advisoryPrefix = new RegExp(
  `^\\{"advisory_id":(${jsonString}),"cve_id":${jsonString},"package_name":${jsonString},"state":(${jsonString}),`,
);

/**
 * An advisory line's id and state. Read from the start of the line when it has the pipeline's field order:
 * parsing every line of two files of a million advisories cost most of the merge. Any other line is parsed.
 */
function idAndState(text: string): { id: unknown; state: unknown } {
  const match = advisoryPrefix.exec(text);
  if (match) return { id: JSON.parse(match[1] as string), state: JSON.parse(match[2] as string) };
  const item = JSON.parse(text) as { advisory_id?: unknown; state?: unknown } | null;
  return { id: item?.advisory_id, state: item?.state };
}

/** The members of an advisory's line from `state` to `rule_id`, in the pipeline's field order. */
const decidingPrefix = new RegExp(
  `^\\{"advisory_id":${jsonString},"cve_id":${jsonString},"package_name":${jsonString},"state":${jsonString},"state_type":${jsonString},"fixed_version":(null|${jsonString}),"confidence":[-+.0-9eE]+,"explanation":${jsonString},"reason_code":(${jsonString}),"rule_id":(${jsonString}),`,
);

/** The members a change repeats from the new record; taken from the start of the line when it can be. */
function decidingMembers(text: string): {
  rule_id: string;
  reason_code: string;
  fixed_version: string | null;
} {
  const match = decidingPrefix.exec(text);
  if (!match) return JSON.parse(text);
  return {
    fixed_version: JSON.parse(match[1] as string),
    reason_code: JSON.parse(match[2] as string),
    rule_id: JSON.parse(match[3] as string),
  };
}

/** The next item of an iterator, or undefined at its end. */
async function next<T>(iterator: AsyncIterator<T>): Promise<T | undefined> {
  const result = await iterator.next();
  return result.done ? undefined : result.value;
}

/** One change's line of the change file: the new record is embedded as the exact text published. */
function changeLine(
  kind: ChangeKind,
  before: ListedAdvisory | undefined,
  after: ListedAdvisory | undefined,
  runId: string,
  changedAt: string,
): string {
  const id = (after ?? before)?.id as string;
  if (after === undefined) {
    return JSON.stringify({
      advisory_id: id,
      change: kind,
      from_state: before?.state ?? null,
      to_state: null,
      rule_id: null,
      reason_code: null,
      fixed_version: null,
      run_id: runId,
      changed_at: changedAt,
      advisory: null,
    });
  }
  const record = decidingMembers(after.text);
  const members = JSON.stringify({
    advisory_id: id,
    change: kind,
    from_state: before?.state ?? null,
    to_state: after.state,
    rule_id: record.rule_id,
    reason_code: record.reason_code,
    fixed_version: record.fixed_version,
    run_id: runId,
    changed_at: changedAt,
  });
  return `${members.slice(0, -1)},"advisory":${after.text}}`;
}

/**
 * Every change from the previous advisory_current.json to the new one, as change-file lines in advisory_id
 * order: a merge of the two sorted files a line at a time, so neither is ever held in memory (at 25× the
 * vendor's data each passes 1 GB). An advisory whose line is the same in both did not change.
 */
export async function* mergeAdvisoryFiles(
  previousPath: string,
  nextPath: string,
  run: { runId: string; changedAt: Date },
  onPreviousRunId: (runId: string | null) => void,
): AsyncGenerator<{ kind: ChangeKind; line: string }> {
  const changedAt = run.changedAt.toISOString();
  const before = listedAdvisories(previousPath, "the published advisory_current.json", onPreviousRunId);
  const after = listedAdvisories(nextPath, "the staged advisory_current.json", () => {});
  let old = await next(before);
  let current = await next(after);
  while (old !== undefined || current !== undefined) {
    const order = old === undefined ? 1 : current === undefined ? -1 : compareIds(old.id, current.id);
    if (order < 0) {
      yield { kind: "removed", line: changeLine("removed", old, undefined, run.runId, changedAt) };
      old = await next(before);
    } else if (order > 0) {
      yield { kind: "added", line: changeLine("added", undefined, current, run.runId, changedAt) };
      current = await next(after);
    } else {
      if (old?.text !== current?.text)
        yield { kind: "updated", line: changeLine("updated", old, current, run.runId, changedAt) };
      old = await next(before);
      current = await next(after);
    }
  }
}

/** Lines of a text file, in chunks. */
async function* chunkedLines(path: string, size = 1000): AsyncGenerator<string[]> {
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let chunk: string[] = [];
  for await (const line of lines) {
    chunk.push(line);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Writes change lines to a scratch file, counting them by kind. */
async function writeScratch(
  path: string,
  changes: AsyncIterable<{ kind: ChangeKind; line: string }>,
): Promise<ChangeCounts> {
  const counts: ChangeCounts = { added: 0, updated: 0, removed: 0 };
  const out = createWriteStream(path, { encoding: "utf8" });
  const closed = once(out, "close");
  try {
    for await (const { kind, line } of changes) {
      counts[kind] += 1;
      if (!out.write(`${line}\n`)) await once(out, "drain");
    }
  } finally {
    out.end();
    await closed;
  }
  return counts;
}

type ChangeRecord = Record<string, unknown> & { advisory_id: string; change: ChangeKind };

/**
 * The same run done again (the published advisory_current.json is already this run's): its change file says
 * what the run changed since the run before, and the new merge what changed since then. Both are folded
 * into one list from the earlier base (`onPreviousRunId` gets the base's run id), so redoing a run keeps its
 * change file whole, and byte for byte when nothing changed.
 */
async function* foldChanges(
  earlierPath: string,
  laterPath: string,
  onPreviousRunId: (runId: string | null) => void,
): AsyncGenerator<{ kind: ChangeKind; line: string }> {
  const fail = (message: string, line?: number) =>
    new PipelineError(`the change file of the run done again: ${message}`, {
      location: { file: earlierPath, ...(line === undefined ? {} : { line }) },
      hint,
      exitCode: 2,
    });
  async function* earlierChanges(): AsyncGenerator<ChangeRecord> {
    let previousRunId: string | null = null;
    try {
      for await (const { item, line } of readListedItems(earlierPath, "changes", (key, value) => {
        if (key === "previous_run_id") previousRunId = typeof value === "string" ? value : null;
      })) {
        const change = item as ChangeRecord;
        if (
          typeof change?.advisory_id !== "string" ||
          !["added", "updated", "removed"].includes(change.change)
        )
          throw fail("not a change", line);
        yield change;
      }
    } catch (error) {
      if (error instanceof ListedLayoutError) throw fail(error.message, error.line);
      throw error;
    }
    onPreviousRunId(previousRunId);
  }
  async function* laterChanges(): AsyncGenerator<ChangeRecord> {
    for await (const chunk of chunkedLines(laterPath)) for (const line of chunk) yield JSON.parse(line);
  }
  const earlier = earlierChanges();
  const later = laterChanges();
  let a = await next(earlier);
  let b = await next(later);
  const emit = (change: ChangeRecord) => ({ kind: change.change, line: JSON.stringify(change) });
  while (a !== undefined || b !== undefined) {
    const order = a === undefined ? 1 : b === undefined ? -1 : compareIds(a.advisory_id, b.advisory_id);
    if (order < 0) {
      yield emit(a as ChangeRecord);
      a = await next(earlier);
    } else if (order > 0) {
      yield emit(b as ChangeRecord);
      b = await next(later);
    } else {
      const before = a as ChangeRecord;
      const after = b as ChangeRecord;
      // Whether the advisory was in the base file, and whether it is in the new one.
      const inBase = before.change !== "added";
      const inNew = after.change !== "removed";
      if (inBase || inNew) {
        const kind: ChangeKind = inBase && inNew ? "updated" : inBase ? "removed" : "added";
        yield emit({ ...after, change: kind, from_state: before.from_state });
      }
      a = await next(earlier);
      b = await next(later);
    }
  }
}

/**
 * Stages changes/<run id>.json: the merge of the published advisory_current.json (`previousPath`, still in
 * place until the release is published) with the staged one (`nextPath`). The change count comes first in
 * the file, so the changes go through a scratch file beside it (named like a temporary, so a killed run's is
 * cleaned up by the next) and are then copied in after the header.
 *
 * `itemsOf`: the staged file's advisories are the published file's, which this earlier run published
 * (stages/export.ts carried them over): nothing changed since it, and the files are not merged.
 */
export async function stageChangeFile(
  release: StagedRelease,
  outputDir: string,
  previousPath: string,
  nextPath: string,
  run: { runId: string; asOf: Date; publicUrl?: string | undefined },
  itemsOf: string | null = null,
): Promise<ChangeFileResult> {
  const directory = changesDirectory(outputDir);
  await mkdir(directory, { recursive: true });
  const scratchPath = (what: string) =>
    join(directory, `.${run.runId}.${what}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const scratch = scratchPath("merged");
  const folded = scratchPath("folded");
  const path = changesPath(outputDir, run.runId);
  let previousRunId: string | null = itemsOf;
  try {
    let counts = await writeScratch(
      scratch,
      itemsOf !== null
        ? noChanges()
        : mergeAdvisoryFiles(previousPath, nextPath, { runId: run.runId, changedAt: run.asOf }, (runId) => {
            previousRunId = runId;
          }),
    );
    let lines = scratch;
    if (previousRunId === run.runId && (await exists(path))) {
      counts = await writeScratch(
        folded,
        foldChanges(path, scratch, (runId) => {
          previousRunId = runId;
        }),
      );
      lines = folded;
    }
    const changeCount = counts.added + counts.updated + counts.removed;
    const stagedPath = await release.stage(
      path,
      changesDocumentText(
        changesHeader({ runId: run.runId, previousRunId, generatedAt: run.asOf, changeCount }, run.publicUrl),
        chunkedLines(lines),
      ),
    );
    return { path, stagedPath, previousRunId, counts };
  } finally {
    await rm(scratch, { force: true });
    await rm(folded, { force: true });
  }
}

async function* noChanges(): AsyncGenerator<{ kind: ChangeKind; line: string }> {}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
