import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type Database, openDatabase } from "../../pipeline/lib/db.ts";
import type { CheckResult, SourceRunSummary } from "../../pipeline/run-summary.ts";
import { parseConfig } from "../../pipeline/stages/config.ts";
import { initDatabase } from "../../pipeline/stages/init.ts";
import {
  evaluatePublishGuard,
  lastRecordedDbtTests,
  runQualityChecks,
} from "../../pipeline/stages/quality.ts";
import { repoRoot } from "../helpers/workspace.ts";

/**
 * Every quality check against a small database shaped like the one dbt leaves behind: clean, none fires;
 * with one planted problem each, exactly the check meant for it fires, naming the item.
 */
const runId = "20260610T000000Z";
const asOf = new Date("2026-06-10T00:00:00Z");
const config = parseConfig(
  ["sources:", "  echo_data:", "    location: d.json", "  echo_csv:", "    location: n.csv"].join("\n"),
  "/tmp/config.yaml",
);

async function createMarts(db: Database) {
  await initDatabase(db);
  await db.run(`
    create schema marts;
    create schema intermediate;
    create schema reference;
    create table reference.advisory_states as
      select * from (values ('under_investigation', 'non_final'), ('pending_upstream', 'non_final'),
        ('fixed', 'final'), ('not_applicable', 'final'), ('wont_fix', 'final')) as states(state, state_type);
    create table marts.mart_advisory_current (
      advisory_id varchar, state varchar, state_type varchar, rule_id varchar, reason_code varchar,
      explanation varchar, deciding_source varchar, is_retained boolean,
      evidence struct(source varchar, signal varchar, release varchar, record varchar)[],
      evidence_release varchar, evidence_record varchar
    );
    create table marts.mart_advisory_history (
      advisory_id varchar, state varchar, previous_state varchar, valid_from timestamptz
    );
    create table marts.mart_advisory_transitions (
      run_id varchar, advisory_id varchar, from_state varchar, to_state varchar, rule_id varchar, reason_code varchar
    );
    create table marts.mart_override_rows_unmatched (csv_line_number integer, advisory_id varchar);
    create table intermediate.int_advisory_decisions_previous (advisory_id varchar, is_no_longer_listed boolean);

    insert into meta.runs (run_id, run_seq, started_at, as_of, status, config_path) values
      ('20260601T000000Z', 1, '2026-06-01', '2026-06-01', 'succeeded', 'c'),
      ('${runId}', 2, '2026-06-10', '2026-06-10', 'running', 'c');
    insert into meta.source_fetches (run_id, source, status, observations, fetched_at, delivery) values
      ('20260601T000000Z', 'echo_data', 'ok', 100, '2026-06-01', 'full'),
      ('20260601T000000Z', 'echo_csv', 'ok', 10, '2026-06-01', 'full'),
      ('${runId}', 'echo_data', 'ok', 95, '2026-06-10', 'full'),
      ('${runId}', 'echo_csv', 'ok', 10, '2026-06-10', 'full');

    insert into marts.mart_advisory_current (advisory_id, state, state_type, rule_id, reason_code, explanation, deciding_source, is_retained, evidence) values
      ('curl:CVE-2024-0001', 'fixed', 'final', 'vendor_fixed_version', 'fix_available', 'Fixed.', 'echo_data', false,
        [{'source': 'echo_data', 'signal': 'fixed', 'release': null, 'record': null}]),
      ('zlib:CVE-2024-0002', 'under_investigation', 'non_final', 'no_signal', 'awaiting_analysis', 'Open.', 'echo_data', false,
        [{'source': 'echo_data', 'signal': 'listed_without_fix', 'release': null, 'record': null}]),
      ('tar:CVE-2024-0003', 'fixed', 'final', 'upstream_fixed_version', 'upstream_fix_available', 'Fixed upstream.', 'osv', true,
        [{'source': 'echo_data', 'signal': 'listed_without_fix', 'release': null, 'record': null}]);
    insert into marts.mart_advisory_history values
      ('curl:CVE-2024-0001', 'fixed', null, '2026-06-01'),
      ('zlib:CVE-2024-0002', 'under_investigation', null, '2026-06-01'),
      ('tar:CVE-2024-0003', 'fixed', null, '2026-06-01');
    insert into intermediate.int_advisory_decisions_previous values
      ('curl:CVE-2024-0001', false), ('zlib:CVE-2024-0002', false), ('tar:CVE-2024-0003', false);
  `);
}

/** dbt's data tests that checks read back, as dbt reports them (all passed). */
const martTests = [
  "relationships_int_not_applicable_overrides_current_internal_status",
  // not_null, unique and accepted_values on the mart's columns, one test (tests/generic/column_checks.sql).
  "column_checks_mart_advisory_current",
  "not_blank_mart_advisory_current_explanation",
].map((name) => ({ uniqueId: `test.echo_advisory.${name}.0123456789`, status: "pass" }));

