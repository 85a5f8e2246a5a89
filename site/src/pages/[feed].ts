// The machine feeds, published beside the site exactly as the pipeline wrote them (byte for byte), so a
// scanner reading https://<pages>/data.json gets the same file the run produced.
import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { APIRoute, GetStaticPaths } from "astro";
import { outputDir } from "../lib/output.ts";

export const feedFiles = ["advisory_current.json", "data.json", "openvex.json"] as const;

// A feed the run did not write (no published run yet) is left out rather than published empty.
export const getStaticPaths = (() =>
  feedFiles
    .filter((feed) => existsSync(join(outputDir, feed)))
    .map((feed) => ({ params: { feed } }))) satisfies GetStaticPaths;

// Streamed: at 25× the vendor's data advisory_current.json is over a GB.
export const GET: APIRoute = ({ params }) =>
  new Response(Readable.toWeb(createReadStream(join(outputDir, params.feed as string))) as ReadableStream, {
    headers: { "content-type": "application/json" },
  });
