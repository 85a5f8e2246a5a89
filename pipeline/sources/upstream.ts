import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { z } from "zod";
import { debianVersionSortKeyOrNull } from "../lib/dpkg-version.ts";
import { PipelineError } from "../lib/errors.ts";
import {
  defineAdapter,
  type FetchContext,
  type FetchItem,
  type HealthTracker,
  type LandingTable,
  type LandingValue,
  type SourceAdapter,
} from "./types.ts";

/**
 * The one normalised shape every upstream adapter (Debian Security Tracker, OSV, NVD) emits, so that dbt
 * stages a single landing table and the decision rules compare like with like.
 */
export const upstreamSignals = [
  "fixed", // a fixed version exists (Debian resolved with a version, OSV fixed event)
  "not_affected", // the distro never shipped the vulnerable code (Debian resolved with fixed_version "0")
  "open", // acknowledged, vulnerable, no fix yet
  "postponed", // Debian no-dsa "postponed": a fix will come later
  "ignored", // Debian no-dsa "ignored": no update will be provided
  "end_of_life", // security support ended for the package in that release
  "rejected", // NVD vulnStatus Rejected: the CVE is invalid
  "withdrawn", // OSV record withdrawn
  "disputed", // NVD cveTags disputed (or DISPUTED in the description)
  "undetermined", // not yet triaged, or nothing conclusive (e.g. NVD analysis without a verdict)
] as const;
export type UpstreamSignal = (typeof upstreamSignals)[number];

export const upstreamObservation = z.object({
  /** The registered name of the source that observed it (registry.ts). */
  source: z.string().min(1),
  /** Canonical id the advisory uses: a CVE id, or a Debian TEMP id. Aliases are folded onto it. */
  vuln_id: z.string(),
  /** The source's own record id (DEBIAN-CVE-2016-9296, CVE-2019-6459, …). */
  record_id: z.string(),
  /** Other ids the record names (GHSA, DSA, DLA, DEBIAN-CVE, CVE), sorted, without vuln_id itself. */
  aliases: z.array(z.string()),
  /** Debian source package; null for package-agnostic sources (NVD). */
  package_name: z.string().nullable(),
  /** Debian release codename (bookworm) or OSV ecosystem (Debian:12); null when not release-specific. */
  release: z.string().nullable(),
  signal: z.enum(upstreamSignals),
  fixed_version: z.string().nullable(),
  /** Raw urgency/severity label as the source gives it (e.g. "medium**", "unimportant"). */
  urgency: z.string().nullable(),
  /** The source's own last-modified time for the record (ISO-8601), when it gives one. */
  upstream_modified_at: z.string().nullable(),
  /** Short source-specific evidence for explanations: nodsa_reason, vulnStatus, the disputed tag, … */
  detail: z.string().nullable(),
  /** sha256 of the raw record as received, so a re-parse can be checked against what was fetched. */
  payload_hash: z.string(),
  /** Where the raw record is kept: a file path (plus #/json/pointer) or a cache entry. */
  payload_ref: z.string().nullable(),
});
export type UpstreamObservation = z.infer<typeof upstreamObservation>;

export const upstreamLanding: LandingTable = {
  name: "upstream_observations",
  columns: [
    { name: "source_name", type: "VARCHAR" },
    { name: "vuln_id", type: "VARCHAR" },
    { name: "record_id", type: "VARCHAR" },
    { name: "aliases", type: "VARCHAR" },
    { name: "package_name", type: "VARCHAR" },
    { name: "release", type: "VARCHAR" },
    { name: "signal", type: "VARCHAR" },
    { name: "fixed_version", type: "VARCHAR" },
    { name: "urgency", type: "VARCHAR" },
    { name: "upstream_modified_at", type: "VARCHAR" },
    { name: "detail", type: "VARCHAR" },
    { name: "payload_hash", type: "VARCHAR" },
    { name: "payload_ref", type: "VARCHAR" },
    // dpkg order as a plain string (lib/dpkg-version.ts), so the models compare versions by Debian's rules.
    { name: "fixed_version_key", type: "VARCHAR" },
  ],
};

export function upstreamLandingRow(observation: UpstreamObservation): LandingValue[] {
  return [
    observation.source,
    observation.vuln_id,
    observation.record_id,
    JSON.stringify(observation.aliases),
    observation.package_name,
    observation.release,
    observation.signal,
    observation.fixed_version,
    observation.urgency,
    observation.upstream_modified_at,
    observation.detail,
    observation.payload_hash,
    observation.payload_ref,
    debianVersionSortKeyOrNull(observation.fixed_version),
  ];
}

/** CVSS versions NVD carries, newest first, with the `metrics` key each comes under. */
export const cvssVersions = [
  { version: "4.0", key: "cvssMetricV40" },
  { version: "3.1", key: "cvssMetricV31" },
  { version: "3.0", key: "cvssMetricV30" },
  { version: "2.0", key: "cvssMetricV2" },
] as const;

