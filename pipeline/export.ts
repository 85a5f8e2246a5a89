import { join } from "node:path";
import type { Database } from "./lib/db.ts";
import { ListedDocument } from "./lib/listed-document.ts";

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

export async function countCurrentAdvisories(db: Database): Promise<number> {
  const counted = await db.one<{ n: number }>(
    "select count(*)::integer as n from marts.mart_advisory_current",
  );
  return counted?.n ?? 0;
}

/**
 * Every advisory of marts.mart_advisory_current as published, ordered by advisory_id (DuckDB's binary
 * collation: byte order, never a locale), a chunk at a time.
 */
export async function* streamCurrentAdvisories(
  db: Database,
  publicUrl?: string,
): AsyncGenerator<PublishedAdvisory[]> {
  const chunks = db.stream<AdvisoryRow>(`
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
  for await (const rows of chunks) yield rows.map((row) => publishedAdvisory(row, publicUrl));
}

function publishedAdvisory(row: AdvisoryRow, publicUrl: string | undefined): PublishedAdvisory {
  return {
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
  };
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

function advisoryDocumentMembers(generatedAt: Date, advisoryCount: number): [string, unknown][] {
  return [
    ["generated_at", generatedAt.toISOString()],
    ["advisory_count", advisoryCount],
  ];
}

/**
 * One advisory per line (lib/listed-document.ts): valid JSON that diffs by advisory between two runs, written
 * a chunk at a time as the advisories arrive.
 */
export async function* advisoryDocumentText(
  generatedAt: Date,
  advisoryCount: number,
  chunks: AsyncIterable<PublishedAdvisory[]>,
): AsyncGenerator<string> {
  const document = new ListedDocument(
    advisoryDocumentMembers(generatedAt, advisoryCount),
    "advisories",
    advisoryCount,
  );
  yield document.start();
  for await (const advisories of chunks)
    yield document.items(advisories.map((advisory) => JSON.stringify(advisory)));
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
 * fields unchanged, no new fields, so scanners that read data.json keep working. Sorted by package and
 * vulnerability id (byte order), one package per line so that it diffs by package; written a package at a
 * time.
 */
export async function* vendorFeedText(db: Database): AsyncGenerator<string> {
  const chunks = db.stream<VendorFeedRow>(
    `select package_name, vuln_id, published_fixed_version, severity, extra_fields
     from marts.mart_vendor_data_feed
     order by package_name, vuln_id`,
  );
  yield "{\n";
  let packageName: string | undefined;
  let body = "";
  let written = 0;
  const packageLine = () => `${written === 0 ? "" : ",\n"}${JSON.stringify(packageName)}:{${body}}`;
  for await (const rows of chunks) {
    let text = "";
    for (const row of rows) {
      if (row.package_name !== packageName) {
        if (packageName !== undefined) {
          text += packageLine();
          written += 1;
        }
        packageName = row.package_name;
        body = "";
      }
      body += `${body === "" ? "" : ","}${JSON.stringify(row.vuln_id)}:${JSON.stringify(vendorEntry(row))}`;
    }
    yield text;
  }
  yield `${packageName === undefined ? "" : packageLine()}\n}\n`;
}

function vendorEntry(row: VendorFeedRow): VendorEntry {
  const entry: VendorEntry = {};
  if (row.published_fixed_version !== null) entry.fixed_version = row.published_fixed_version;
  if (row.severity !== null) entry.severity = row.severity;
  if (row.extra_fields !== null) Object.assign(entry, JSON.parse(row.extra_fields) as VendorEntry);
  return entry;
}

export function vendorFeedPath(outputDir: string): string {
  return join(outputDir, "data.json");
}
