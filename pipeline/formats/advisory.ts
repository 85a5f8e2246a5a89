import { z } from "zod";

/**
 * One advisory as published: the items of advisory_current.json (advisory-current.ts) and what the site shows
 * of each. These schemas are the definition; the JSON Schema is generated from them (json-schema.ts). No
 * Node.js imports: the site's browser scripts import the types too.
 */
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

const isoDay = z.iso.date();

/**
 * CISA's Known Exploited Vulnerabilities entry for the advisory's CVE (pipeline/sources/kev). A priority
 * signal beside the state: it never changes a state, rule, confidence or explanation.
 */
export const knownExploitedSchema = z
  .object({
    date_added: isoDay.describe("When CISA added the CVE to its catalogue (YYYY-MM-DD)."),
    due_date: isoDay
      .nullable()
      .describe("When U.S. federal agencies must have taken the required action (YYYY-MM-DD)."),
    ransomware_use: z
      .enum(["known", "unknown"])
      .describe("known when CISA knows of its use in a ransomware campaign; unknown otherwise."),
    vulnerability_name: z.string().nullable().describe("CISA's name for the vulnerability."),
    required_action: z.string().nullable().describe("What CISA requires agencies to do about it."),
    catalog_version: z.string().nullable().describe("The catalogVersion of the catalogue it was read from."),
  })
  .strict();
export type KnownExploited = z.infer<typeof knownExploitedSchema>;

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
    unaffected_from_version: z
      .string()
      .nullable()
      .describe(
        'For not_applicable: the version from which the package is unaffected ("0": every version); null otherwise.',
      ),
    known_exploited: knownExploitedSchema
      .nullable()
      .describe(
        "CISA's Known Exploited Vulnerabilities entry for the CVE, null when the catalogue does not list it. A priority signal: it never changes the state.",
      ),
    history_url: z.string().min(1).describe("The advisory's page, with the timeline of its decisions."),
  })
  .strict();
export type PublishedAdvisory = z.infer<typeof publishedAdvisorySchema>;

/**
 * The advisory's page on the published site. Without a configured public address it is relative, which
 * resolves against advisory_current.json's own address (both are published at the site's root).
 */
export function historyUrl(advisoryId: string, publicUrl?: string): string {
  const path = `advisory/?id=${encodeURIComponent(advisoryId)}`;
  return publicUrl ? `${publicUrl.replace(/\/+$/, "")}/${path}` : path;
}
