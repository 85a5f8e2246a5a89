import { type ChildProcess, spawn } from "node:child_process";
import { watch } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { dbtSessionSocketVariable } from "../../pipeline/lib/dbt-session-client.ts";
import { repoRoot } from "./workspace.ts";

/** One structured log line of the CLI (ECHO_LOG_FORMAT=json), as pipeline/lib/log.ts writes it. */
export interface LogLine {
  level: string;
  message: string;
  stage?: string;
  duration_ms?: number;
  [key: string]: unknown;
}

export interface PipelineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export const stageFinished =
  (stage: string) =>
  (line: LogLine): boolean =>
    line.message === "stage finished" && line.stage === stage;

/**
 * The pipeline CLI as a child process in its own process group, so that a SIGKILL reaches it and its dbt
 * child at once, the way an OOM killer or a cancelled CI job would end them. Its JSON log lines are parsed
 * as they arrive, so a test can kill it the moment it reaches a given point.
 */
export class PipelineProcess {
  readonly pid: number;
  readonly startedAt = Date.now();
  readonly lines: LogLine[] = [];
  readonly exited: Promise<PipelineExit>;
  readonly #child: ChildProcess;
  readonly #waiters = new Set<() => void>();
  #stdout = "";
  #stderr = "";
  #pending = "";
  #done = false;

  /** `env`: added to the test's environment (e.g. ECHO_TEST_PAUSE_AT). */
  constructor(configPath: string, args: readonly string[], env: Record<string, string> = {}) {
    this.#child = spawn(
      process.execPath,
      [join(repoRoot, "pipeline/cli.ts"), "--config", configPath, ...args],
      {
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        // Without the test suite's dbt session server (test/setup/dbt-sessions.ts): a killed run's dbt must
        // be in its process group and die with it, as in production.
        env: {
          ...withoutDbtSessionServer(process.env),
          ECHO_LOG_FORMAT: "json",
          ECHO_LOG_LEVEL: "info",
          ...env,
        },
      },
    );
    if (this.#child.pid === undefined) throw new Error("the pipeline did not start");
    this.pid = this.#child.pid;
    this.#child.stdout?.on("data", (chunk: Buffer) => {
      this.#stdout += String(chunk);
    });
    this.#child.stderr?.on("data", (chunk: Buffer) => this.#readLog(String(chunk)));
    this.exited = new Promise((resolve) => {
      // "close", not "exit": both pipes are drained, so every line the process wrote before dying is read.
      this.#child.on("close", (code, signal) => {
        this.#done = true;
        this.#wake();
        resolve({ code, signal, stdout: this.#stdout, stderr: this.#stderr });
      });
    });
  }

  /** Resolves with the first log line matching, or rejects when the process ends without printing one. */
  async waitForLog(matches: (line: LogLine) => boolean, what: string): Promise<LogLine> {
    for (;;) {
      const found = this.lines.find(matches);
      if (found) return found;
      if (this.#done) {
        throw new Error(`the pipeline ended before logging ${what}:\n${this.#stderr.slice(-3000)}`);
      }
      await new Promise<void>((resolve) => this.#waiters.add(resolve));
    }
  }

  /** Polls `condition` until it holds; rejects when the process ends first. */
  async waitUntil(condition: () => Promise<boolean>, what: string, intervalMs = 25): Promise<void> {
    while (!(await condition())) {
      if (this.#done) throw new Error(`the pipeline ended before ${what}:\n${this.#stderr.slice(-3000)}`);
      await sleep(intervalMs);
    }
  }

  logged(matches: (line: LogLine) => boolean): boolean {
    return this.lines.some(matches);
  }

  /** SIGKILL to the whole process group: node and whatever it started (dbt). */
  killGroup(): void {
    try {
      process.kill(-this.pid, "SIGKILL");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }

  #readLog(chunk: string): void {
    this.#stderr += chunk;
    this.#pending += chunk;
    const complete = this.#pending.split("\n");
    this.#pending = complete.pop() ?? "";
    for (const text of complete) {
      if (!text.startsWith("{")) continue;
      try {
        this.lines.push(JSON.parse(text) as LogLine);
      } catch {
        // A line cut by the kill is no log line.
      }
    }
    this.#wake();
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
    this.#waiters.clear();
  }
}

/**
 * Processes of a process group that are still running (zombies excluded: they hold no files or locks).
 * Read from /proc, because a zombie left to a parent that never reaps it still answers kill(pid, 0).
 */
export async function liveGroupMembers(groupId: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after the last ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && Number(fields[2]) === groupId) members.push(Number(entry));
  }
  return members;
}

