import { stat } from "node:fs/promises";
import { join } from "node:path";
import { type Database, openDatabase } from "../../pipeline/lib/db.ts";
import { readZipEntries } from "../../pipeline/sources/osv/zip.ts";

/**
 * What the floor measures (tools/bench/floor-bench.ts): the reading and counting a run must do, with
 * nothing but DuckDB, on one fresh in-memory database opened as the pipeline opens its own. Run inside the
 * child process floor-run.ts starts, so it imports no more than it needs: the process's start and memory
 * are part of the figure.
 */

/** A floor case's input files; the upstream ones only for generated data. */
export interface FloorInputs {
  dataJson: string;
  csv: string;
  /** A folder of NVD API 2.0 response pages (`vulnerabilities[].cve`). */
  nvdDir?: string;
  /** A folder of OSV records, one JSON object per file. */
  osvDir?: string;
}

/**
 * The states a run gives when no upstream source says anything, by the rule catalogue's priorities
 * (dbt_project/seeds/rule_catalogue.csv): analyst_override (10, a CSV row) before vendor_fixed_version (40,
 * a fixed version in data.json) before no_signal (1000). No other rule can match without upstream records.
 */
export interface StateCounts {
  advisories: number;
  not_applicable: number;
  fixed: number;
  under_investigation: number;
}

export interface FloorStep {
  step: string;
  seconds: number;
  /** What the step read or decided, counted. */
  counts: Record<string, number>;
}

export interface FloorCaseResult {
  /** Empty for a job that does not use DuckDB. */
  duckdb: string;
  steps: FloorStep[];
  /** Null for a job that reads no data.json. */
  states: StateCounts | null;
}

/** Single-quoted SQL text: DuckDB's table functions take their file names as constants. */
const sqlText = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** Loads data.json into `advisories` (package_name, vuln_id, fixed_version), and counts them. */
export async function loadDataJson(
  db: Database,
  path: string,
): Promise<{ advisories: number; without_fixed_version: number }> {
  // The whole file is one object keyed by package, each an object keyed by vulnerability id: read as one
  // value typed as nested maps, and unnested by keys and values side by side. (json_each over the same
  // object took 40 s on the real data; map_entries, three times as long as this on the ×25 data.)
  const { size } = await stat(path);
  await db.run(`
    create or replace temp table advisories as
    with by_package as (
        select unnest(map_keys(packages)) as package_name, unnest(map_values(packages)) as entries
        from read_json(${sqlText(path)}, records = false, maximum_object_size = ${size + 1},
            columns = {'packages': 'MAP(VARCHAR, MAP(VARCHAR, STRUCT(fixed_version VARCHAR)))'})
    ),
    by_entry as (
        select package_name, unnest(map_keys(entries)) as vuln_id, unnest(map_values(entries)) as entry
        from by_package
    )
    select package_name, vuln_id, nullif(trim(entry.fixed_version), '') as fixed_version
    from by_entry`);
  const counts = await db.one<{ advisories: number; without_fixed_version: number }>(`
    select count(*)::integer as advisories, count(*) filter (where fixed_version is null)::integer as without_fixed_version
    from advisories`);
  return counts ?? { advisories: 0, without_fixed_version: 0 };
}

/** Loads the not-applicable CSV into `overrides` (package_name, vuln_id). Returns its rows. */
export async function loadNotApplicableCsv(db: Database, path: string): Promise<number> {
  // The parser accepts no other status; a row with another would be rejected, not applied.
  await db.run(`
    create or replace temp table overrides as
    select package as package_name, cve_id as vuln_id
    from read_csv(${sqlText(path)}, header = true, all_varchar = true)
    where status = 'not_applicable'`);
  return (await db.one<{ n: number }>("select count(*)::integer as n from overrides"))?.n ?? 0;
}

/** Counts the loaded advisories by the state a run would give them with no upstream signal. */
export async function countStates(db: Database): Promise<StateCounts> {
  const row = await db.one<StateCounts>(`
    with overridden as (
        select distinct package_name, vuln_id from overrides
    ),
    decided as (
        select
            case
                when overridden.vuln_id is not null then 'not_applicable'
                when advisories.fixed_version is not null then 'fixed'
                else 'under_investigation'
            end as state
        from advisories
        left join overridden using (package_name, vuln_id)
    )
    select
        count(*)::integer as advisories,
        count(*) filter (where state = 'not_applicable')::integer as not_applicable,
        count(*) filter (where state = 'fixed')::integer as fixed,
        count(*) filter (where state = 'under_investigation')::integer as under_investigation
    from decided`);
  if (!row) throw new Error("the state count returned no row");
  return row;
}

/** CSV rows that name no advisory in data.json: they decide nothing (mart_override_rows_unmatched). */
async function countUnmatchedOverrides(db: Database): Promise<number> {
  const row = await db.one<{ n: number }>(`
    select count(*)::integer as n
    from overrides
    anti join advisories using (package_name, vuln_id)`);
  return row?.n ?? 0;
}

/**
 * Reads every NVD page in the folder: records, and those NVD marks Rejected. Each file is one JSON document
 * ('unstructured' skips the format detection).
 */
