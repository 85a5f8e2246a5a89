import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../../lib/files.ts";

/**
 * The conditional-GET cache: per URL, `<host>-<hash>.body` (the body exactly as received) and
 * `<host>-<hash>.meta.json` (what the next request needs to be conditional, and what the body should be).
 * Both are written through a temporary file and a rename; the body first, so the metadata never describes
 * a body that is not there. A body that does not match its metadata (size, sha256) is not trusted.
 */
export const cacheMeta = z.object({
  /** The URL with secrets removed: for people reading the cache directory. */
  url: z.string(),
  etag: z.string().optional(),
  lastModified: z.string().optional(),
  contentType: z.string().optional(),
  /** ISO-8601, from the client's clock, when this body was received. */
  fetchedAt: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CacheMeta = z.infer<typeof cacheMeta>;

export interface CachePaths {
  body: string;
  meta: string;
}

/** The key is a hash of the full URL (secrets included, never written out), prefixed with the host. */
export function cachePaths(directory: string, url: URL): CachePaths {
  const host = url.hostname.replace(/[^A-Za-z0-9.-]/g, "_");
  const key = `${host}-${createHash("sha256").update(url.href).digest("hex").slice(0, 40)}`;
  return { body: join(directory, `${key}.body`), meta: join(directory, `${key}.meta.json`) };
}

/** The entry's metadata when its body file is present with the recorded size; otherwise undefined. */
export async function readCacheMeta(paths: CachePaths): Promise<CacheMeta | undefined> {
  try {
    const meta = cacheMeta.parse(JSON.parse(await readFile(paths.meta, "utf8")));
    const body = await stat(paths.body);
    return body.size === meta.size ? meta : undefined;
  } catch {
    return undefined;
  }
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function writeCacheMeta(paths: CachePaths, meta: CacheMeta): Promise<void> {
  await writeFileAtomic(paths.meta, `${JSON.stringify(meta, null, 2)}\n`);
}

export async function writeCacheEntry(paths: CachePaths, body: Uint8Array, meta: CacheMeta): Promise<void> {
  await writeFileAtomic(paths.body, body);
  await writeCacheMeta(paths, meta);
}

export async function dropCacheEntry(paths: CachePaths): Promise<void> {
  await rm(paths.meta, { force: true });
  await rm(paths.body, { force: true });
}

/** A fresh temporary name beside `path` (same directory, so the final rename is atomic). */
export async function temporaryPathFor(path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  return `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
}
