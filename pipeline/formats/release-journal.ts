import { readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PipelineError } from "../lib/errors.ts";
import { advisoryCurrentPath } from "./advisory-current.ts";
import { cveFactsPath } from "./cve-facts.ts";
import { openVexPath } from "./openvex.ts";
import { runReportPath } from "./run-report.ts";
import { runSummaryFileName } from "./run-summary.ts";
import { vendorFeedPath } from "./vendor-feed.ts";

/**
 * The publish journal: a run publishes its files as one release (lib/files.ts StagedRelease) by writing this
 * journal, naming each rename, before making the renames. A reader of the output folder (the next run, the
 * site build) that finds a journal completes the renames first, so it never sees half a release.
 */
export const journalName = ".publish-journal.json";

export interface JournalEntry {
  /** Relative to the journal's folder, so a moved workspace still recovers. */
  path: string;
  temporary: string | null;
}

/**
 * Finishes a publish a killed process left half done (its journal is still there): the renames it had not
 * made yet are made, so the folder holds the complete new set. Returns how many files it completed.
 */
export async function completeInterruptedPublish(journalDir: string): Promise<number> {
  const journalPath = join(journalDir, journalName);
  let text: string;
  try {
    text = await readFile(journalPath, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
  const journal = parseJournal(text, journalPath);
  return applyJournal(journalDir, journal);
}

export async function applyJournal(journalDir: string, journal: readonly JournalEntry[]): Promise<number> {
  let applied = 0;
  for (const entry of journal) {
    const path = resolve(journalDir, entry.path);
    if (entry.temporary === null) {
      await rm(path, { force: true });
      continue;
    }
    try {
      await rename(resolve(journalDir, entry.temporary), path);
      applied += 1;
    } catch (error) {
      // Already renamed before the kill: nothing left to do for this file.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  await rm(join(journalDir, journalName), { force: true });
  return applied;
}

function parseJournal(text: string, path: string): JournalEntry[] {
  const problem = (what: string) =>
    new PipelineError(`the interrupted publish's journal is unreadable: ${what}`, {
      location: { file: path },
      hint: "the journal is written atomically, so this is not from a crash; compare the folder with its last commit, then delete the journal",
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw problem(error instanceof Error ? error.message : String(error));
  }
  const files = (parsed as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) throw problem('no "files" list');
  return files.map((entry, index) => {
    const { path: target, temporary } = (entry ?? {}) as Record<string, unknown>;
    if (typeof target !== "string" || !(typeof temporary === "string" || temporary === null))
      throw problem(`files[${index}] needs a "path" and a "temporary" (a path or null)`);
    return { path: target, temporary };
  });
}

/** Where each file of a run's release is published, by the file names pipeline/formats defines. */
export function releasePaths(outputDir: string, runId: string) {
  return {
    advisoryCurrent: advisoryCurrentPath(outputDir),
    vendorFeed: vendorFeedPath(outputDir),
    openVex: openVexPath(outputDir),
    cveFacts: cveFactsPath(outputDir),
    report: runReportPath(outputDir, runId),
    summary: join(outputDir, runSummaryFileName),
  };
}