export async function countNvdRecords(
  db: Database,
  directory: string,
): Promise<{ records: number; rejected: number }> {
  const row = await db.one<{ records: number; rejected: number }>(`
    with pages as (
        select unnest(vulnerabilities) as vulnerability
        from read_json(${sqlText(join(directory, "*.json"))}, format = 'unstructured',
            maximum_object_size = 1073741824, columns = {'vulnerabilities': 'STRUCT(cve STRUCT(id VARCHAR, vulnStatus VARCHAR))[]'})
    )
    select
        count(vulnerability.cve.id)::integer as records,
        count(*) filter (where vulnerability.cve.vulnStatus = 'Rejected')::integer as rejected
    from pages`);
  return row ?? { records: 0, rejected: 0 };
}

/** Reads every OSV record in the folder (DuckDB reads no zip: the generator writes the records out too). */
export async function countOsvRecords(
  db: Database,
  directory: string,
): Promise<{ records: number; withdrawn: number }> {
  const row = await db.one<{ records: number; withdrawn: number }>(`
    select count(id)::integer as records, count(withdrawn)::integer as withdrawn
    from read_json(${sqlText(join(directory, "*.json"))}, format = 'unstructured',
        maximum_object_size = 1073741824, columns = {'id': 'VARCHAR', 'withdrawn': 'VARCHAR'})`);
  return row ?? { records: 0, withdrawn: 0 };
}

/**
 * Reads the Debian tracker's whole-dataset JSON (package → id → { releases: release → … }): its entries, and
 * their release entries (`releases` is sometimes an empty list, so it stays JSON).
 */
export async function countTrackerEntries(
  db: Database,
  path: string,
): Promise<{ entries: number; release_entries: number }> {
  const { size } = await stat(path);
  const row = await db.one<{ entries: number; release_entries: number }>(`
    with by_package as (
        select unnest(map_values(packages)) as entries
        from read_json(${sqlText(path)}, records = false, maximum_object_size = ${size + 1},
            columns = {'packages': 'MAP(VARCHAR, MAP(VARCHAR, STRUCT(releases JSON)))'})
    ),
    by_entry as (
        select unnest(map_values(entries)) as entry from by_package
    )
    select
        count(*)::integer as entries,
        coalesce(sum(len(json_keys(entry.releases))), 0)::integer as release_entries
    from by_entry`);
  return row ?? { entries: 0, release_entries: 0 };
}

export const dataStepName = "data.json";
export const csvStepName = "not-applicable CSV";
export const nvdStepName = "NVD pages";
export const osvStepName = "OSV records (folder)";
export const trackerStepName = "Debian tracker JSON";

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  return { value, seconds: round((performance.now() - started) / 1000, 3) };
}

/** Runs one floor case in this process, on a fresh in-memory DuckDB. */
export async function measureFloorCase(inputs: FloorInputs): Promise<FloorCaseResult> {
  const db = await openDatabase(":memory:");
  try {
    const duckdb = (await db.one<{ v: string }>("select version() as v"))?.v ?? "";
    const steps: FloorStep[] = [];
    const data = await timed(() => loadDataJson(db, inputs.dataJson));
    steps.push({ step: dataStepName, seconds: data.seconds, counts: { ...data.value } });
    const csv = await timed(() => loadNotApplicableCsv(db, inputs.csv));
    steps.push({ step: csvStepName, seconds: csv.seconds, counts: { rows: csv.value } });
    const states = await timed(() => countStates(db));
    steps.push({ step: "states, no upstream signal", seconds: states.seconds, counts: { ...states.value } });
    const unmatched = await countUnmatchedOverrides(db);
    if (inputs.nvdDir !== undefined) {
      const directory = inputs.nvdDir;
      const nvd = await timed(() => countNvdRecords(db, directory));
      steps.push({ step: nvdStepName, seconds: nvd.seconds, counts: nvd.value });
    }
    if (inputs.osvDir !== undefined) {
      const directory = inputs.osvDir;
      const osv = await timed(() => countOsvRecords(db, directory));
      steps.push({ step: osvStepName, seconds: osv.seconds, counts: osv.value });
    }
    const csvStep = steps.find((step) => step.step === csvStepName);
    if (csvStep) csvStep.counts.rows_naming_no_advisory = unmatched;
    return { duckdb, steps, states: states.value };
  } finally {
    db.close();
  }
}

/** Reads the Debian tracker on its own fresh in-memory DuckDB. */
export async function measureTracker(path: string): Promise<FloorCaseResult> {
  const db = await openDatabase(":memory:");
  try {
    const duckdb = (await db.one<{ v: string }>("select version() as v"))?.v ?? "";
    const { value, seconds } = await timed(() => countTrackerEntries(db, path));
    return { duckdb, steps: [{ step: trackerStepName, seconds, counts: value }], states: null };
  } finally {
    db.close();
  }
}

/** Inflates every entry of an OSV all.zip the way the pipeline reads it (in memory), counting them. */
export async function inflateZip(path: string): Promise<FloorCaseResult> {
  const { value, seconds } = await timed(async () => {
    let entries = 0;
    let bytes = 0;
    for await (const item of readZipEntries(path, { accept: (name) => name.endsWith(".json") })) {
      if (item.kind === "entry") {
        entries += 1;
        bytes += item.bytes.length;
      }
    }
    return { entries, bytes };
  });
  return {
    duckdb: "",
    steps: [{ step: "OSV all.zip inflated (yauzl)", seconds, counts: value }],
    states: null,
  };
}

export type FloorJob =
  | { kind: "duckdb"; inputs: FloorInputs }
  | { kind: "tracker"; path: string }
  | { kind: "inflate"; zip: string };

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
