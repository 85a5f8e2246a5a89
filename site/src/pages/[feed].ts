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

// Streamed in 8 MB chunks: at 25× the vendor's data advisory_current.json is 1.3 GB, and read whole it would
// sit in memory twice (the file, then Astro's copy of the body); files past 2 GiB cannot be read whole at all.
export const GET: APIRoute = ({ params }) =>
  new Response(
    Readable.toWeb(
      createReadStream(join(outputDir, params.feed as string), { highWaterMark: 8 * 1024 * 1024 }),
    ) as ReadableStream,
    { headers: { "content-type": "application/json" } },
  );
