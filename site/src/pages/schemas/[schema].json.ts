// The JSON Schemas of the public files, generated from the zod schemas that define them
// (pipeline/formats), published at schemas/<name>.schema.json beside the feeds.
import type { APIRoute, GetStaticPaths } from "astro";
import { jsonSchemaOf, publicSchemas } from "../../../../pipeline/formats/json-schema.ts";

export const getStaticPaths = (() =>
  publicSchemas.map((entry) => ({
    params: { schema: `${entry.name}.schema` },
    props: { entry },
  }))) satisfies GetStaticPaths;

export const GET: APIRoute = ({ props, site }) =>
  new Response(`${JSON.stringify(jsonSchemaOf(props.entry, site?.href), null, 2)}\n`, {
    headers: { "content-type": "application/schema+json" },
  });