export const cvssScore = z.object({
  version: z.enum(cvssVersions.map((entry) => entry.version) as ["4.0", "3.1", "3.0", "2.0"]),
  base_score: z.number().min(0).max(10),
  /** As NVD gives it (CRITICAL, HIGH, MEDIUM, LOW, NONE). */
  base_severity: z.string().nullable(),
  vector: z.string(),
  /** Who scored it (nvd@nist.gov, a CNA's address). */
  source: z.string().nullable(),
  /** Primary (the scorer's own) or Secondary. */
  type: z.string().nullable(),
});
export type CvssScore = z.infer<typeof cvssScore>;

export const cveReference = z.object({
  url: z.string(),
  source: z.string().nullable(),
  tags: z.array(z.string()),
});
export type CveReference = z.infer<typeof cveReference>;

/**
 * What a source says about a vulnerability itself, beside its signals: the facts the advisory page and
 * cve_facts.json show. NVD fills every field it has; the Debian tracker only the description (per package,
 * as it keeps it). Unknown is null (or an empty list).
 */
export const cveFacts = z.object({
  source: z.string().min(1),
  vuln_id: z.string(),
  record_id: z.string(),
  /** The Debian source package the facts were given for; null for package-agnostic sources (NVD). */
  package_name: z.string().nullable(),
  /** The English description. */
  description: z.string().nullable(),
  /** NVD's vulnStatus (Analyzed, Awaiting Analysis, …). */
  vuln_status: z.string().nullable(),
  /** ISO-8601 in UTC with `Z`. */
  published: z.string().nullable(),
  last_modified: z.string().nullable(),
  /** Newest version first, then the Primary scores before the Secondary ones, then as the record lists them. */
  cvss: z.array(cvssScore),
  /** CWE ids (CWE-79), distinct, in numeric order; NVD's placeholders (NVD-CWE-noinfo) are left out. */
  cwes: z.array(z.string()),
  references: z.array(cveReference),
  payload_hash: z.string(),
  payload_ref: z.string().nullable(),
});
export type CveFacts = z.infer<typeof cveFacts>;

/** landing.cve_facts: the facts rows of the upstream sources, members of their snapshots (FactsLanding). */
export const cveFactsLanding: LandingTable = {
  name: "cve_facts",
  columns: [
    { name: "source_name", type: "VARCHAR" },
    { name: "vuln_id", type: "VARCHAR" },
    { name: "record_id", type: "VARCHAR" },
    { name: "package_name", type: "VARCHAR" },
    { name: "description", type: "VARCHAR" },
    { name: "vuln_status", type: "VARCHAR" },
    { name: "published", type: "VARCHAR" },
    { name: "last_modified", type: "VARCHAR" },
    // JSON lists: [{version, base_score, base_severity, vector, source, type}], ["CWE-79"], [{url, source, tags}].
    { name: "cvss", type: "VARCHAR" },
    { name: "cwes", type: "VARCHAR" },
    { name: "reference_links", type: "VARCHAR" },
    { name: "payload_hash", type: "VARCHAR" },
    { name: "payload_ref", type: "VARCHAR" },
  ],
};

export function cveFactsLandingRow(facts: CveFacts): LandingValue[] {
  return [
    facts.source,
    facts.vuln_id,
    facts.record_id,
    facts.package_name,
    facts.description,
    facts.vuln_status,
    facts.published,
    facts.last_modified,
    JSON.stringify(facts.cvss),
    JSON.stringify(facts.cwes),
    JSON.stringify(facts.references),
    facts.payload_hash,
    facts.payload_ref,
  ];
}

/** Every item an upstream adapter yields: observations, facts, rejections and delivery markers. */
export type UpstreamFetchItem = FetchItem<UpstreamObservation, CveFacts>;

/**
 * Builds a SourceAdapter around an upstream source's fetch step, so each source folder only says how to
 * get and parse its records; landing (observations and, from NVD and the tracker, facts), health counting and the "unchanged"/"incremental"/"checkpoint"
 * markers pass through.
 */
export function upstreamAdapter(
  name: string,
  fetchItems: (context: FetchContext, health: HealthTracker) => AsyncIterable<UpstreamFetchItem>,
): SourceAdapter<UpstreamObservation, CveFacts> {
  return defineAdapter({
    name,
    landing: upstreamLanding,
    facts: { landing: cveFactsLanding, toLandingRow: cveFactsLandingRow },
    usesRunContext: true,
    toLandingRow: upstreamLandingRow,
    fetchItems,
  });
}

/** Reads a recorded snapshot file as a stream of byte chunks, with a clear error when it is missing. */
export async function* readSnapshotFile(path: string, health: HealthTracker): AsyncGenerator<Uint8Array> {
  let stream: ReturnType<typeof createReadStream>;
  try {
    await access(path);
    stream = createReadStream(path);
  } catch {
    throw new PipelineError("file not found", { location: { file: path } });
  }
  for await (const chunk of stream) {
    health.bytes += (chunk as Buffer).byteLength;
    yield chunk as Buffer;
  }
}
