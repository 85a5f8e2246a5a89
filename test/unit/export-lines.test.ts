import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { historyUrl, type PublishedAdvisory } from "../../pipeline/formats/advisory.ts";
import { type Database, openDatabase } from "../../pipeline/lib/db.ts";
import { streamAdvisoryLines } from "../../pipeline/stages/export/advisory-lines.ts";

/**
 * advisory_current.json's lines are written by DuckDB (to_json) and must be byte for byte what
 * JSON.stringify gives for the same advisory, whatever the text: published files are compared byte for byte
 * between runs, and between a run that kept its decisions and one that rebuilt them.
 */
const controlCharacters = Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join("");
const hostileTexts = [
  `all controls: ${controlCharacters}`,
  'quotes " and backslashes \\ and a slash /',
  "text that looks like an escape: \\u001B and \\\\u001b",
  "line separators \u2028 and \u2029, DEL \u007f, BOM \ufeff",
  "non-BMP 😀 𝄞, accents é ü, CJK 漢字",
  "</script><script>alert(1)</script>",
  "a version 2.0, then 1.0}",
];
const confidences = [1, 0, 0.95, 0.9 - 0.15, 0.95 - 0.15 - 0.1, 0.5, 1 / 3];

describe("advisory lines written by DuckDB", () => {
  let directory: string;
  let db: Database;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "echo-export-lines-"));
    db = await openDatabase(join(directory, "export.duckdb"));
    await db.run(`
      create schema marts;
      create table marts.mart_advisory_current (
        advisory_id varchar, cve_id varchar, package_name varchar, state varchar, state_type varchar,
        fixed_version varchar, confidence double, explanation varchar, reason_code varchar, rule_id varchar,
        contributing_sources varchar[], dissenting_sources varchar[], decided_at timestamptz,
        first_seen_at timestamptz,
        evidence struct(source varchar, signal varchar, version varchar, release varchar, record varchar,
          record_date varchar, fetched_at varchar, stale boolean)[],
        unaffected_from_version varchar,
        known_exploited struct(date_added varchar, due_date varchar, ransomware_use varchar,
          vulnerability_name varchar, required_action varchar, catalog_version varchar)
      )
    `);
    let index = 0;
    for (const text of hostileTexts) {
      for (const confidence of confidences) {
        index += 1;
        const id = `pkg${String(index).padStart(3, "0")}:CVE-2026-${1000 + index}`;
        await db.run(
          `insert into marts.mart_advisory_current values (
             ?, ?, ?, 'fixed', 'final', ?, ?, ?, 'fix_available', 'vendor_fixed_version',
             ?::varchar[], []::varchar[], '2026-03-01 06:00:00+00', '2026-02-01 06:00:00+00',
             [{'source': 'nvd', 'signal': 'rejected', 'version': null, 'release': null, 'record': ?,
               'record_date': '2026-01-01T00:00:00Z', 'fetched_at': null, 'stale': true},
              {'source': 'echo_data', 'signal': 'fixed', 'version': ?, 'release': 'bookworm', 'record': null,
               'record_date': null, 'fetched_at': '2026-02-01T06:00:00Z', 'stale': false}],
             ?,
             case when ? then {'date_added': '2021-12-10', 'due_date': null, 'ransomware_use': 'known',
               'vulnerability_name': ?, 'required_action': ?, 'catalog_version': '2025.08.25'} end)`,
          [
            id,
            id.split(":")[1] as string,
            id.split(":")[0] as string,
            index % 2 === 0 ? null : text,
            confidence,
            text,
            `["echo_data", "${index % 3 === 0 ? "nvd" : "osv"}"]`,
            text,
            text,
            index % 4 === 0 ? null : text,
            index % 3 === 0,
            text,
            index % 2 === 0 ? null : text,
          ],
        );
      }
    }
  });

  afterAll(async () => {
    db.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("gives JSON.stringify's bytes for hostile text and every confidence", async () => {
    // The reference: each advisory read as values and serialised by JavaScript.
    const rows = await db.all<Omit<PublishedAdvisory, "history_url">>(`
      select advisory_id, cve_id, package_name, state, state_type, fixed_version, confidence, explanation,
        reason_code, rule_id, list_sort(contributing_sources) as contributing_sources,
        list_sort(dissenting_sources) as dissenting_sources,
        strftime(decided_at, '%Y-%m-%dT%H:%M:%SZ') as decided_at,
        strftime(first_seen_at, '%Y-%m-%dT%H:%M:%SZ') as first_seen, evidence, unaffected_from_version,
        known_exploited
      from marts.mart_advisory_current order by advisory_id`);
    const expected = rows.map((row) =>
      JSON.stringify({ ...row, history_url: historyUrl(row.advisory_id, "https://example.test/echo") }),
    );
    const lines: string[] = [];
    for await (const chunk of streamAdvisoryLines(db, "https://example.test/echo")) lines.push(...chunk);
    expect(lines).toHaveLength(hostileTexts.length * confidences.length);
    expect(lines).toEqual(expected);
    // The hostile text survived the round trip, control characters included.
    expect(JSON.parse(lines[0] as string).explanation).toBe(hostileTexts[0]);
    // The KEV entry sits after the evidence and before history_url, null when the catalogue has none.
    const third = JSON.parse(lines[2] as string) as PublishedAdvisory;
    expect(Object.keys(third).slice(-4)).toEqual([
      "evidence",
      "unaffected_from_version",
      "known_exploited",
      "history_url",
    ]);
    expect(third.known_exploited).toMatchObject({ date_added: "2021-12-10", ransomware_use: "known" });
    expect(JSON.parse(lines[0] as string).known_exploited).toBeNull();
  });
});