export async function waitForGroupGone(groupId: number, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const members = await liveGroupMembers(groupId);
    if (members.length === 0 || Date.now() > deadline) return members;
    await sleep(20);
  }
}

/** How many files under `directory` were written at or after `since` (epoch ms); 0 when it is missing. */
export async function filesWrittenSince(directory: string, since: number): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(directory, { recursive: true });
  } catch {
    return 0;
  }
  let count = 0;
  for (const entry of entries) {
    const info = await stat(join(directory, String(entry))).catch(() => undefined);
    if (info?.isFile() && info.mtimeMs >= since) count += 1;
  }
  return count;
}

/** Resolves once a file whose name matches appears in `directory` (created or renamed into place). */
export function whenFileAppears(
  directory: string,
  matches: (name: string) => boolean,
): { appeared: Promise<void>; stop(): void } {
  const controller = new AbortController();
  const appeared = new Promise<void>((resolve, reject) => {
    const watcher = watch(directory, { signal: controller.signal }, (_event, filename) => {
      if (filename !== null && matches(filename)) resolve();
    });
    watcher.on("error", (error) => {
      if ((error as Error).name !== "AbortError") reject(error);
    });
  });
  return { appeared, stop: () => controller.abort() };
}

/** Temporary files that pipeline/lib/files.ts writes beside their target: `<name>.<pid>.<8 hex>.tmp`. */
export const atomicWriteTemporary = /\.(\d+)\.[0-9a-f]{8}\.tmp$/;

const workspacePath = new RegExp(
  `${tmpdir().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/echo-advisory-test-\\w+`,
  "g",
);

/**
 * Every file under an output directory, by path relative to it, with its text. The run report names the
 * config it ran with, an absolute path in its own workspace; that path is replaced by a placeholder so
 * that workspaces cloned from one another can be compared byte for byte otherwise.
 */
export async function readOutputTree(directory: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(
      relative(directory, path),
      (await readFile(path, "utf8")).replace(workspacePath, "<workspace>"),
    );
  }
  return files;
}

/** The journal publishFiles writes into the output folder once every file of a release is staged. */
export const publishJournal = ".publish-journal.json";

/**
 * The output tree as the next reader finds it: a kill after the journal was written (the release's commit
 * point) but before every rename was made leaves the journal, and whoever runs next (a pipeline run, the
 * site build) completes its renames first. This applies the journal the same way, on the map: each listed
 * temporary that still exists replaces its target, a `null` temporary removes it. Without a journal the
 * tree is returned as it is, minus temporaries.
 */
export function settleOutputs(outputs: ReadonlyMap<string, string>): {
  journal: boolean;
  settled: Map<string, string>;
} {
  const settled = new Map(outputs);
  const journalText = settled.get(publishJournal);
  settled.delete(publishJournal);
  if (journalText !== undefined) {
    const { files } = JSON.parse(journalText) as { files: { path: string; temporary: string | null }[] };
    for (const file of files) {
      if (file.temporary === null) settled.delete(file.path);
      else {
        const staged = settled.get(file.temporary);
        if (staged !== undefined) settled.set(file.path, staged);
      }
    }
  }
  for (const path of settled.keys()) if (atomicWriteTemporary.test(path)) settled.delete(path);
  return { journal: journalText !== undefined, settled };
}

export type OutputComparison =
  | { matches: "previous" | "new" }
  | {
      matches: "neither";
      /** Files whose bytes are in neither set (partial, or from nowhere). */
      foreign: string[];
      /** Files of the previous set that are missing or hold their new bytes. */
      fromNew: string[];
      /** Files of the new set that are missing or hold their previous bytes. */
      fromPrevious: string[];
    };

/** Whether a published tree is exactly one of the two complete sets, and if not, how it mixes them. */
export function compareOutputs(
  actual: ReadonlyMap<string, string>,
  previous: ReadonlyMap<string, string>,
  next: ReadonlyMap<string, string>,
): OutputComparison {
  const equal = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>) =>
    a.size === b.size && [...a].every(([path, text]) => b.get(path) === text);
  if (equal(actual, previous)) return { matches: "previous" };
  if (equal(actual, next)) return { matches: "new" };
  const foreign = [...actual]
    .filter(([path, text]) => previous.get(path) !== text && next.get(path) !== text)
    .map(([path]) => path);
  const fromNew = [...previous.keys()].filter((path) => actual.get(path) !== previous.get(path));
  const fromPrevious = [...next.keys()].filter((path) => actual.get(path) !== next.get(path));
  return { matches: "neither", foreign, fromNew, fromPrevious };
}

function withoutDbtSessionServer(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { [dbtSessionSocketVariable]: _server, ...rest } = env;
  return rest;
}
