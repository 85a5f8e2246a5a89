import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { applyJournal, type JournalEntry, journalName } from "../formats/release-journal.ts";

/**
 * Writes through a temporary file in the same directory and renames it into place, so a reader (or a
 * crash) never sees a half-written file: the old content stays until the new one is complete.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = temporaryPath(path);
  try {
    await writeFile(temporary, content);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Beside its target, named for the writing process, so an abandoned one can be told from a live one. */
function temporaryPath(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
}

/**
 * A writer killed between writing and renaming (SIGKILL, power loss) leaves its temporary beside the target
 * for good. Those of processes that no longer exist are removed from `directory`; a live writer's stay.
 */
async function removeAbandonedTemporaries(directory: string): Promise<void> {
  for (const name of await readdir(directory)) {
    const match = /\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name);
    if (match && !processExists(Number(match[1]))) await rm(join(directory, name), { force: true });
  }
}

function processExists(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * What a published file holds: its whole text, or text produced piece by piece (a document too large to
 * hold in memory as one string: V8 strings stop at about 512 MB, and advisory_current.json passes that
 * near a million advisories).
 */
export type FileContent = string | Uint8Array | Iterable<string> | AsyncIterable<string>;

/** One file of a set published together: its content, or `null` to remove it. */
export interface PublishedFile {
  path: string;
  content: FileContent | null;
}

/**
 * A set of files published together: a run's feeds, report, summary and history file are one release, and a
 * reader must never find some of them new and others old. Each file is staged (written completely to a
 * temporary beside its target) as soon as it is built, so the largest never has to wait in memory for the
 * others; publish() then writes a journal naming the renames (atomically) into `journalDir`, makes the
 * renames in staging order, and removes the journal. A process killed before the journal exists leaves the
 * previous set untouched; one killed after it leaves the journal, and the next run finishes the renames
 * (completeInterruptedPublish) before it reads anything.
 */
export class StagedRelease {
  private readonly journalDir: string;
  private readonly staged: { path: string; temporary: string | null }[] = [];
  private readonly cleanedDirectories = new Set<string>();
  private state: "staging" | "published" | "discarded" = "staging";

  constructor(journalDir: string) {
    this.journalDir = journalDir;
  }

  /** Writes the file's content to its temporary now; returns the temporary's path (to patch it in place). */
  async stage(path: string, content: FileContent): Promise<string> {
    this.assertStaging();
    await this.prepareDirectory(dirname(path));
    const temporary = temporaryPath(path);
    this.staged.push({ path, temporary });
    if (typeof content === "string" || content instanceof Uint8Array) await writeFile(temporary, content);
    else await pipeline(Readable.from(content), createWriteStream(temporary));
    return temporary;
  }

  /** The file is removed when the release is published. */
  remove(path: string): void {
    this.assertStaging();
    this.staged.push({ path, temporary: null });
  }

  async publish(): Promise<void> {
    this.assertStaging();
    await this.prepareDirectory(this.journalDir);
    const journal: JournalEntry[] = this.staged.map((file) => ({
      path: relative(this.journalDir, file.path),
      temporary: file.temporary === null ? null : relative(this.journalDir, file.temporary),
    }));
    await writeFileAtomic(
      join(this.journalDir, journalName),
      `${JSON.stringify({ files: journal }, null, 1)}\n`,
    );
    this.state = "published";
    await applyJournal(this.journalDir, journal);
  }

  /** Removes what was staged: the previous release stays as it was. Does nothing once published. */
  async discard(): Promise<void> {
    if (this.state !== "staging") return;
    this.state = "discarded";
    await Promise.all(
      this.staged.map((file) => (file.temporary ? rm(file.temporary, { force: true }) : null)),
    );
  }

  private assertStaging(): void {
    if (this.state !== "staging") throw new Error(`this release is already ${this.state}`);
  }

  // Once per folder of the release, not on every atomic write (the HTTP cache makes thousands).
  private async prepareDirectory(directory: string): Promise<void> {
    if (this.cleanedDirectories.has(directory)) return;
    this.cleanedDirectories.add(directory);
    await mkdir(directory, { recursive: true });
    await removeAbandonedTemporaries(directory);
  }
}

/** Stages every file, then publishes them together (see StagedRelease); on failure nothing changes. */
export async function publishFiles(journalDir: string, files: readonly PublishedFile[]): Promise<void> {
  const release = new StagedRelease(journalDir);
  try {
    for (const file of files) {
      if (file.content === null) release.remove(file.path);
      else await release.stage(file.path, file.content);
    }
  } catch (error) {
    await release.discard();
    throw error;
  }
  await release.publish();
}
