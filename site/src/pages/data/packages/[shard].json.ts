import type { APIRoute, GetStaticPaths } from "astro";
import { loadAdvisoryData } from "../../../lib/advisories.ts";
import { dataLayout } from "../../../lib/data-layout.ts";
import { allShards } from "../../../lib/shards.ts";

// Each package's advisories (PackageRow[]), by package name; every shard exists, even an empty one.
export const getStaticPaths = (() =>
  allShards(dataLayout().packageBits).map((shard) => ({ params: { shard } }))) satisfies GetStaticPaths;

export const GET: APIRoute = async ({ params }) => {
  const entries = await (await loadAdvisoryData()).readPackageShard(params.shard as string);
  return new Response(entries, { headers: { "content-type": "application/json" } });
};
