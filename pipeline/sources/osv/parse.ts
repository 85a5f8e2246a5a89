import { z } from "zod";
import { contentHash } from "../../lib/hash.ts";
import { defaultDebianReleases, isNotAffectedVersion } from "../debian.ts";
import {
  cveIdPattern,
  debianVersionPattern,
  excerpt,
  maxFieldLength,
  nestedDeeperThan,
  nestingReason,
  vulnerabilityIdPattern,
} from "../types.ts";
import type { UpstreamSignal } from "../upstream.ts";
import {
  describeValue,
  firstIssue,
  isPlainObject,
  normaliseTimestamp,
  parseJsonText,
  rejected,
  type UpstreamItem,
} from "./helpers.ts";

/**
 * OSV records (schema 1.7.x), as the OSV API serves them and as `<ecosystem>/all.zip` holds them.
 *
 * Only `affected[]` entries in a Debian release ecosystem (`Debian:12`, `Debian:13`, …) are read; other
 * ecosystems (a GHSA's PyPI entry) are skipped without a word. Conventions:
 * - release: the Debian codename (`Debian:12` → `bookworm`), the same vocabulary as the Debian tracker,
 *   so dbt compares like with like; the raw ecosystem stays in `detail` (`ecosystem Debian:12`).
 * - vuln_id: a CVE id found among `id`, `aliases` and `upstream` (a `DEBIAN-CVE-…` id counts as its CVE);
 *   when a record names several CVEs (a DSA fixing three), one observation per CVE. Without a CVE, a
 *   Debian TEMP id; without either the record is rejected. `aliases` lists every other id named, sorted.
 * - signal: `withdrawn` when the record is withdrawn, else `fixed` when an ECOSYSTEM range has a `fixed`
 *   event (fixed_version = that version), else `open`.
 * - payload_hash: the canonical hash of the whole record; payload_ref: the caller's reference as given.
 */

/** Debian release numbers as OSV names them (`Debian:<n>`) and their codenames. */
export const debianCodenames: Readonly<Record<string, string>> = {
  "7": "wheezy",
  "8": "jessie",
  "9": "stretch",
  "10": "buster",
  "11": "bullseye",
  "12": "bookworm",
  "13": "trixie",
  "14": "forky",
  "15": "duke",
};

/** `Debian:12` → `bookworm`; null for any other ecosystem, a bare `Debian`, or an unknown release number. */
export function debianReleaseOfEcosystem(ecosystem: string): string | null {
  const number = /^Debian:(\d+)$/.exec(ecosystem)?.[1];
  return number === undefined ? null : (debianCodenames[number] ?? null);
}

export interface OsvOptions {
  /** Where the record came from (file, URL, `all.zip!name`): the rejections' file and the payload_ref. */
  ref?: string | null;
  /** Debian source packages to keep; null or absent keeps every package. */
  packages?: ReadonlySet<string> | null;
  /** Release codenames to keep; defaults to defaultDebianReleases (OSV has no sid: Debian:N only). */
  releases?: readonly string[];
}

const stringList = (field: string) =>
  z
    .array(z.string(), {
      error: (issue) => `${field} must be a list of strings, found ${describeValue(issue.input)}`,
    })
    .nullish();

const osvRecord = z.looseObject(
  {
    id: z
      .string({ error: (issue) => `id must be a string, found ${describeValue(issue.input)}` })
      .min(1, "id is empty"),
    modified: z.string({
      error: (issue) =>
        issue.input === undefined
          ? "modified is missing"
          : `modified must be a string, found ${describeValue(issue.input)}`,
    }),
    withdrawn: z
      .string({ error: (issue) => `withdrawn must be a string, found ${describeValue(issue.input)}` })
      .nullish(),
    schema_version: z.string().nullish(),
    aliases: stringList("aliases"),
    upstream: stringList("upstream"),
    affected: z
      .array(z.unknown(), {
        error: (issue) => `affected must be a list, found ${describeValue(issue.input)}`,
      })
      .nullish(),
  },
  { error: (issue) => `an OSV record must be an object, found ${describeValue(issue.input)}` },
);
export type OsvRecord = z.infer<typeof osvRecord>;

