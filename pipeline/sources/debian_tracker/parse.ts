import { z } from "zod";
import { PipelineError } from "../../lib/errors.ts";
import { contentHash } from "../../lib/hash.ts";
import { defaultDebianReleases, isNotAffectedVersion } from "../debian.ts";
import {
  describeValue as describe,
  errorText,
  firstIssue,
  isPlainObject,
  parseJsonText,
  payloadRef,
  rejected,
  type UpstreamItem,
} from "../osv/helpers.ts";
import {
  debianPackagePattern,
  debianVersionPattern,
  excerpt,
  nestedDeeperThan,
  nestingReason,
  vulnerabilityIdPattern,
} from "../types.ts";
import type { CveFacts, UpstreamSignal } from "../upstream.ts";
import { splitTopLevelObject } from "./stream.ts";

/**
 * The Debian Security Tracker's whole-dataset JSON (https://security-tracker.debian.org/tracker/data/json):
 * `{ "<source package>": { "<CVE or TEMP id>": { description?, scope?, debianbug?, releases: { "<codename>":
 * { status, repositories, fixed_version?, urgency, nodsa?, nodsa_reason?, next_point_update? } } } } }`.
 * Keys whose value is null are left out; `releases` can be an empty list.
 *
 * One observation per (package, vulnerability id, release) kept. The raw record behind an observation is
 * the release object: `payload_hash` is its canonical hash and `payload_ref` points at it
 * (`<ref>#/<package>/<id>/releases/<codename>`), so an edit to another release or to the description
 * (which the tracker copies from NVD) leaves the observation byte for byte unchanged. An entry's
 * description is yielded once, before its observations, as facts (landing.cve_facts); a description that
 * is not a string is rejected alone, and the entry's releases are read as usual.
 */

export interface DebianTrackerOptions {
  /** Where the document came from (file path or URL): the rejections' file and the base of payload_ref. */
  ref?: string | null;
  /** Source packages to keep (the vendor's); null or absent keeps every package. */
  packages?: ReadonlySet<string> | null;
  /** Release codenames to keep; defaults to defaultDebianReleases. */
  releases?: readonly string[];
}

export const trackerStatuses = ["resolved", "open", "undetermined"] as const;

const optionalString = (field: string) =>
  z.string({ error: (issue) => `${field} must be a string, found ${describe(issue.input)}` }).optional();

const trackerRelease = z.looseObject(
  {
    status: z.string({
      error: (issue) =>
        issue.input === undefined
          ? "status is missing"
          : `status must be a string, found ${describe(issue.input)}`,
    }),
    repositories: z
      .record(z.string(), z.string(), {
        error: "repositories must be an object of suite → version strings",
      })
      .optional(),
    fixed_version: optionalString("fixed_version"),
    urgency: optionalString("urgency"),
    nodsa: optionalString("nodsa"),
    nodsa_reason: optionalString("nodsa_reason"),
    next_point_update: z
      .boolean({ error: (issue) => `next_point_update must be a boolean, found ${describe(issue.input)}` })
      .optional(),
  },
  { error: (issue) => `a release must be an object with a status, found ${describe(issue.input)}` },
);
export type TrackerRelease = z.infer<typeof trackerRelease>;

/** What one release entry says, before it is dressed as an observation. */
export interface TrackerVerdict {
  signal: UpstreamSignal;
  fixed_version: string | null;
  detail: string | null;
}

/**
 * Maps one release entry to a signal. Open entries are read in the tracker's own order of meaning: a no-dsa
 * reason (ignored, postponed) first, then end-of-life support, then plain open (a no-dsa with an empty
 * reason is the tracker's "minor issue"). Returns a string when the entry cannot be read.
 */
