import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { PipelineError } from "../lib/errors.ts";
import { runIdFileNamePattern } from "./run-id.ts";

/**
 * The files of a folder of per-run files (`<run id><extension>`: the ledger's, the run summaries'), oldest
 * run first, without reading them; none when the folder does not exist. A file not named as the pipeline
 * names them stops the reader: it would be history nobody can place.
 */
export async function listRunFiles(
  directory: string,
  extension: string,
  names: { directory: string; files: string },
): Promise<{ runId: string; path: string }[]> {
  const pattern = runIdFileNamePattern("", extension);
  let entries: string[];
  try {
    entries = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new PipelineError(`cannot read the ${names.directory}: ${(error as Error).message}`, {
      location: { file: directory },
    });
  }
  const files: { runId: string; path: string }[] = [];
  for (const name of entries.sort()) {
    if (name.endsWith(".tmp")) continue; // left by a crash during an atomic write; never complete
    const match = pattern.exec(name);
    const path = join(directory, name);
    if (!match) {
      throw new PipelineError(`unexpected file in the ${names.directory}`, {
        location: { file: path },
        hint: `${names.files} are named <run id>${extension}, e.g. 20260131T070000Z${extension}; move other files elsewhere`,
        exitCode: 2,
      });
    }
    files.push({ runId: match[1] as string, path });
  }
  return files;
}