const osvEvent = z.looseObject({
  introduced: z.string().optional(),
  fixed: z.string().optional(),
  last_affected: z.string().optional(),
  limit: z.string().optional(),
});

const osvAffected = z.looseObject({
  package: z
    .looseObject({
      ecosystem: z.string({ error: "package.ecosystem must be a string" }),
      name: z.string({ error: "package.name must be a string" }),
      purl: z.string().optional(),
    })
    .nullish(),
  ranges: z
    .array(z.looseObject({ type: z.string(), events: z.array(osvEvent) }), {
      error: "ranges must be a list of {type, events}",
    })
    .nullish(),
  versions: z.array(z.string()).nullish(),
  ecosystem_specific: z.looseObject({ urgency: z.string().optional() }).nullish(),
});
export type OsvAffected = z.infer<typeof osvAffected>;

/**
 * The ids an OSV record names: the CVE ids it is about (sorted; a `DEBIAN-CVE-…`/`DEBIAN-TEMP-…` id folded
 * onto its CVE/TEMP id) or, without any, its Debian TEMP ids; and every id named, for the aliases.
 */
export function osvVulnIds(record: Pick<OsvRecord, "id" | "aliases" | "upstream">): {
  vulnIds: string[];
  named: string[];
} {
  const named = [...new Set([record.id, ...(record.aliases ?? []), ...(record.upstream ?? [])])].sort();
  const folded = named.map((id) => (id.startsWith("DEBIAN-") ? id.slice("DEBIAN-".length) : id));
  const cves = [...new Set(folded.filter((id) => cveIdPattern.test(id)))].sort();
  const temps = [
    ...new Set(folded.filter((id) => id.startsWith("TEMP-") && vulnerabilityIdPattern.test(id))),
  ];
  return { vulnIds: cves.length > 0 ? cves : temps.sort(), named };
}

/** Signal and fixed version of one affected entry: the last `fixed` event of its ECOSYSTEM ranges. */
export function osvAffectedVerdict(affected: OsvAffected): {
  signal: UpstreamSignal;
  fixed_version: string | null;
  fixedEvents: string[];
} {
  const fixedEvents = (affected.ranges ?? [])
    .filter((range) => range.type === "ECOSYSTEM")
    .flatMap((range) => range.events.flatMap((event) => (event.fixed ? [event.fixed.trim()] : [])))
    .filter((version) => version !== "");
  const fixed = fixedEvents.at(-1) ?? null;
  // Debian's "fixed in 0" is its verdict "never affected", which OSV's Debian records carry over.
  if (fixed !== null && isNotAffectedVersion(fixed)) {
    return { signal: "not_affected", fixed_version: null, fixedEvents: [...new Set(fixedEvents)] };
  }
  return {
    signal: fixed === null ? "open" : "fixed",
    fixed_version: fixed,
    fixedEvents: [...new Set(fixedEvents)],
  };
}

/**
 * Parses one OSV record (JSON text, or already parsed) into observations, one per (vulnerability id,
 * kept Debian affected entry). Problems with the record as a whole reject it; a malformed affected entry
 * is rejected alone.
 */
