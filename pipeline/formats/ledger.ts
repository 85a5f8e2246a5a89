import { createReadStream } from "node:fs";
import { join } from "node:path";
import { PipelineError } from "../lib/errors.ts";
import { type LedgerTransition, ledgerTransition } from "./ledger-transition.ts";
import { listRunFiles } from "./run-files.ts";
import { runIdOf } from "./run-id.ts";

/**
 * The decision ledger: every change of an advisory's decision (state, deciding rule or published version),
 * one JSON object per line, one file per run that changed something (`transitions/<run id>.jsonl`). The
 * database is a cache that may be lost (CI machines are ephemeral); these files are the history. They only
 * grow: a run adds at most one new file and never rewrites an older one, so they diff and merge well in git.
 */
export const transitionsDirName = "transitions";

export function ledgerPath(historyDir: string, runId: string): string {
  return join(historyDir, transitionsDirName, `${runId}.jsonl`);
}

/**
 * The ledger files, oldest run first, without reading them. A file not named as the pipeline names them
 * stops the reader: it would be history nobody can place.
 */
export async function listLedgerFiles(historyDir: string): Promise<{ runId: string; path: string }[]> {
  return listRunFiles(join(historyDir, transitionsDirName), ".jsonl", {
    directory: "history directory",
    files: "history files",
  });
}

/**
 * A ledger file's transitions. Given as bytes it is split into lines before any decoding: a first run at 25×
 * the vendor's data writes a million lines, more text than one JavaScript string can hold.
 */
export function parseLedgerText(text: string | Buffer, path: string, runId: string): LedgerTransition[] {
  const lines = typeof text === "string" ? text.split("\n") : splitLines(text);
  if (lines.at(-1) === "") lines.pop();
  else if (lines.length > 0) throw truncatedLedger(path, lines.length);
  const checker = new LedgerLineChecker(path, runId);
  return lines.map((line, index) => checker.check(line, index + 1));
}

/**
 * A ledger file's transitions, read a chunk at a time and checked as parseLedgerText checks them, for a
 * reader that needs each transition once (the site): a million of them never sit in memory together.
 */
export async function* readLedgerFileTransitions(
  path: string,
  runId: string,
): AsyncGenerator<LedgerTransition> {
  const checker = new LedgerLineChecker(path, runId);
  let pending: Buffer = Buffer.alloc(0);
  let lineNumber = 0;
  for await (const chunk of createReadStream(path)) {
    const bytes = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
      lineNumber += 1;
      yield checker.check(bytes.toString("utf8", start, end), lineNumber);
      start = end + 1;
    }
    pending = bytes.subarray(start);
  }
  if (pending.length > 0) throw truncatedLedger(path, lineNumber + 1);
}

function truncatedLedger(path: string, line: number): PipelineError {
  return new PipelineError("the last line has no line end: the file looks truncated", {
    location: { file: path, line },
    exitCode: 2,
  });
}

/** Checks a ledger file's lines in order: each a valid transition of the file's run, no advisory twice. */
class LedgerLineChecker {
  private readonly seen = new Set<string>();
  private checkedAsOf: string | undefined;
  private readonly path: string;
  private readonly runId: string;

  constructor(path: string, runId: string) {
    this.path = path;
    this.runId = runId;
  }

  check(line: string, lineNumber: number): LedgerTransition {
    const location = { file: this.path, line: lineNumber };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new PipelineError(`not a JSON object: ${(error as Error).message}`, { location, exitCode: 2 });
    }
    const parsed = ledgerTransition.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new PipelineError(issue?.message ?? "invalid transition", {
        location: { ...location, key: issue?.path.join(".") || "(line)" },
        exitCode: 2,
      });
    }
    const transition = parsed.data;
    if (transition.run_id !== this.runId) {
      throw new PipelineError(`run_id ${transition.run_id} does not match the file's run ${this.runId}`, {
        location: { ...location, key: "run_id" },
        exitCode: 2,
      });
    }
    // Every line of a run has the same as_of: checked once, not a million times.
    if (transition.as_of !== this.checkedAsOf && runIdOf(new Date(transition.as_of)) !== this.runId) {
      throw new PipelineError(`as_of ${transition.as_of} is not the time of run ${this.runId}`, {
        location: { ...location, key: "as_of" },
        exitCode: 2,
      });
    }
    if (this.seen.has(transition.advisory_id)) {
      throw new PipelineError(`advisory ${transition.advisory_id} appears twice in one run`, {
        location: { ...location, key: "advisory_id" },
        exitCode: 2,
      });
    }
    this.seen.add(transition.advisory_id);
    this.checkedAsOf = transition.as_of;
    return transition;
  }
}

/** The bytes' lines as text, split at each "\n" (the last one empty when the bytes end with one). */
function splitLines(bytes: Buffer): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.toString("utf8", start, end));
    start = end + 1;
  }
  lines.push(bytes.toString("utf8", start));
  return lines;
}

/** Canonical text of one run's file: one transition per line, keys in schema order, sorted by advisory. */
export function serialiseLedger(transitions: readonly LedgerTransition[]): string {
  return [...ledgerChunks(transitions)].join("");
}

/** The ledger's lines, a thousand at a time: a first run's million transitions pass V8's longest string. */
export function* ledgerChunks(transitions: readonly LedgerTransition[]): Generator<string> {
  for (let start = 0; start < transitions.length; start += 1000) {
    let chunk = "";
    for (const transition of transitions.slice(start, start + 1000))
      chunk += `${JSON.stringify(ledgerTransition.parse(transition))}\n`;
    yield chunk;
  }
}

/** The ledger file's text, a chunk at a time, from chunks of transitions as the export streams them. */
export async function* streamedLedgerChunks(
  transitions: AsyncIterable<readonly LedgerTransition[]>,
): AsyncGenerator<string> {
  for await (const chunk of transitions) yield* ledgerChunks(chunk);
}
