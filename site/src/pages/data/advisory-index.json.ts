import type { APIRoute } from "astro";
import { loadAdvisoryData } from "../../lib/advisories.ts";
import { jsonBody } from "../../lib/json-stream.ts";

export const GET: APIRoute = async () =>
  new Response(jsonBody((await loadAdvisoryData()).index, "rows"), {
    headers: { "content-type": "application/json" },
  });