export function trackerVerdict(release: TrackerRelease): TrackerVerdict | string {
  const note = noteOf(release.nodsa);
  const nextPoint = release.next_point_update ? "fix planned for the next point release" : null;
  switch (release.status) {
    case "resolved": {
      const fixed = release.fixed_version?.trim() ?? "";
      if (fixed === "") return "status is resolved but fixed_version is missing";
      if (isNotAffectedVersion(fixed)) {
        return { signal: "not_affected", fixed_version: null, detail: "not affected (fixed_version 0)" };
      }
      if (!debianVersionPattern.test(fixed))
        return `fixed_version ${JSON.stringify(fixed)} is not a Debian version`;
      return { signal: "fixed", fixed_version: fixed, detail: nextPoint };
    }
    case "open": {
      const reason = release.nodsa_reason?.trim();
      const noDsa = release.nodsa !== undefined || release.nodsa_reason !== undefined;
      let signal: UpstreamSignal = "open";
      let detail: string | null = null;
      if (reason === "ignored" || reason === "postponed") {
        signal = reason;
        detail = `no-dsa: ${reason}${note}`;
      } else if (release.urgency === "end-of-life") {
        signal = "end_of_life";
        detail = "end-of-life";
      } else if (noDsa) {
        detail = `no-dsa: ${reason ? reason : "minor issue"}${note}`;
      }
      return { signal, fixed_version: null, detail: joinDetail(detail, nextPoint) };
    }
    case "undetermined":
      return { signal: "undetermined", fixed_version: null, detail: nextPoint };
    default:
      return `unknown status ${JSON.stringify(release.status)} (expected ${trackerStatuses.join(", ")})`;
  }
}

/** The tracker's free-text no-dsa comment, shortened; "Minor issue" adds nothing to "no-dsa: minor issue". */
function noteOf(nodsa: string | undefined): string {
  const text = (nodsa ?? "").replace(/\s+/g, " ").trim();
  if (text === "" || text.toLowerCase() === "minor issue") return "";
  return ` (${excerpt(text, 160)})`;
}

function joinDetail(...parts: (string | null)[]): string | null {
  const kept = parts.filter((part): part is string => part !== null);
  return kept.length > 0 ? kept.join("; ") : null;
}

interface ResolvedOptions {
  ref: string | null;
  packages: ReadonlySet<string> | null;
  releases: ReadonlySet<string>;
}

function resolveOptions(options: DebianTrackerOptions): ResolvedOptions {
  return {
    ref: options.ref ?? null,
    packages: options.packages ?? null,
    releases: new Set(options.releases ?? defaultDebianReleases),
  };
}

/**
 * Parses the whole document, given as JSON text or already parsed. Packages the caller does not keep are
 * skipped unread. Throws a PipelineError only when the document as a whole is unusable (bad JSON, not an
 * object); everything smaller is rejected one by one.
 */
export function parseDebianTracker(
  input: unknown,
  options: DebianTrackerOptions = {},
): Generator<UpstreamItem> {
  const resolved = resolveOptions(options);
  const document = typeof input === "string" ? parseJsonText(input, resolved.ref) : input;
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    throw new PipelineError(
      `the tracker JSON must be an object keyed by source package, found ${describe(document)}`,
      resolved.ref ? { location: { file: resolved.ref } } : {},
    );
  }
  return iterateDocument(document as Record<string, unknown>, resolved);
}

function* iterateDocument(
  document: Record<string, unknown>,
  options: ResolvedOptions,
): Generator<UpstreamItem> {
  for (const [packageName, value] of Object.entries(document)) {
    if (options.packages && !options.packages.has(packageName)) continue;
    yield* packageItems(packageName, value, options);
  }
}

/**
 * Maps one package's value (`{ "<id>": { releases: … } }`) to observations: the unit a streaming JSON
 * reader hands over. The package filter is the caller's business here.
 */
export function parseDebianTrackerPackage(
  packageName: string,
  value: unknown,
  options: DebianTrackerOptions = {},
): Generator<UpstreamItem> {
  return packageItems(packageName, value, resolveOptions(options));
}

/**
 * The streaming variant for the ~100+ MB live document: reads the text in chunks (strings or UTF-8 bytes,
 * e.g. a file or response stream), splits the top-level object one package at a time and parses only the
 * packages kept, so memory holds one package, never the whole document. A package whose JSON is broken is
 * rejected; a document that is not an object or ends early throws a PipelineError.
 */
export async function* parseDebianTrackerStream(
  chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options: DebianTrackerOptions = {},
): AsyncGenerator<UpstreamItem> {
  const resolved = resolveOptions(options);
  for await (const { key, json } of splitTopLevelObject(chunks, resolved.ref)) {
    if (resolved.packages && !resolved.packages.has(key)) continue;
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (error) {
      yield rejected(resolved.ref, quote(key), `invalid JSON: ${errorText(error)}`, json);
      continue;
    }
    yield* packageItems(key, value, resolved);
  }
}

