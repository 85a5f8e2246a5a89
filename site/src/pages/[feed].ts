// The machine feeds, published beside the site exactly as the pipeline wrote them (byte for byte), so a
// scanner reading https://<pages>/data.json gets the same file the run produced. The change files
// (changes/<run id>.json) are published the same way by changes/[run].json.ts.
import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { APIRoute, GetStaticPaths } from "astro";
import { outputDir } from "../lib/output.ts";

const contentTypes = {
  "advisory_current.json": "application/json",
  "data.json": "application/json",
  "openvex.json": "application/json",
  "cve_facts.json": "application/json",
  "changes.atom": "application/atom+xml",
} as const;

export const feedFiles = Object.keys(contentTypes) as (keyof typeof contentTypes)[];

// A feed the run did not write (no published run yet, or a file an older run did not have) is left out
// rather than published empty.
export const getStaticPaths = (() =>
  feedFiles
    .filter((feed) => existsSync(join(outputDir, feed)))
    .map((feed) => ({ params: { feed } }))) satisfies GetStaticPaths;

/**
 * A published file as a streamed response, in 8 MB chunks: at 25× the vendor's data advisory_current.json is
 * 1.3 GB, and read whole it would sit in memory twice (the file, then Astro's copy of the body); files past
 * 2 GiB cannot be read whole at all.
 */
export function fileResponse(path: string, contentType: string): Response {
  return new Response(
    Readable.toWeb(createReadStream(path, { highWaterMark: 8 * 1024 * 1024 })) as ReadableStream,
    { headers: { "content-type": contentType } },
  );
}

export const GET: APIRoute = ({ params }) =>
  fileResponse(
    join(outputDir, params.feed as string),
    contentTypes[params.feed as keyof typeof contentTypes] ?? "application/octet-stream",
  );
