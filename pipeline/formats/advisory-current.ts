import { join } from "node:path";
import { z } from "zod";
import { ListedDocument } from "./listed-document.ts";

/**
 * advisory_current.json: every advisory's current decision, one advisory per line (listed-document.ts).
 * These schemas are the definition of the file; its JSON Schema is generated from them (json-schema.ts).
 */
export const advisoryCurrentFileName = "advisory_current.json";

const isoSeconds = z.iso.datetime({ offset: true });

/** `<package>:<vulnerability id>`, the key of an advisory everywhere. */
export const advisoryIdSchema = z
  .string()
  .regex(/^[^:\s]+:[^:\s]+$/, "must be <package>:<vulnerability id>")
  .describe("The advisory: <source package>:<vulnerability id>.");

export const sourceEvidenceSchema = z
  .object({
    source: z
      .string()
      .min(1)
      .describe("The source (source_catalogue seed): echo_data, echo_csv, debian_tracker, …"),
    signal: z
      .string()
      .min(1)
      .describe("What the source says: fixed, not_affected, open, listed_without_fix, …"),
    version: z.string().nullable().describe("The version the source gives (fixed in, or not affected from)."),
    release: z.string().nullable().describe("The Debian release the observation is about."),
    record: z.string().nullable().describe("The upstream record id (an OSV id, an NVD CVE id)."),
    record_date: isoSeconds.nullable().describe("The upstream's own modification time of the record."),
    fetched_at: isoSeconds.nullable().describe("When this exact observation was first fetched."),
    stale: z.boolean().describe("True when the source's latest fetch failed and this is its last good data."),
  })
  .strict();
export type SourceEvidence = z.infer<typeof sourceEvidenceSchema>;

/** One advisory as published. Field order here is the order in the file. */
export const publishedAdvisorySchema = z
  .object({
    advisory_id: advisoryIdSchema,
    cve_id: z.string().min(1).describe("The vulnerability id as data.json lists it."),
    package_name: z.string().min(1).describe("The Debian source package."),
    state: z
      .string()
      .min(1)
      .describe("under_investigation, pending_upstream, fixed, not_applicable or wont_fix."),
    state_type: z.enum(["final", "non_final"]),
    fixed_version: z.string().nullable().describe("The first fixed version, when the state is fixed."),
    confidence: z.number().min(0).max(1).describe("How sure the deciding rule is (rule_catalogue seed)."),
    explanation: z.string().min(1).describe("The customer-facing explanation, from the rule's template."),
    reason_code: z.string().min(1),
    rule_id: z.string().min(1).describe("The catalogue rule that decided (rule_catalogue seed)."),
    contributing_sources: z.array(z.string()).describe("The sources that agree with the decision."),
    dissenting_sources: z.array(z.string()).describe("The sources that say otherwise."),
    decided_at: isoSeconds.describe("The clock of the run that recorded the current decision."),
    first_seen: isoSeconds.describe("When the advisory was first decided."),
    evidence: z.array(sourceEvidenceSchema).describe("What every source says about the advisory."),
    history_url: z.string().min(1).describe("The advisory's page, with the timeline of its decisions."),
  })
  .strict();
export type PublishedAdvisory = z.infer<typeof publishedAdvisorySchema>;

export const advisoryCurrentSchema = z
  .object({
    generated_at: isoSeconds.describe("The clock of the run that published the file."),
    advisory_count: z.number().int().min(0),
    advisories: z.array(publishedAdvisorySchema).describe("Sorted by advisory_id, in byte order."),
  })
  .strict();
export type AdvisoryDocument = z.infer<typeof advisoryCurrentSchema>;

export function advisoryCurrentPath(outputDir: string): string {
  return join(outputDir, advisoryCurrentFileName);
}

/**
 * The advisory's page on the published site. Without a configured public address it is relative, which
 * resolves against advisory_current.json's own address (both are published at the site's root).
 */
export function historyUrl(advisoryId: string, publicUrl?: string): string {
  const path = `advisory/?id=${encodeURIComponent(advisoryId)}`;
  return publicUrl ? `${publicUrl.replace(/\/+$/, "")}/${path}` : path;
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