function* packageItems(
  packageName: string,
  value: unknown,
  options: ResolvedOptions,
): Generator<UpstreamItem> {
  const packageKey = quote(packageName);
  if (!debianPackagePattern.test(packageName)) {
    yield rejected(options.ref, packageKey, `${packageKey} is not a valid Debian source package name`);
    return;
  }
  // Before anything walks the value recursively (quoting it, hashing a release), which would overflow.
  if (nestedDeeperThan(value)) {
    yield rejected(options.ref, packageKey, `the package's value is ${nestingReason()}`);
    return;
  }
  if (!isPlainObject(value)) {
    yield rejected(
      options.ref,
      packageKey,
      `a package must be an object keyed by vulnerability id, found ${describe(value)}`,
      value,
    );
    return;
  }
  for (const [vulnId, entry] of Object.entries(value)) {
    const entryKey = `${packageKey}.${quote(vulnId)}`;
    if (!vulnerabilityIdPattern.test(vulnId)) {
      yield rejected(
        options.ref,
        entryKey,
        `${quote(vulnId)} is neither CVE-YYYY-NNNN nor TEMP-NNNNNNN-XXXXXX`,
      );
      continue;
    }
    if (!isPlainObject(entry)) {
      yield rejected(
        options.ref,
        entryKey,
        `an entry must be an object with releases, found ${describe(entry)}`,
        entry,
      );
      continue;
    }
    const description = entry.description;
    if (description !== undefined && description !== null && typeof description !== "string") {
      yield rejected(
        options.ref,
        `${entryKey}.description`,
        `description must be a string, found ${describe(description)}`,
        description,
      );
    } else if (typeof description === "string" && description.trim() !== "") {
      yield { kind: "facts", facts: trackerFacts(packageName, vulnId, description.trim(), options.ref) };
    }
    const releases = entry.releases;
    if (Array.isArray(releases) && releases.length === 0) continue; // the tracker's "no release" form
    if (!isPlainObject(releases)) {
      yield rejected(
        options.ref,
        `${entryKey}.releases`,
        releases === undefined
          ? "releases is missing"
          : `releases must be an object keyed by codename (or []), found ${describe(releases)}`,
        releases,
      );
      continue;
    }
    for (const [codename, raw] of Object.entries(releases)) {
      if (!options.releases.has(codename)) continue;
      const releaseKey = `${entryKey}.releases.${quote(codename)}`;
      const parsed = trackerRelease.safeParse(raw);
      if (!parsed.success) {
        const issue = firstIssue(parsed.error.issues, releaseKey);
        yield rejected(options.ref, issue.key, issue.message, raw);
        continue;
      }
      const verdict = trackerVerdict(parsed.data);
      if (typeof verdict === "string") {
        yield rejected(options.ref, releaseKey, verdict, raw);
        continue;
      }
      yield {
        kind: "observation",
        observation: {
          source: "debian_tracker",
          vuln_id: vulnId,
          record_id: vulnId,
          aliases: [],
          package_name: packageName,
          release: codename,
          signal: verdict.signal,
          fixed_version: verdict.fixed_version,
          urgency: parsed.data.urgency ?? null,
          upstream_modified_at: null,
          detail: verdict.detail,
          payload_hash: contentHash(raw),
          payload_ref: payloadRef(options.ref, [packageName, vulnId, "releases", codename]),
        },
      };
    }
  }
}

/**
 * The tracker's description of an entry (often NVD's, copied) as facts for the advisory page: the only fact
 * it adds beside its per-release urgency, which the observations keep. Its payload is the description text.
 */
function trackerFacts(
  packageName: string,
  vulnId: string,
  description: string,
  ref: string | null,
): CveFacts {
  return {
    source: "debian_tracker",
    vuln_id: vulnId,
    record_id: vulnId,
    package_name: packageName,
    description,
    vuln_status: null,
    published: null,
    last_modified: null,
    cvss: [],
    cwes: [],
    references: [],
    payload_hash: contentHash(description),
    payload_ref: payloadRef(ref, [packageName, vulnId, "description"]),
  };
}

function quote(key: string): string {
  return JSON.stringify(key);
}
