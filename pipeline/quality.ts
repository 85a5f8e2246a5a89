import type { Database } from "./lib/db.ts";

export type Severity = "error" | "warn";

export interface CheckResult {
  checkId: string;
  severity: Severity;
  passed: boolean;
  failingCount: number;
  detail: string;
  /** A few of the failing items, for the report. */
  examples: string[];
}

interface CheckDefinition {
  checkId: string;
  severity: Severity;
  description: string;
  /** Returns one row per failing item, with a human-readable `item` column. */
  failingItemsSql: string;
}

/**
 * Checks over what the run is about to publish. They never stop the run: results go to the ledger and the
 * report. Decisions themselves are dbt's; these only look for holes.
 */
const checks: readonly CheckDefinition[] = [
  {
    checkId: "advisory_fields_complete",
    severity: "error",
    description: "every advisory has a state, a state type, a reason code and an explanation",
    failingItemsSql: `
      select advisory_id as item from marts.mart_advisory_current
      where state is null or state_type is null or reason_code is null or coalesce(trim(explanation), '') = ''
      order by advisory_id`,
  },
  {
    checkId: "advisory_ids_unique",
    severity: "error",
    description: "advisory ids are unique",
    failingItemsSql: `
      select advisory_id || ' (' || count(*) || ' rows)' as item from marts.mart_advisory_current
      group by advisory_id having count(*) > 1 order by advisory_id`,
  },
  {
    checkId: "override_rows_match_advisories",
    severity: "warn",
    description: "every not-applicable row names a package/CVE pair present in data.json",
    failingItemsSql: `
      select 'line ' || csv_line_number || ': ' || advisory_id as item from marts.mart_override_rows_unmatched
      order by csv_line_number`,
  },
  {
    checkId: "input_records_accepted",
    severity: "warn",
    description: "every input record was accepted",
    failingItemsSql: `
      select source || ' ' || coalesce(file, '') || coalesce(':' || line, '') || coalesce(' ' || key, '') || ': ' || reason as item
      from meta.rejected_records where run_id = $run_id order by source, line, key`,
  },
  {
    checkId: "sources_fetched",
    severity: "warn",
    description: "every source was fetched in this run (a failed source's last good data stays in use)",
    failingItemsSql: `
      select source || ': ' || coalesce(error, status) as item from meta.source_fetches
      where run_id = $run_id and status = 'failed' order by source`,
  },
];

export async function runQualityChecks(
  db: Database,
  runId: string,
  exampleLimit: number,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const sql = check.failingItemsSql.replaceAll("$run_id", "?");
    const parameters = Array.from({ length: check.failingItemsSql.split("$run_id").length - 1 }, () => runId);
    const rows = await db.all<{ item: string }>(sql, parameters);
    results.push({
      checkId: check.checkId,
      severity: check.severity,
      passed: rows.length === 0,
      failingCount: rows.length,
      detail: check.description,
      examples: rows.slice(0, exampleLimit).map((row) => row.item),
    });
  }
  await db.run("delete from meta.check_results where run_id = ?", [runId]);
  for (const result of results) {
    await db.run(
      "insert into meta.check_results (run_id, check_id, severity, passed, failing_count, detail) values (?, ?, ?, ?, ?, ?)",
      [runId, result.checkId, result.severity, result.passed, result.failingCount, result.detail],
    );
  }
  return results;
}
