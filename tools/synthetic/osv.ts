/**
 * OSV records as Debian's bucket serves them (schema 1.7.5, the shape of the real DEBIAN-CVE-2016-9296 in
 * shared/data/upstream/osv/): `DEBIAN-CVE-…` records mirroring the tracker (one affected entry per package
 * and release, `introduced 0` then `fixed` when resolved, the tracker's urgency) and DSA/DLA records naming
 * the CVEs they fix in `upstream`. The one builder of OSV records: the generator (tools/generate/osv.ts)
 * and the tests describe a record by its facts, and get it with Debian's fields, in Debian's key order;
 * what Debian derives from the id (the CVE in `upstream`, the tracker link, each entry's source file) is
 * derived here, and a field not given is left out.
 */

const schemaVersion = "1.7.5";

const trackerUrl = "https://security-tracker.debian.org/tracker";
const bucketUrl = "https://storage.googleapis.com/debian-osv";

/** One package in one release: an `affected` entry. */
export interface OsvAffectedSpec {
  /** The Debian source package. */
  name: string;
  /** `Debian:<release number>`. */
  ecosystem: string;
  /** The fixed event's version; absent or null for an unfixed range. */
  fixed?: string | null;
  /** `ecosystem_specific.urgency`, the tracker's raw urgency; DSA and DLA records carry none. */
  urgency?: string;
}

export interface OsvReference {
  type: string;
  url: string;
}

export interface OsvSeverity {
  type: string;
  score: string;
}

/** What makes one record; times are OSV's RFC 3339 text. */
export interface OsvRecordSpec {
  /** `DEBIAN-CVE-…`, `DEBIAN-TEMP-…`, `DSA-…`, `DLA-…`. */
  id: string;
  summary?: string;
  details?: string;
  modified: string;
  withdrawn?: string;
  published?: string;
  /** The ids the record is about; by default the CVE (or TEMP id) a `DEBIAN-` id names. */
  upstream?: string[];
  /** By default the tracker's page for a `DEBIAN-` id. */
  references?: OsvReference[];
  /** None (or empty) for a record without affected packages (NOT-FOR-US, google/osv.dev#4161). */
  affected?: OsvAffectedSpec[];
  severity?: OsvSeverity[];
}

export interface OsvAffected {
  package: { name: string; ecosystem: string; purl: string };
  ranges: { type: "ECOSYSTEM"; events: ({ introduced: string } | { fixed: string })[] }[];
  ecosystem_specific?: { urgency: string };
  database_specific: { source: string };
}

/** A record as served: the spec's fields, with the affected entries in full and the schema version. */
export interface OsvRecord extends Omit<OsvRecordSpec, "affected"> {
  affected?: OsvAffected[];
  schema_version: string;
}

/** The id a `DEBIAN-CVE-…`/`DEBIAN-TEMP-…` record mirrors; null for a DSA, DLA or any other id. */
function trackedId(id: string): string | null {
  return id.startsWith("DEBIAN-") ? id.slice("DEBIAN-".length) : null;
}

function affectedEntry(recordId: string, spec: OsvAffectedSpec): OsvAffected {
  const folder = trackedId(recordId) === null ? "dsa-dla-osv" : "debian-cve-osv";
  return {
    package: { name: spec.name, ecosystem: spec.ecosystem, purl: `pkg:deb/debian/${spec.name}?arch=source` },
    ranges: [
      {
        type: "ECOSYSTEM",
        events: [{ introduced: "0" }, ...(spec.fixed != null ? [{ fixed: spec.fixed }] : [])],
      },
    ],
    ...(spec.urgency !== undefined ? { ecosystem_specific: { urgency: spec.urgency } } : {}),
    database_specific: { source: `${bucketUrl}/${folder}/${recordId}.json` },
  };
}

/** The record `spec` describes, ready for JSON.stringify. */
export function osvRecord(spec: OsvRecordSpec): OsvRecord {
  const tracked = trackedId(spec.id);
  const upstream = spec.upstream ?? (tracked === null ? undefined : [tracked]);
  const references =
    spec.references ??
    (tracked === null ? undefined : [{ type: "ADVISORY", url: `${trackerUrl}/${tracked}` }]);
  const affected = spec.affected?.map((entry) => affectedEntry(spec.id, entry)) ?? [];
  return {
    id: spec.id,
    ...(spec.summary !== undefined ? { summary: spec.summary } : {}),
    ...(spec.details !== undefined ? { details: spec.details } : {}),
    modified: spec.modified,
    ...(spec.withdrawn !== undefined ? { withdrawn: spec.withdrawn } : {}),
    ...(spec.published !== undefined ? { published: spec.published } : {}),
    ...(upstream !== undefined ? { upstream } : {}),
    ...(references !== undefined ? { references } : {}),
    ...(affected.length > 0 ? { affected } : {}),
    schema_version: schemaVersion,
    ...(spec.severity !== undefined ? { severity: spec.severity } : {}),
  };
}
