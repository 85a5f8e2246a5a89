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

/**
 * Builds a SourceAdapter around an upstream source's fetch step, so each source folder only says how to
 * get and parse its records; landing, health counting and the "unchanged"/"incremental"/"checkpoint"
 * markers pass through.
 */
export function upstreamAdapter(
  name: string,
  fetchItems: (context: FetchContext, health: HealthTracker) => AsyncIterable<FetchItem<UpstreamObservation>>,
): SourceAdapter<UpstreamObservation> {
  return defineAdapter({
    name,
    landing: upstreamLanding,
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
