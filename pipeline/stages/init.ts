import {
  createDecisionInputsTable,
  isLedgerListing,
  ledgerListing,
  leftByLatestRun,
  type PublishedState,
  publishedFileDigest,
} from "../history/decision-inputs.ts";
import { createExportInputsTable } from "../history/export-inputs.ts";
import {
  createHistoryTables,
  type LedgerToRestore,
  latestLedgerRun,
  readLedgerDigests,
  readLedgerToRestore,
  restoreLedger,
} from "../history/ledger.ts";
import {
  createPublishedEvidenceTable,
  readPublishedEvidence,
  restorePublishedEvidence,
} from "../history/published-evidence.ts";
import { type Database, openDatabase } from "../lib/db.ts";
import { log } from "../lib/log.ts";
import { landingTables } from "../sources/registry.ts";
import type { Config } from "./config.ts";

/**
 * Creates what the pipeline writes before dbt runs: the run ledger (`meta`) and the landing tables
 * (`landing`). Idempotent: every statement is `if not exists`.
 */
export async function initDatabase(db: Database): Promise<void> {
  await db.run(`
    create schema if not exists meta;
    create schema if not exists landing;

    create table if not exists meta.runs (
      run_id varchar primary key,
      run_seq integer not null,
      started_at timestamptz not null,
      as_of timestamptz not null,
      finished_at timestamptz,
      status varchar not null,
      exit_code integer,
      config_path varchar not null,
      stage_timings varchar
    );

    create table if not exists meta.source_fetches (
      run_id varchar not null,
      source varchar not null,
      status varchar not null,
      snapshot_hash varchar,
      new_snapshot boolean not null default false,
      observations integer not null default 0,
      rejected integer not null default 0,
      bytes bigint not null default 0,
      duration_ms integer not null default 0,
      error varchar,
      fetched_at timestamptz not null,
      primary key (run_id, source)
    );

    -- The run's summary as run_summary.json has it, kept per run (also for blocked and dry runs).
    alter table meta.runs add column if not exists summary varchar;

    -- Every dbt node's timing and status per run, from dbt's run_results.json.
    create table if not exists meta.dbt_node_timings (
      run_id varchar not null,
      unique_id varchar not null,
      status varchar not null,
      execution_seconds double not null,
      primary key (run_id, unique_id)
    );

    -- Columns added after the first release: databases created earlier gain them here.
    alter table meta.source_fetches add column if not exists delivery varchar default 'full';
    alter table meta.source_fetches add column if not exists unchanged boolean default false;
    alter table meta.source_fetches add column if not exists requests integer default 0;
    alter table meta.source_fetches add column if not exists retries integer default 0;

    -- Where an incremental source resumes; written in the same transaction as the data it covers.
    create table if not exists meta.source_checkpoints (
      source varchar primary key,
      checkpoint varchar not null,
      run_id varchar not null,
      saved_at timestamptz not null
    );

    create table if not exists meta.rejected_records (
      run_id varchar not null,
      source varchar not null,
      file varchar,
      line integer,
      key varchar,
      reason varchar not null,
      excerpt varchar
    );

    create table if not exists meta.check_results (
      run_id varchar not null,
      check_id varchar not null,
      severity varchar not null,
      passed boolean not null,
      failing_count integer not null,
      detail varchar not null,
      primary key (run_id, check_id)
    );

    -- One row per distinct snapshot a source ever delivered; an identical re-delivery adds nothing.
    create table if not exists landing.snapshots (
      snapshot_hash varchar primary key,
      source varchar not null,
      first_run_id varchar not null,
      fetched_at timestamptz not null,
      observation_count integer not null
    );

    -- Which observations make up each snapshot, and where in the input they stood (CSV line, JSON order).
    -- One row per (snapshot_hash, content_hash): the load stage writes a snapshot's members once, grouped by
    -- content_hash (a dbt test on stg_landing__snapshot_members checks it). No primary key: DuckDB's index on
    -- millions of 64-character keys cost a quarter of the load stage on generated data of the vendor's size
    -- (12.0 s with the indexes, 8.8 s without), and guarded nothing the load does not guarantee already.
    create table if not exists landing.snapshot_members (
      snapshot_hash varchar not null,
      content_hash varchar not null,
      position integer not null
    );
  `);
  await createHistoryTables(db);
  await createPublishedEvidenceTable(db);
  await createDecisionInputsTable(db);
  await createExportInputsTable(db);
  // Every landing table exists whether or not its source is enabled: dbt's sources read them all. Each
  // content_hash is landed once (load.ts inserts only hashes not there yet; dbt's source tests check it),
  // without a primary key for the same reason as snapshot_members'.
  for (const table of landingTables) {
    const columns = table.columns.map((column) => `${column.name} ${column.type}`).join(",\n      ");
    await db.run(`
      create table if not exists landing.${table.name} (
        content_hash varchar not null,
        source varchar not null,
        run_id varchar not null,
        fetched_at timestamptz not null,
        ${columns}
      )
    `);
    // Columns added to a landing table after a database was created are added to it here.
    for (const column of table.columns) {
      await db.run(
        `alter table landing.${table.name} add column if not exists ${column.name} ${column.type}`,
      );
    }
  }
}

