import { join } from "node:path";
import { z } from "zod";
import { type PublishedAdvisory, publishedAdvisorySchema } from "./advisory.ts";
import { ListedDocument } from "./listed-document.ts";

/**
 * advisory_current.json: every advisory's current decision, one advisory per line (listed-document.ts).
 * These schemas are the definition of the file; its JSON Schema is generated from them (json-schema.ts).
 */
export const advisoryCurrentFileName = "advisory_current.json";

export const advisoryCurrentSchema = z
  .object({
    generated_at: z.iso.datetime({ offset: true }).describe("The clock of the run that published the file."),
    advisory_count: z.number().int().min(0),
    advisories: z.array(publishedAdvisorySchema).describe("Sorted by advisory_id, in byte order."),
  })
  .strict();
export type AdvisoryDocument = z.infer<typeof advisoryCurrentSchema>;

export function advisoryCurrentPath(outputDir: string): string {
  return join(outputDir, advisoryCurrentFileName);
}

export function buildAdvisoryDocument(advisories: PublishedAdvisory[], generatedAt: Date): AdvisoryDocument {
  // JavaScript string comparison (UTF-16 code units) so the order never depends on a locale or collation.
  const sorted = [...advisories].sort((a, b) =>
    a.advisory_id < b.advisory_id ? -1 : a.advisory_id > b.advisory_id ? 1 : 0,
  );
  return { generated_at: generatedAt.toISOString(), advisory_count: sorted.length, advisories: sorted };
}

function advisoryDocumentMembers(generatedAt: Date, advisoryCount: number): [string, unknown][] {
  return [
    ["generated_at", generatedAt.toISOString()],
    ["advisory_count", advisoryCount],
  ];
}

/**
 * One advisory per line (listed-document.ts): valid JSON that diffs by advisory between two runs, written
 * a chunk at a time as the advisories arrive (each line the JSON text of a PublishedAdvisory).
 */
export async function* advisoryDocumentText(
  generatedAt: Date,
  advisoryCount: number,
  lines: AsyncIterable<string[]>,
): AsyncGenerator<string> {
  const document = new ListedDocument(
    advisoryDocumentMembers(generatedAt, advisoryCount),
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
    advisoryDocumentMembers(new Date(document.generated_at), document.advisory_count),
    "advisories",
    document.advisories.map((advisory) => JSON.stringify(advisory)),
  );
}
