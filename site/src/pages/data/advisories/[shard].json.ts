import type { APIRoute, GetStaticPaths } from "astro";
import { loadAdvisoryData } from "../../../lib/advisories.ts";
import { dataLayout } from "../../../lib/data-layout.ts";
import { allShards } from "../../../lib/shards.ts";

// Every shard exists, even an empty one, so the browser never mistakes a missing file for a broken site.
export const getStaticPaths = (() =>
  allShards(dataLayout().advisoryBits).map((shard) => ({ params: { shard } }))) satisfies GetStaticPaths;

export const GET: APIRoute = async ({ params }) => {
  const details = await (await loadAdvisoryData()).readShard(params.shard as string);
  return new Response(details, { headers: { "content-type": "application/json" } });
};
