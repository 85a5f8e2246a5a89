import { z } from "zod";
import { advisoryCurrentSchema } from "./advisory-current.ts";
import { changesDocumentSchema } from "./changes.ts";
import { cveFactsDocumentSchema } from "./cve-facts.ts";
import { ledgerTransition } from "./ledger-transition.ts";
import { openVexDocumentSchema } from "./openvex.ts";
import { runSummarySchema } from "./run-summary.ts";
import { publishedSchemaUrl } from "./schema-url.ts";
import { vendorFeedSchema } from "./vendor-feed.ts";

/** A public file's JSON Schema as the site publishes it: schemas/<name>.schema.json. */
export interface PublicSchema {
  name: string;
  /** The published file (or files) it describes. */
  describes: string;
  title: string;
  schema: z.ZodType;
}

/** Every file a run publishes whose shape is a contract, with the zod schema that defines it. */
export const publicSchemas: readonly PublicSchema[] = [
  {
    name: "advisory_current",
    describes: "advisory_current.json",
    title: "echo-advisory: every advisory's current decision",
    schema: advisoryCurrentSchema,
  },
  {
    name: "changes",
    describes: "changes/<run id>.json",
    title: "echo-advisory: what one run changed in advisory_current.json",
    schema: changesDocumentSchema,
  },
  {
    name: "cve_facts",
    describes: "cve_facts.json",
    title: "echo-advisory: what the landed records say about each vulnerability an advisory has",
    schema: cveFactsDocumentSchema,
  },
  {
    name: "data",
    describes: "data.json",
    title: "echo-advisory: the vendor's data.json with fixed versions as decided",
    schema: vendorFeedSchema,
  },
  {
    name: "openvex",
    describes: "openvex.json",
    title: "echo-advisory: the advisories as OpenVEX v0.2.0 statements (the subset we write)",
    schema: openVexDocumentSchema,
  },
  {
    name: "run_summary",
    describes: "run_summary.json and history/runs/<run id>.json",
    title: "echo-advisory: what one run found and did",
    schema: runSummarySchema,
  },
  {
    name: "ledger_line",
    describes: "each line of history/transitions/<run id>.jsonl",
    title: "echo-advisory: one change of one advisory's decision",
    schema: ledgerTransition,
  },
];

export { schemaFileName } from "./schema-url.ts";

/**
 * The JSON Schema (draft 2020-12) of a public file, generated from its zod schema. `baseUrl`, when the
 * site's address is known, gives the schema an absolute $id.
 */
export function jsonSchemaOf(entry: PublicSchema, baseUrl?: string): Record<string, unknown> {
  const generated = z.toJSONSchema(entry.schema, { target: "draft-2020-12", io: "output" }) as Record<
    string,
    unknown
  >;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    ...(baseUrl ? { $id: publishedSchemaUrl(entry.name, baseUrl) } : {}),
    title: entry.title,
    description: `The shape of ${entry.describes}.`,
    ...rest,
  };
}