export interface InitialisedRun {
  db: Database;
  /** The latest run the ledger files know: the run's clock may not be before it. */
  latestLedgerRun: string | undefined;
  /** What this run starts from on disk, for telling whether its decisions can be the previous run's. */
  startedWith: PublishedState;
  /**
   * The history files are as the latest run left them and were not restored into the database: dbt alone
   * reads what they restore, so restoreHistory runs only if dbt does (stages/transform.ts).
   */
  historyDeferred: boolean;
}

/**
 * Opens the run's database and makes it hold what the published files hold: the schema, the decision
 * ledger (restored from its files, the history's truth) and the evidence last published (which keeps when
 * each observation was first fetched, should the database be new). A damaged file stops the run here,
 * before anything is recorded.
 *
 * When the files are exactly as the latest run left them (the digests it recorded), they are only hashed:
 * each was checked by an earlier run or written by the pipeline, and an unchanged rerun, which keeps the
 * previous decisions, never reads what they restore (parsing them was most of its init stage).
 */
export async function initialiseRun(config: Config): Promise<InitialisedRun> {
  const db = await openDatabase(config.database, { memoryLimit: config.duckdb.memory_limit });
  try {
    await initDatabase(db);
    const left = await leftByLatestRun(db);
    if (left !== null) {
      const digests = await readLedgerDigests(config.history_dir);
      const found: PublishedState = { ledger: ledgerListing(digests), published: null };
      if (isLedgerListing(left.ledger, found.ledger)) {
        found.published = await publishedFileDigest(config.output_dir);
        if (found.published === left.published) {
          log.info("history files as the latest run left them: restored only if dbt runs", {
            run: left.runId,
            files: digests.length,
            dir: config.history_dir,
          });
          return { db, latestLedgerRun: latestLedgerRun(digests), startedWith: found, historyDeferred: true };
        }
      }
    }
    const ledger = await restoreHistory(db, config);
    const startedWith: PublishedState = {
      ledger: ledgerListing(ledger.files),
      published: await publishedFileDigest(config.output_dir),
    };
    return { db, latestLedgerRun: latestLedgerRun(ledger.files), startedWith, historyDeferred: false };
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Restores the decision ledger and the published evidence from their files into the history tables, for
 * dbt to read. A damaged file stops the run with its name, line and key.
 */
export async function restoreHistory(db: Database, config: Config): Promise<LedgerToRestore> {
  const ledger = await readLedgerToRestore(db, config.history_dir);
  const evidence = await restorePublishedEvidence(db, readPublishedEvidence(config.output_dir));
  const restored = await restoreLedger(db, ledger);
  log.info("history restored", {
    files: ledger.files.length,
    transitions_written: restored,
    incremental: ledger.incremental,
    dir: config.history_dir,
    published_evidence: evidence,
  });
  return ledger;
}