export function* parseOsvRecord(input: unknown, options: OsvOptions = {}): Generator<UpstreamItem> {
  const ref = options.ref ?? null;
  const releases = new Set(options.releases ?? defaultDebianReleases);
  const raw = typeof input === "string" ? parseJsonText(input, ref) : input;
  const recordKey =
    isPlainObject(raw) && typeof raw.id === "string" ? JSON.stringify(excerpt(raw.id, 100)) : "(record)";
  if (typeof input !== "string" && nestedDeeperThan(raw)) {
    yield rejected(ref, recordKey, `the record is ${nestingReason()}`);
    return;
  }
  const parsed = osvRecord.safeParse(raw);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error.issues, recordKey);
    yield rejected(ref, issue.key, issue.message, raw);
    return;
  }
  const record = parsed.data;
  const major = record.schema_version ? record.schema_version.split(".")[0] : "1";
  if (major !== "1") {
    yield rejected(
      ref,
      `${recordKey}.schema_version`,
      `unsupported OSV schema_version ${record.schema_version}`,
    );
    return;
  }
  const modified = normaliseTimestamp(record.modified);
  if (modified === null) {
    yield rejected(
      ref,
      `${recordKey}.modified`,
      `modified ${JSON.stringify(record.modified)} is not an RFC 3339 time`,
    );
    return;
  }
  let withdrawn: string | null = null;
  if (record.withdrawn) {
    withdrawn = normaliseTimestamp(record.withdrawn);
    if (withdrawn === null) {
      yield rejected(
        ref,
        `${recordKey}.withdrawn`,
        `withdrawn ${JSON.stringify(record.withdrawn)} is not an RFC 3339 time`,
      );
      return;
    }
  }

  // Read the kept affected entries first: a record about other ecosystems needs no vulnerability id.
  const kept: { affected: OsvAffected; release: string; ecosystem: string; name: string }[] = [];
  for (const [index, entry] of (record.affected ?? []).entries()) {
    const entryKey = `${recordKey}.affected[${index}]`;
    const ecosystem =
      isPlainObject(entry) && isPlainObject(entry.package) ? entry.package.ecosystem : undefined;
    if (typeof ecosystem === "string") {
      const release = debianReleaseOfEcosystem(ecosystem);
      if (release === null || !releases.has(release)) continue;
    }
    const affected = osvAffected.safeParse(entry);
    if (!affected.success) {
      const issue = firstIssue(affected.error.issues, entryKey);
      yield rejected(ref, issue.key, issue.message, entry);
      continue;
    }
    const pkg = affected.data.package;
    if (!pkg) continue; // a GIT-only entry names no package
    const release = debianReleaseOfEcosystem(pkg.ecosystem);
    if (release === null || !releases.has(release)) continue;
    if (options.packages && !options.packages.has(pkg.name)) continue;
    // A fixed event becomes a published fixed version: it must be a Debian version, not any text.
    const notVersion = osvAffectedVerdict(affected.data).fixedEvents.find(
      (version) => version.length > maxFieldLength || !debianVersionPattern.test(version),
    );
    if (notVersion !== undefined) {
      yield rejected(
        ref,
        `${entryKey}.ranges`,
        `fixed event ${JSON.stringify(excerpt(notVersion, 60))} is not a Debian version`,
      );
      continue;
    }
    kept.push({ affected: affected.data, release, ecosystem: pkg.ecosystem, name: pkg.name });
  }
  if (kept.length === 0) return;

  const { vulnIds, named } = osvVulnIds(record);
  if (vulnIds.length === 0) {
    yield rejected(
      ref,
      recordKey,
      `no CVE or Debian TEMP id among id, aliases and upstream (${named.join(", ")})`,
    );
    return;
  }
  const payloadHash = contentHash(raw);
  for (const vulnId of vulnIds) {
    const aliases = named.filter((id) => id !== vulnId);
    for (const { affected, release, ecosystem, name } of kept) {
      const verdict = osvAffectedVerdict(affected);
      const signal: UpstreamSignal = withdrawn ? "withdrawn" : verdict.signal;
      const details = [`ecosystem ${ecosystem}`];
      if (withdrawn) details.push(`withdrawn ${withdrawn}`);
      else if (verdict.fixedEvents.length > 1) details.push(`fixed events ${verdict.fixedEvents.join(", ")}`);
      yield {
        kind: "observation",
        observation: {
          source: "osv",
          vuln_id: vulnId,
          record_id: record.id,
          aliases,
          package_name: name,
          release,
          signal,
          fixed_version: withdrawn ? null : verdict.fixed_version,
          urgency: affected.ecosystem_specific?.urgency ?? null,
          upstream_modified_at: modified,
          detail: details.join("; "),
          payload_hash: payloadHash,
          payload_ref: ref,
        },
      };
    }
  }
}
