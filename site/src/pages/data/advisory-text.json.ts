import type { APIRoute } from "astro";
import { buildAdvisoryTexts } from "../../lib/advisories.ts";

export const GET: APIRoute = () =>
  new Response(JSON.stringify(buildAdvisoryTexts()), { headers: { "content-type": "application/json" } });
