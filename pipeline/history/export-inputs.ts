import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "../lib/db.ts";
import { hashFolder } from "../lib/hash.ts";

/**
 * What a run's published documents are made of besides the marts, so that a run keeping the previous run's
 * decisions (dbt not run: the marts are as that run exported them) can republish that run's items instead of
 * reading the marts again.
 *
 * The export key is a SHA-256 over the code that writes the documents (every file under pipeline/, and the
 * locked dependencies: package-lock.json), the Node version, and the configuration the carried documents
 * read (site.public_url, the openvex settings and the Sources index they name). A run records its key and
 * the digests of the documents it staged; the next run carries their items over only when its key is the
 * same and the files are still those bytes.
 */
export async function createExportInputsTable(db: Database): Promise<void> {
  await db.run(`
    create table if not exists meta.export_inputs (
      run_id varchar primary key,
      export_key varchar not null,
      -- The documents the run published, as {"<file name>": "<SHA-256>"}.
      documents varchar not null
    )
  `);
}

const pipelineDir = fileURLToPath(new URL("..", import.meta.url));
const lockFile = fileURLToPath(new URL("../../package-lock.json", import.meta.url));

/** SHA-256 over the pipeline's files (names and contents), its lock file, the Node version and the config. */
export async function exportKey(config: {
  site: { public_url?: string | undefined };
  openvex: { binary_packages?: string | undefined };
}): Promise<string> {
  const hash = createHash("sha256");
  await hashFolder(hash, pipelineDir);
  hash.update(await readFile(lockFile).catch(() => "no lock file"));
  hash.update(
    `\0${process.version}\0${JSON.stringify({ public_url: config.site.public_url ?? null, openvex: config.openvex })}\0`,
  );
  if (config.openvex.binary_packages !== undefined)
    hash.update(await readFile(config.openvex.binary_packages));
  return hash.digest("hex");
}

/** The digest of a published document, or null when it is missing. */
export async function fileDigest(path: string): Promise<string | null> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  return hash.digest("hex");
}

/**
 * Whether the documents `previousRunId` published can be carried over: it recorded the same export key, and
 * each of its documents in `outputDir` is still the bytes it recorded. (advisory_current.json is checked by
 * the decision reuse already: the run keeps that run's decisions only when the file is the one it published.)
 */
export async function canCarryExport(
  db: Database,
  previousRunId: string,
  key: string,
  outputDir: string,
): Promise<boolean> {
  const recorded = await db.one<{ export_key: string; documents: string }>(
    "select export_key, documents from meta.export_inputs where run_id = ?",
    [previousRunId],
  );
  if (!recorded || recorded.export_key !== key) return false;
  for (const [name, sha256] of Object.entries(JSON.parse(recorded.documents) as Record<string, string>)) {
    if ((await fileDigest(join(outputDir, name))) !== sha256) return false;
  }
  return true;
}

/** Once the run has published: its export key and the digests of the documents it staged. */
export async function recordExportInputs(
  db: Database,
  runId: string,
  key: string,
  documents: Record<string, string>,
): Promise<void> {
  await db.run("delete from meta.export_inputs where run_id = ?", [runId]);
  await db.run("insert into meta.export_inputs values (?, ?, ?)", [runId, key, JSON.stringify(documents)]);
}
