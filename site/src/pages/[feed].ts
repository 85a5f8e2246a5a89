// The machine feeds, published beside the site exactly as the pipeline wrote them (byte for byte), so a
// scanner reading https://<pages>/data.json gets the same file the run produced.
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
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

// Read whole when it can be (fastest); streamed beyond what one read may return (2 GiB).
export const GET: APIRoute = ({ params }) => {
  const path = join(outputDir, params.feed as string);
  const body =
    statSync(path).size < 2 ** 31 - 1
      ? readFileSync(path)
      : (Readable.toWeb(createReadStream(path, { highWaterMark: 8 * 1024 * 1024 })) as ReadableStream);
  return new Response(body, { headers: { "content-type": "application/json" } });
};
