import { join } from "node:path";
import type { Database } from "./lib/db.ts";

/** One advisory as published in advisory_current.json. Field order here is the order in the file. */
export interface PublishedAdvisory {
  advisory_id: string;
  cve_id: string;
  package_name: string;
  state: string;
  state_type: string;
  fixed_version: string | null;
  confidence: number;
  explanation: string;
  reason_code: string;
  /** The catalogue rule that decided (rule_catalogue.csv). */
  rule_id: string;
  contributing_sources: string[];
  dissenting_sources: string[];
  /** When the current decision was made: the clock of the run that recorded it in the history. */
  decided_at: string;
  /** When the advisory was first decided (first listed in data.json while history was kept). */
  first_seen: string;
  /** What every source says about the advisory. */
  evidence: SourceEvidence[];
  /** Where the advisory's page, with the timeline of its decisions, is published. */
  history_url: string;
}

export interface SourceEvidence {
  source: string;
  signal: string;
  version: string | null;
  release: string | null;
  record: string | null;
  record_date: string | null;
  fetched_at: string | null;
  stale: boolean;
}

export interface AdvisoryDocument {
  generated_at: string;
  advisory_count: number;
  advisories: PublishedAdvisory[];
}

export interface StateCount {
  state: string;
  state_type: string;
  count: number;
}

type AdvisoryRow = Omit<PublishedAdvisory, "confidence" | "history_url"> & { confidence: string | number };

export async function readCurrentAdvisories(db: Database, publicUrl?: string): Promise<PublishedAdvisory[]> {
  const rows = await db.all<AdvisoryRow>(`
    select
      advisory_id,
      cve_id,
      package_name,
      state,
      state_type,
      fixed_version,
      confidence::double as confidence,
      explanation,
      reason_code,
      rule_id,
      list_sort(contributing_sources) as contributing_sources,
      list_sort(dissenting_sources) as dissenting_sources,
      strftime(decided_at, '%Y-%m-%dT%H:%M:%SZ') as decided_at,
      strftime(first_seen_at, '%Y-%m-%dT%H:%M:%SZ') as first_seen,
      evidence
    from marts.mart_advisory_current
    order by advisory_id
  `);
  return rows.map((row) => ({
    advisory_id: row.advisory_id,
    cve_id: row.cve_id,
    package_name: row.package_name,
    state: row.state,
    state_type: row.state_type,
    fixed_version: row.fixed_version,
    confidence: Number(row.confidence),
    explanation: row.explanation,
    reason_code: row.reason_code,
    rule_id: row.rule_id,
    contributing_sources: row.contributing_sources,
    dissenting_sources: row.dissenting_sources,
    decided_at: row.decided_at,
    first_seen: row.first_seen,
    evidence: row.evidence.map((entry) => ({
      source: entry.source,
      signal: entry.signal,
      version: entry.version,
      release: entry.release,
      record: entry.record,
      record_date: entry.record_date,
      fetched_at: entry.fetched_at,
      stale: entry.stale,
    })),
    history_url: historyUrl(row.advisory_id, publicUrl),
  }));
}

/**
 * The advisory's page on the published site. Without a configured public address it is relative, which
 * resolves against advisory_current.json's own address (both are published at the site's root).
 */
export function historyUrl(advisoryId: string, publicUrl?: string): string {
  const path = `advisory/?id=${encodeURIComponent(advisoryId)}`;
  return publicUrl ? `${publicUrl.replace(/\/+$/, "")}/${path}` : path;
}

export async function readStateDistribution(db: Database): Promise<StateCount[]> {
  return db.all<StateCount>(`
    select state, state_type, count(*)::integer as count
    from marts.mart_advisory_current
    group by all
    order by count desc, state
  `);
}

export function buildAdvisoryDocument(advisories: PublishedAdvisory[], generatedAt: Date): AdvisoryDocument {
  // JavaScript string comparison (UTF-16 code units) so the order never depends on a locale or collation.
  const sorted = [...advisories].sort((a, b) =>
    a.advisory_id < b.advisory_id ? -1 : a.advisory_id > b.advisory_id ? 1 : 0,
  );
  return { generated_at: generatedAt.toISOString(), advisory_count: sorted.length, advisories: sorted };
}

/** Two-space indented JSON with a trailing newline, for small documents people read. */
export function serialiseJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * One advisory per line: valid JSON that stays compact at 40k+ advisories and makes a git diff between two
 * runs show exactly the advisories that changed.
 */
export function serialiseAdvisoryDocument(document: AdvisoryDocument): string {
  const lines = document.advisories.map((advisory) => JSON.stringify(advisory));
  return [
    "{",
    `"generated_at": ${JSON.stringify(document.generated_at)},`,
    `"advisory_count": ${document.advisory_count},`,
    `"advisories": [${lines.length === 0 ? "]" : ""}`,
    ...lines.map((line, index) => (index < lines.length - 1 ? `${line},` : line)),
    ...(lines.length === 0 ? [] : ["]"]),
    "}",
    "",
  ].join("\n");
}

export function advisoryCurrentPath(outputDir: string): string {
  return join(outputDir, "advisory_current.json");
}

interface VendorFeedRow {
  package_name: string;
  vuln_id: string;
  published_fixed_version: string | null;
  severity: string | null;
  extra_fields: string | null;
}

/** One entry of data.json: the vendor's fields, with fixed_version as decided. */
type VendorEntry = Record<string, unknown>;

/**
 * data.json rewritten from the decisions (marts.mart_vendor_data_feed), in the vendor's published shape
 * `{package: {vulnerability: {fixed_version?, …}}}`: every package/CVE of the input, the vendor's other
 * fields unchanged, no new fields, so scanners that read data.json keep working.
 */
export async function readVendorFeed(db: Database): Promise<Map<string, Map<string, VendorEntry>>> {
  const rows = await db.all<VendorFeedRow>(
    `select package_name, vuln_id, published_fixed_version, severity, extra_fields
     from marts.mart_vendor_data_feed`,
  );
  const feed = new Map<string, Map<string, VendorEntry>>();
  for (const row of rows) {
    const entry: VendorEntry = {};
    if (row.published_fixed_version !== null) entry.fixed_version = row.published_fixed_version;
    if (row.severity !== null) entry.severity = row.severity;
    if (row.extra_fields !== null) Object.assign(entry, JSON.parse(row.extra_fields) as VendorEntry);
    const entries = feed.get(row.package_name) ?? new Map<string, VendorEntry>();
    entries.set(row.vuln_id, entry);
    feed.set(row.package_name, entries);
  }
  return feed;
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Sorted by package and vulnerability id, one package per line: valid JSON that diffs by package. */
export function serialiseVendorFeed(feed: ReadonlyMap<string, ReadonlyMap<string, VendorEntry>>): string {
  const packages = [...feed.keys()].sort(byCodeUnits);
  const lines = packages.map((name) => {
    const entries = feed.get(name) as ReadonlyMap<string, VendorEntry>;
    const body = [...entries.keys()]
      .sort(byCodeUnits)
      .map((id) => `${JSON.stringify(id)}:${JSON.stringify(entries.get(id))}`)
      .join(",");
    return `${JSON.stringify(name)}:{${body}}`;
  });
  return `{\n${lines.join(",\n")}\n}\n`;
}

export function vendorFeedPath(outputDir: string): string {
  return join(outputDir, "data.json");
}
