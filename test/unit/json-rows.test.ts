import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRunTransitions } from "../../pipeline/history/ledger.ts";
import { type Database, openDatabase } from "../../pipeline/lib/db.ts";
import { streamVexRows } from "../../pipeline/stages/export/openvex.ts";

/**
 * The ledger's transitions and the OpenVEX statements' fields come out of DuckDB as one JSON text per row
 * (to_json), parsed in JavaScript, instead of value by value. The values must be exactly those the row
 * objects held, whatever the text: the ledger and openvex.json are compared byte for byte between runs.
 */
const controlCharacters = Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join("");
const hostileTexts = [
  `all controls: ${controlCharacters}`,
  'quotes " and backslashes \\ and a slash /',
  "text that looks like an escape: \\u001B and \\\\u001b",
  "line separators \u2028 and \u2029, DEL \u007f, BOM \ufeff",
  "non-BMP 😀 𝄞, accents é ü, CJK 漢字",
  "</script><script>alert(1)</script>",
];
const confidences = [1, 0, 0.95, 0.9 - 0.15, 0.95 - 0.15 - 0.1, 1 / 3, null];
const runId = "20260301T060000Z";
/** Bound parameters cannot be an untyped null: a null goes in as this text, which nullif() turns back. */
const nullText = "<null>";
const orNull = (value: string | number | null) => (value === null ? nullText : String(value));

let directory: string;
let db: Database;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "echo-json-rows-"));
  db = await openDatabase(join(directory, "rows.duckdb"));
  await db.run(`
    create schema marts;
    create table marts.mart_advisory_current (
      advisory_id varchar, cve_id varchar, package_name varchar, fixed_version varchar, explanation varchar,
      decided_at timestamptz, vex_status varchar, vex_justification varchar
    );
    create table marts.mart_advisory_transitions (
      run_id varchar, as_of timestamptz, advisory_id varchar, from_state varchar, to_state varchar,
      state_type varchar, rule_id varchar, reason_code varchar, fixed_version varchar,
      unaffected_from_version varchar, confidence decimal(3, 2), deciding_source varchar,
      evidence_signal varchar, evidence_version varchar, evidence_reason varchar, evidence_release varchar,
      evidence_record varchar, evidence_date timestamptz, evidence_fetched_at timestamptz,
      is_evidence_stale boolean, contributing_sources varchar[], dissenting_sources varchar[]
    );
  `);
  let index = 0;
  for (const text of hostileTexts) {
    for (const confidence of confidences) {
      index += 1;
      const id = `pkg${String(index).padStart(3, "0")}:CVE-2026-${1000 + index}`;
      await db.run(
        `insert into marts.mart_advisory_current values
           (?, ?, ?, nullif(?, '${nullText}'), ?, '2026-03-01 06:00:00.5+00', 'not_affected',
            nullif(?, '${nullText}'))`,
        [
          id,
          `CVE-2026-${1000 + index}`,
          text,
          orNull(index % 2 === 0 ? null : text),
          text,
          orNull(index % 3 ? text : null),
        ],
      );
      await db.run(
        `insert into marts.mart_advisory_transitions values
           (?, '2026-03-01 06:00:00+00', ?, nullif(?, '${nullText}'), nullif(?, '${nullText}'), 'final',
            'vendor_fixed_version', ?, ?, null, nullif(?, '${nullText}')::decimal(3, 2), 'echo_data', 'fixed', ?, ?,
            'bookworm', null, '2026-02-01 06:00:00.123+00', null, ?, [?, 'nvd'], []::varchar[])`,
        [
          runId,
          id,
          orNull(index % 4 === 0 ? null : "under_investigation"),
          orNull(index % 5 === 0 ? null : "fixed"),
          text,
          text,
          orNull(confidence === null ? null : confidence.toFixed(2)),
          text,
          text,
          index % 2 === 0,
          text,
        ],
      );
    }
  }
});

afterAll(async () => {
  db.close();
  await rm(directory, { recursive: true, force: true });
});

describe("rows handed to JavaScript as JSON text", () => {
  it("give OpenVEX exactly the values a plain select gives", async () => {
    const streamed = [];
    for await (const chunk of streamVexRows(db)) streamed.push(...chunk);
    const plain = await db.all(`
      select advisory_id, cve_id, package_name, fixed_version, explanation,
        strftime(decided_at, '%Y-%m-%dT%H:%M:%SZ') as decided_at, vex_status, vex_justification
      from marts.mart_advisory_current order by advisory_id`);
    expect(streamed).toHaveLength(hostileTexts.length * confidences.length);
    expect(streamed).toEqual(plain);
  });

  it("give the ledger exactly the values a plain select gives", async () => {
    const transitions = await readRunTransitions(db, runId);
    const plain = await db.all<Record<string, unknown>>(`
      select advisory_id, from_state, to_state, reason_code, fixed_version, confidence::double as confidence,
        evidence_version, evidence_reason, evidence_date::varchar as evidence_date, is_evidence_stale,
        contributing_sources, dissenting_sources
      from marts.mart_advisory_transitions order by advisory_id`);
    expect(transitions).toHaveLength(plain.length);
    transitions.forEach((transition, index) => {
      const row = plain[index] as Record<string, unknown>;
      expect(transition.as_of).toBe("2026-03-01T06:00:00.000Z");
      expect({
        advisory_id: transition.advisory_id,
        from_state: transition.from_state,
        to_state: transition.to_state,
        reason_code: transition.reason_code,
        fixed_version: transition.fixed_version,
        confidence: transition.confidence,
        contributing_sources: transition.contributing_sources,
        dissenting_sources: transition.dissenting_sources,
      }).toEqual({
        advisory_id: row.advisory_id,
        from_state: row.from_state,
        to_state: row.to_state,
        reason_code: row.reason_code,
        fixed_version: row.fixed_version,
        confidence: row.confidence,
        contributing_sources: row.contributing_sources,
        dissenting_sources: row.dissenting_sources,
      });
      expect(transition.evidence).toEqual(
        row.to_state === null
          ? null
          : {
              signal: "fixed",
              version: row.evidence_version,
              reason: row.evidence_reason,
              release: "bookworm",
              record: null,
              date: new Date(row.evidence_date as string).toISOString(),
              fetched_at: null,
              stale: row.is_evidence_stale,
            },
      );
    });
    // The hostile texts really went through: every one is somewhere in the ledger's reasons.
    for (const text of hostileTexts) {
      expect(transitions.some((transition) => transition.evidence?.reason === text)).toBe(true);
    }
  });
});
