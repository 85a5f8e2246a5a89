import { join } from "node:path";
import type { Database } from "../../lib/db.ts";
import { ListedDocument } from "../../lib/listed-document.ts";

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

export async function countCurrentAdvisories(db: Database): Promise<number> {
  const counted = await db.one<{ n: number }>(
    "select count(*)::integer as n from marts.mart_advisory_current",
  );
  return counted?.n ?? 0;
}

/**
 * Every advisory of marts.mart_advisory_current as its line of advisory_current.json (the JSON text of a
 * PublishedAdvisory), ordered by advisory_id (DuckDB's binary collation: byte order, never a locale), a
 * chunk at a time.
 *
 * DuckDB writes each line (to_json): handing a million advisories to JavaScript value by value cost most of
 * the export. Its JSON differs from JSON.stringify's in two ways only, so a line showing either is parsed
 * and written again by JavaScript: upper-case hex in the escapes of control characters (`\u001B`), and
 * doubles with a fractional part of zero (`1.0`). The file is therefore byte for byte what JSON.stringify
 * gives, which test/unit/export-lines.test.ts checks on hostile text.
 */
export async function* streamAdvisoryLines(db: Database, publicUrl?: string): AsyncGenerator<string[]> {
  const chunks = db.stream<{ advisory_id: string; confidence: number; line: string }>(`
    select
      advisory_id,
      confidence::double as confidence,
      to_json(struct_pack(
        advisory_id := advisory_id,
        cve_id := cve_id,
        package_name := package_name,
        state := state,
        state_type := state_type,
        fixed_version := fixed_version,
        confidence := confidence::double,
        explanation := explanation,
        reason_code := reason_code,
        rule_id := rule_id,
        contributing_sources := list_sort(contributing_sources),
        dissenting_sources := list_sort(dissenting_sources),
        decided_at := strftime(decided_at, '%Y-%m-%dT%H:%M:%SZ'),
        first_seen := strftime(first_seen_at, '%Y-%m-%dT%H:%M:%SZ'),
        evidence := evidence
      ))::varchar as line
    from marts.mart_advisory_current
    order by advisory_id
  `);
  for await (const rows of chunks) {
    yield rows.map((row) => {
      const json =
        row.line.includes("\\u00") || !row.line.includes(`"confidence":${JSON.stringify(row.confidence)},`)
          ? JSON.stringify(JSON.parse(row.line))
          : row.line;
      // The history URL is the last member; it is built here, where the site's address is known.
      return `${json.slice(0, -1)},"history_url":${JSON.stringify(historyUrl(row.advisory_id, publicUrl))}}`;
    });
  }
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
