import type { APIRoute } from "astro";
import { buildAdvisoryIndex } from "../../lib/advisories.ts";

export const GET: APIRoute = () =>
  new Response(JSON.stringify(buildAdvisoryIndex()), { headers: { "content-type": "application/json" } });
