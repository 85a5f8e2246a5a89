// Each kept change file (changes/<run id>.json, the pipeline keeps the last 30), published byte for byte.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { APIRoute, GetStaticPaths } from "astro";
import { changesDirectory } from "../../../../pipeline/formats/changes.ts";
import { runIdFileNamePattern } from "../../../../pipeline/formats/run-id.ts";
import { outputDir } from "../../lib/output.ts";
import { fileResponse } from "../[feed].ts";

const pattern = runIdFileNamePattern("", ".json");

export const getStaticPaths = (() => {
  const directory = changesDirectory(outputDir);
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .map((name) => pattern.exec(name)?.[1])
    .filter((run): run is string => run !== undefined)
    .map((run) => ({ params: { run } }));
}) satisfies GetStaticPaths;

export const GET: APIRoute = ({ params }) =>
  fileResponse(join(changesDirectory(outputDir), `${params.run as string}.json`), "application/json");
