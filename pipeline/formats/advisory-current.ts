import { join } from "node:path";
import { z } from "zod";
import { type PublishedAdvisory, publishedAdvisorySchema } from "./advisory.ts";
import { ListedDocument } from "./listed-document.ts";
import { runIdSchema } from "./run-id.ts";
import { publishedSchemaUrl } from "./schema-url.ts";

/**
 * advisory_current.json: every advisory's current decision, one advisory per line (listed-document.ts).
 * These schemas are the definition of the file; its JSON Schema is generated from them (json-schema.ts).
 */
export const advisoryCurrentFileName = "advisory_current.json";

/** The version of the file's shape; it changes when a consumer would have to read the file differently. */
export const advisoryCurrentSchemaVersion = 2;

export const advisoryCurrentSchema = z
  .object({
    $schema: z
      .string()
      .min(1)
      .describe(
        "The file's JSON Schema: schemas/advisory_current.schema.json on the published site (absolute when the site's address is configured).",
      ),
    schema_version: z
      .literal(advisoryCurrentSchemaVersion)
      .describe("The version of this shape; a consumer refuses a version it does not know."),
    run_id: runIdSchema.describe("The run that published the file (its clock in UTC, 20260131T070000Z)."),
    generated_at: z.iso.datetime({ offset: true }).describe("The clock of the run that published the file."),
    advisory_count: z.number().int().min(0),
    advisories: z.array(publishedAdvisorySchema).describe("Sorted by advisory_id, in byte order."),
  })
  .strict();
export type AdvisoryDocument = z.infer<typeof advisoryCurrentSchema>;

/** What the members before the advisories say: the run that publishes the file, and the site's address. */
export interface AdvisoryDocumentHeader {
  runId: string;
  generatedAt: Date;
  /** config site.public_url: `$schema` is then absolute. */
  publicUrl?: string | undefined;
}

export function advisoryCurrentPath(outputDir: string): string {
  return join(outputDir, advisoryCurrentFileName);
}

export function buildAdvisoryDocument(
  advisories: PublishedAdvisory[],
  header: AdvisoryDocumentHeader,
): AdvisoryDocument {
  // JavaScript string comparison (UTF-16 code units) so the order never depends on a locale or collation.
  const sorted = [...advisories].sort((a, b) =>
    a.advisory_id < b.advisory_id ? -1 : a.advisory_id > b.advisory_id ? 1 : 0,
  );
  return {
    $schema: publishedSchemaUrl("advisory_current", header.publicUrl),
    schema_version: advisoryCurrentSchemaVersion,
    run_id: header.runId,
    generated_at: header.generatedAt.toISOString(),
    advisory_count: sorted.length,
    advisories: sorted,
  };
}

/** The members before the advisories, in file order. */
function advisoryDocumentMembers(
  document: Omit<AdvisoryDocument, "advisories">,
): [keyof AdvisoryDocument, unknown][] {
  return [
    ["$schema", document.$schema],
    ["schema_version", document.schema_version],
    ["run_id", document.run_id],
    ["generated_at", document.generated_at],
    ["advisory_count", document.advisory_count],
  ];
}

/**
 * One advisory per line (listed-document.ts): valid JSON that diffs by advisory between two runs, written
 * a chunk at a time as the advisories arrive (each line the JSON text of a PublishedAdvisory).
 */
export async function* advisoryDocumentText(
  header: AdvisoryDocumentHeader,
  advisoryCount: number,
  lines: AsyncIterable<string[]>,
): AsyncGenerator<string> {
  const { advisories: _, ...members } = buildAdvisoryDocument([], header);
  const document = new ListedDocument(
    advisoryDocumentMembers({ ...members, advisory_count: advisoryCount }),
    "advisories",
    advisoryCount,
  );
  yield document.start();
  for await (const chunk of lines) yield document.items(chunk);
  yield document.end();
}

/** The same layout for a document held in memory whole. */
export function serialiseAdvisoryDocument(document: AdvisoryDocument): string {
  return ListedDocument.serialise(
    advisoryDocumentMembers(document),
    "advisories",
    document.advisories.map((advisory) => JSON.stringify(advisory)),
  );
}
