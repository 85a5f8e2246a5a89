import { historyUrl } from "../../formats/advisory.ts";
import type { Database } from "../../lib/db.ts";

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
        evidence := evidence,
        unaffected_from_version := unaffected_from_version,
        known_exploited := known_exploited
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