function withStatus(name: string, status: string) {
  return martTests.map((test) => (test.uniqueId.includes(`.${name}.`) ? { ...test, status } : test));
}

function source(overrides: Partial<SourceRunSummary>): SourceRunSummary {
  return {
    source: "echo_data",
    health: { status: "ok", observations: 95, rejected: 0, bytes: 0, requests: 0, retries: 0, durationMs: 0 },
    status: "ok",
    snapshotHash: null,
    newSnapshot: false,
    newObservations: 0,
    unchanged: false,
    lastGoodFetchAt: asOf.toISOString(),
    maxAgeHours: null,
    tooOld: false,
    ...overrides,
  };
}

describe("quality checks", () => {
  let db: Database;
  let directory: string;
  const context = (sources: SourceRunSummary[] = [source({})], dbtTests = martTests) => ({
    runId,
    asOf,
    config,
    sources,
    dbtTests,
  });
  const failing = (results: CheckResult[]) =>
    Object.fromEntries(
      results.filter((result) => !result.passed).map((result) => [result.checkId, result.examples]),
    );

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), "echo-quality-"));
    db = await openDatabase(join(directory, "q.duckdb"));
    await createMarts(db);
  });
  afterEach(async () => {
    db.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("none fires on a clean run, and the guard publishes", async () => {
    const results = await runQualityChecks(db, context());
    expect(failing(results)).toEqual({});
    expect(results.map((result) => result.checkId)).toHaveLength(12);
    const guard = await evaluatePublishGuard(db, context(), results, false);
    expect(guard).toMatchObject({ publish: true, reasons: [], stateChanges: 0, previouslyListed: 3 });
    // Results are recorded per run.
    expect(await db.all("select check_id from meta.check_results where run_id = ?", [runId])).toHaveLength(
      12,
    );
  });

  it("each planted problem fires exactly its check", async () => {
    await db.run(`
      insert into marts.mart_advisory_current (advisory_id, state, state_type, rule_id, reason_code, explanation, deciding_source, is_retained, evidence) values
        ('bash:CVE-2024-0004', 'fixed', 'final', 'vendor_fixed_version', 'fix_available', ' ', 'echo_data', false,
          [{'source': 'echo_data', 'signal': 'fixed', 'release': null, 'record': null}]),
        ('curl:CVE-2024-0001', 'fixed', 'final', 'vendor_fixed_version', 'fix_available', 'Again.', 'echo_data', false,
          [{'source': 'echo_data', 'signal': 'fixed', 'release': null, 'record': null}]),
        ('vim:CVE-2024-0005', 'wont_fix', 'final', 'upstream_wont_fix', 'upstream_will_not_fix', 'No fix.', 'debian_tracker', false,
          [{'source': 'echo_data', 'signal': 'listed_without_fix', 'release': null, 'record': null}]);
      -- Decided by Debian's fix in sid, but the evidence lists only bookworm's open.
      insert into marts.mart_advisory_current values
        ('libxml2:CVE-2024-0008', 'fixed', 'final', 'upstream_fixed_version', 'upstream_fix_available', 'Fixed in sid.',
          'debian_tracker', false,
          [{'source': 'debian_tracker', 'signal': 'open', 'release': 'bookworm', 'record': 'CVE-2024-0008'}],
          'sid', 'CVE-2024-0008');
      insert into marts.mart_advisory_history values
        ('bash:CVE-2024-0004', 'fixed', null, '2026-06-01'),
        ('vim:CVE-2024-0005', 'wont_fix', null, '2026-06-01');
      update marts.mart_advisory_history set valid_from = '2026-04-01' where advisory_id = 'zlib:CVE-2024-0002';
      insert into marts.mart_advisory_transitions values
        ('${runId}', 'tar:CVE-2024-0006', 'fixed', 'under_investigation', 'no_signal', 'awaiting_analysis');
      update meta.source_fetches set observations = 0 where run_id = '${runId}' and source = 'echo_csv';
      update meta.source_fetches set observations = 70 where run_id = '${runId}' and source = 'echo_data';
      insert into meta.source_fetches (run_id, source, status, observations, fetched_at, error) values
        ('${runId}', 'nvd', 'failed', 0, '2026-06-10', 'HTTP 503');
      insert into meta.rejected_records (run_id, source, file, line, key, reason) values
        ('${runId}', 'echo_csv', 'n.csv', 7, null, 'duplicate of line 3 (same package and cve_id); the first row is kept'),
        ('${runId}', 'echo_csv', 'n.csv', 8, 'internal_status', 'unknown reason code "unknown_reason_code" (allowed: code_not_in_use)'),
        ('${runId}', 'osv', 'x.json', null, 'internal_status', 'not an override');
      insert into marts.mart_override_rows_unmatched values (9, 'nosuch:CVE-2024-0009');
    `);
    const stale = source({
      source: "debian_tracker",
      status: "stale",
      lastGoodFetchAt: "2026-06-01T00:00:00.000Z",
      maxAgeHours: 48,
      tooOld: true,
    });
    // dbt's tests on the mart found the blank explanation and the repeated id (at warn severity, else dbt
    // would have stopped the run). The mart's column_checks test holds every not_null and unique condition
    // the checks read, so each of them is named as failing with it.
    const dbtTests = withStatus("not_blank_mart_advisory_current_explanation", "warn").map((test) =>
      test.uniqueId.includes(".column_checks_mart_advisory_current.") ? { ...test, status: "warn" } : test,
    );
    const results = await runQualityChecks(db, context([source({}), stale], dbtTests));
    const columnChecksWarn = (check: string) => `${check}: dbt test column_checks_mart_advisory_current warn`;
    expect(failing(results)).toEqual({
      advisory_fields_complete: [
        ...["state", "state_type", "rule_id", "reason_code", "explanation"].map((column) =>
          columnChecksWarn(`not_null mart_advisory_current.${column}`),
        ),
        "not_blank mart_advisory_current.explanation: dbt test not_blank_mart_advisory_current_explanation warn",
      ],
      advisory_ids_unique: [
        columnChecksWarn("unique mart_advisory_current.advisory_id"),
        columnChecksWarn("not_null mart_advisory_current.advisory_id"),
      ],
      final_states_have_evidence: [
        "libxml2:CVE-2024-0008 fixed (upstream_fixed_version)",
        "vim:CVE-2024-0005 wont_fix (upstream_wont_fix)",
      ],
      stalled_advisories: ["zlib:CVE-2024-0002 under_investigation since 2026-04-01 (70 days)"],
      regressions: ["tar:CVE-2024-0006: fixed → under_investigation by no_signal (awaiting_analysis)"],
      source_record_drop: [
        "echo_csv: 0 records against 10 in its last good delivery (100.0 % fewer)",
        "echo_data: 70 records against 100 in its last good delivery (30.0 % fewer)",
      ],
      source_staleness: ["debian_tracker: last good fetch 2026-06-01T00:00:00.000Z, older than 48 h"],
      sources_fetched: ["nvd: HTTP 503"],
      input_records_accepted: [
        "echo_csv n.csv:7: duplicate of line 3 (same package and cve_id); the first row is kept",
        'echo_csv n.csv:8 internal_status: unknown reason code "unknown_reason_code" (allowed: code_not_in_use)',
        "osv x.json internal_status: not an override",
      ],
      override_rows_match_advisories: ["line 9: nosuch:CVE-2024-0009"],
      override_rows_unique: ["n.csv:7: duplicate of line 3 (same package and cve_id); the first row is kept"],
      override_reason_codes_known: [
        'n.csv:8: unknown reason code "unknown_reason_code" (allowed: code_not_in_use)',
      ],
    });
    // A retained decision rests on its recorded evidence, not on a current observation.
    expect(results.find((result) => result.checkId === "final_states_have_evidence")?.examples).not.toContain(
      expect.stringContaining("tar:CVE-2024-0003"),
    );
    const guard = await evaluatePublishGuard(db, context(), results, false);
    expect(guard.publish).toBe(false);
    expect(guard.reasons.map((reason) => reason.split(" (")[0])).toEqual([
      "1 of 3 advisories",
      "error check advisory_fields_complete failed",
      "error check advisory_ids_unique failed",
      "error check final_states_have_evidence failed",
      "error check source_record_drop failed",
    ]);
  });

  it("a drop within source_drop_percent, or an incremental delivery, is not a silent failure", async () => {
    await db.run(`
      update meta.source_fetches set observations = 85 where run_id = '${runId}' and source = 'echo_data';
      insert into meta.source_fetches (run_id, source, status, observations, fetched_at, delivery) values
        ('${runId}', 'nvd', 'ok', 0, '2026-06-10', 'incremental');
    `);
    const results = await runQualityChecks(db, context());
    expect(results.find((result) => result.checkId === "source_record_drop")?.passed).toBe(true);
  });

  it("severities come from the config: a regression can be made an error that stops publication", async () => {
    await db.run(`insert into marts.mart_advisory_transitions values
      ('${runId}', 'tar:CVE-2024-0006', 'fixed', 'under_investigation', 'no_signal', 'awaiting_analysis')`);
    const strict = {
      ...config,
      quality: { ...config.quality, severities: { regressions: "error" as const } },
    };
    const strictContext = { runId, asOf, config: strict, sources: [source({})], dbtTests: martTests };
    const results = await runQualityChecks(db, strictContext);
    expect(results.find((result) => result.checkId === "regressions")).toMatchObject({
      severity: "error",
      passed: false,
    });
    // One of three previously listed advisories changes state: 33 %, over the 5 % the guard allows.
    const guard = await evaluatePublishGuard(db, strictContext, results, false);
    expect(guard.reasons).toEqual([
      expect.stringMatching(/^1 of 3 advisories \(33\.3 %\) would change state/),
      expect.stringMatching(/^error check regressions failed/),
    ]);
    const accepted = await evaluatePublishGuard(db, strictContext, results, true);
    expect(accepted).toMatchObject({ publish: false, massChangeAccepted: true });
    expect(accepted.reasons).toHaveLength(1);
  });

  it("override_reason_codes_known also fails when dbt's backstop finds an unknown code among the rows in use", async () => {
    const results = await runQualityChecks(
      db,
      context(
        [source({})],
        withStatus("relationships_int_not_applicable_overrides_current_internal_status", "warn"),
      ),
    );
    expect(failing(results)).toEqual({
      override_reason_codes_known: [
        "relationships int_not_applicable_overrides_current.internal_status: dbt test relationships_int_not_applicable_overrides_current_internal_status warn",
      ],
    });
    expect(results.find((result) => result.checkId === "override_reason_codes_known")?.severity).toBe("warn");
  });

  it("a check dbt's tests answer fails when its test is missing from dbt's results", async () => {
    const withoutColumnChecks = martTests.filter((test) => !test.uniqueId.includes(".column_checks_"));
    const results = await runQualityChecks(db, context([source({})], withoutColumnChecks));
    const missing = (check: string) =>
      `${check}: column_checks_mart_advisory_current not among dbt's test results`;
    expect(failing(results)).toEqual({
      advisory_fields_complete: [
        "not_null mart_advisory_current.state",
        "not_null mart_advisory_current.state_type",
        "not_null mart_advisory_current.rule_id",
        "not_null mart_advisory_current.reason_code",
        "not_null mart_advisory_current.explanation",
      ].map(missing),
      advisory_ids_unique: [
        missing("unique mart_advisory_current.advisory_id"),
        missing("not_null mart_advisory_current.advisory_id"),
      ],
    });
  });

  it("a run that keeps the previous decisions reads the last dbt build's test results from the ledger", async () => {
    const record = (run: string, tests: { uniqueId: string; status: string }[]) =>
      Promise.all(
        tests.map((test) =>
          db.run("insert into meta.dbt_node_timings values (?, ?, ?, 0.1)", [
            run,
            test.uniqueId,
            test.status,
          ]),
        ),
      );
    // The older build found a problem; the newer one (the build whose decisions stand) did not.
    await db.run(`insert into meta.runs (run_id, run_seq, started_at, as_of, status, config_path) values
      ('20260501T000000Z', 0, '2026-05-01', '2026-05-01', 'succeeded', 'c')`);
    await record("20260501T000000Z", withStatus("not_blank_mart_advisory_current_explanation", "warn"));
    await record("20260601T000000Z", martTests);
    expect(await lastRecordedDbtTests(db)).toEqual(expect.arrayContaining(martTests));
    await db.run("delete from meta.dbt_node_timings where run_id = '20260601T000000Z'");
    const older = await lastRecordedDbtTests(db);
    const results = await runQualityChecks(db, context([source({})], older));
    expect(failing(results)).toEqual({
      advisory_fields_complete: [
        "not_blank mart_advisory_current.explanation: dbt test not_blank_mart_advisory_current_explanation warn",
      ],
    });
  });

  it("the conditions these checks read are declared on the mart's column_checks test", async () => {
    // A condition dropped from the YAML would leave column_checks passing without asserting it.
    const yaml = parse(
      await readFile(join(repoRoot, "dbt_project/models/marts/mart_advisory_current.yml"), "utf8"),
    ) as {
      models: {
        name: string;
        data_tests?: Record<string, { arguments: { not_null: string[]; unique: string[] } }>[];
      }[];
    };
    const mart = yaml.models.find((model) => model.name === "mart_advisory_current");
    const columnChecks = mart?.data_tests?.find((test) => "column_checks" in test)?.column_checks?.arguments;
    expect(columnChecks?.not_null).toEqual(
      expect.arrayContaining(["advisory_id", "state", "state_type", "rule_id", "reason_code", "explanation"]),
    );
    expect(columnChecks?.unique).toContain("advisory_id");
  });
});
