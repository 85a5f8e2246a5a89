import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { advisoryCurrentPath } from "../formats/advisory-current.ts";
import type { Database } from "../lib/db.ts";
import { PipelineError } from "../lib/errors.ts";
import { hashFolder } from "../lib/hash.ts";

/**
 * Everything dbt decides from, as digests, so a run can tell that its decisions would be those of the run
 * before it and leave dbt out (an unchanged rerun: the benchmark's case (c), most scheduled runs).
 *
 * dbt reads the landing tables, the fetches, the history restored from the ledger files and the evidence
 * restored from the published advisory_current.json, through the dbt project. Each has a digest here:
 * - `project`: the dbt project's files and the pinned dbt runtime (requirements.txt);
 * - `landing`: the row count of each landing table. They are content-addressed and only ever appended to,
 *   so equal counts mean equal content;
 * - `fetches`: this run's fetch of each source: status, snapshot, delivery kind and error. Equal fetches
 *   select the same snapshots and mark the same ones stale;
 * - the ledger files and the published file, compared with what the previous run left behind.
 *
 * The decisions of a run whose inputs equal the previous run's inputs, plus what that run itself published
 * (its ledger file and its advisory_current.json), are the previous run's decisions: the models decide the
 * same way from their own output, which the tests of identical reruns show (no transitions, byte-identical
 * feeds). The run's clock plays no part in dbt; what depends on it (stalled checks, source age) is computed
 * outside dbt and stays live.
 */
export interface DecisionInputs {
  project: string;
  landing: string;
  fetches: string;
}

/** What a run found on disk at its start: the ledger files and the published advisories. */
export interface PublishedState {
  /** Each ledger file's run id and SHA-256, oldest first. */
  ledger: { runId: string; sha256: string }[];
  /** SHA-256 of the published advisory_current.json, or null when there is none. */
  published: string | null;
}

/** Why a run's dbt build was left out, or why it could not be. */
export type ReuseVerdict = { reusable: true; runId: string } | { reusable: false; reason: string };

export async function createDecisionInputsTable(db: Database): Promise<void> {
  await db.run(`
    create table if not exists meta.decision_inputs (
      run_id varchar primary key,
      inputs varchar not null,
      -- What the next run must find to reuse these decisions: the ledger listing and the published file
      -- as this run left them. Null until the run has published.
      ledger_after varchar,
      published_after varchar
    )
  `);
}

const parsedFileExtensions = [".sql", ".yml", ".yaml", ".csv"];
const ignoredDirectories = new Set(["target", "logs", ".venv", "dbt_packages", "node_modules"]);

/** SHA-256 over the names and contents of the files dbt parses, and the pinned runtime. */
export async function projectDigest(projectDir: string): Promise<string> {
  const hash = createHash("sha256");
  await hashFolder(hash, projectDir, {
    includeFile: (name) =>
      parsedFileExtensions.some((extension) => name.endsWith(extension)) || name === "requirements.txt",
    skippedFolders: ignoredDirectories,
  });
  return hash.digest("hex");
}

/** The digests of what dbt would decide this run from (see DecisionInputs). */
export async function readDecisionInputs(
  db: Database,
  runId: string,
  projectDir: string,
): Promise<DecisionInputs> {
  const tables = await db.all<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'landing' and table_type = 'BASE TABLE' order by table_name",
  );
  const counts: Record<string, number> = {};
  for (const { table_name } of tables) {
    const row = await db.one<{ rows: number }>(
      `select count(*)::bigint::double as rows from landing."${table_name}"`,
    );
    counts[table_name] = row?.rows ?? 0;
  }
  const fetches = await db.all(
    `select source, status, snapshot_hash, delivery, error
     from meta.source_fetches where run_id = ? order by source`,
    [runId],
  );
  return {
    project: await projectDigest(projectDir),
    landing: JSON.stringify(counts),
    fetches: JSON.stringify(fetches),
  };
}

/** SHA-256 of the published advisory_current.json, read as a stream (it exceeds 1 GB at 25×), or null. */
export async function publishedFileDigest(outputDir: string): Promise<string | null> {
  const hash = createHash("sha256");
  const path = advisoryCurrentPath(outputDir);
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new PipelineError(`cannot read the published advisories: ${(error as Error).message}`, {
      location: { file: path },
      exitCode: 2,
    });
  }
  return hash.digest("hex");
}

export function ledgerListing(files: readonly { runId: string; sha256: string }[]): PublishedState["ledger"] {
  return files.map((file) => ({ runId: file.runId, sha256: file.sha256 }));
}

function listingText(listing: PublishedState["ledger"]): string {
  return JSON.stringify(listing.map((file) => [file.runId, file.sha256]));
}

/**
 * Whether this run may keep the decisions the previous run's build left in the marts. Only when that run
 * is the one right before this one (nothing has rebuilt the marts since), it published, its recorded
 * inputs equal this run's, and the ledger and published file are exactly as it left them.
 */
export async function findReusableDecisions(
  db: Database,
  runId: string,
  inputs: DecisionInputs,
  found: PublishedState,
): Promise<ReuseVerdict> {
  const previous = await db.one<{ run_id: string; status: string }>(
    `select run_id, status from meta.runs
     where run_seq < (select run_seq from meta.runs where run_id = ?)
     order by run_seq desc limit 1`,
    [runId],
  );
  if (!previous) return { reusable: false, reason: "no earlier run in this database" };
  if (previous.status !== "succeeded")
    return { reusable: false, reason: `the previous run ${previous.run_id} ended ${previous.status}` };
  const recorded = await db.one<{
    inputs: string;
    ledger_after: string | null;
    published_after: string | null;
  }>("select inputs, ledger_after, published_after from meta.decision_inputs where run_id = ?", [
    previous.run_id,
  ]);
  if (!recorded || recorded.ledger_after === null)
    return { reusable: false, reason: `the previous run ${previous.run_id} recorded no decision inputs` };
  const before = JSON.parse(recorded.inputs) as DecisionInputs;
  if (before.project !== inputs.project) return { reusable: false, reason: "the dbt project changed" };
  if (before.landing !== inputs.landing) return { reusable: false, reason: "new data was landed" };
  if (before.fetches !== inputs.fetches)
    return { reusable: false, reason: "a source's fetch differs (status, snapshot, delivery or error)" };
  if (recorded.ledger_after !== listingText(found.ledger))
    return {
      reusable: false,
      reason: `the history files are not those run ${previous.run_id} left`,
    };
  if (recorded.published_after !== found.published)
    return {
      reusable: false,
      reason: `advisory_current.json is not the one run ${previous.run_id} published`,
    };
  const marts = await db.one<{ present: number }>(
    "select count(*)::integer as present from information_schema.tables where table_schema = 'marts'",
  );
  if (!marts || marts.present === 0) return { reusable: false, reason: "the database holds no built models" };
  return { reusable: true, runId: previous.run_id };
}

/**
 * The ledger listing and published file the latest run left, when it published (as recorded by
 * recordPublishedState); null otherwise.
 */
export async function leftByLatestRun(
  db: Database,
): Promise<{ runId: string; ledger: string; published: string } | null> {
  const latest = await db.one<{
    run_id: string;
    status: string;
    ledger_after: string | null;
    published_after: string | null;
  }>(
    `select runs.run_id, runs.status, inputs.ledger_after, inputs.published_after
     from meta.runs as runs left join meta.decision_inputs as inputs on inputs.run_id = runs.run_id
     order by runs.run_seq desc limit 1`,
  );
  if (latest?.status !== "succeeded") return null;
  if (latest.ledger_after === null || latest.published_after === null) return null;
  return { runId: latest.run_id, ledger: latest.ledger_after, published: latest.published_after };
}

/** Whether a ledger listing is the one a run recorded (leftByLatestRun). */
export function isLedgerListing(recorded: string, listing: PublishedState["ledger"]): boolean {
  return recorded === listingText(listing);
}

/** Records what this run's decisions were made from (a build, or decisions it kept). */
export async function recordDecisionInputs(
  db: Database,
  runId: string,
  inputs: DecisionInputs,
): Promise<void> {
  await db.run("delete from meta.decision_inputs where run_id = ?", [runId]);
  await db.run("insert into meta.decision_inputs (run_id, inputs) values (?, ?)", [
    runId,
    JSON.stringify(inputs),
  ]);
}

/**
 * Once the run has published: the ledger listing and published file the next run must find to keep these
 * decisions. The listing is the one this run started from, its own file replaced by what it wrote.
 */
export async function recordPublishedState(
  db: Database,
  runId: string,
  startedWith: PublishedState,
  ledgerWritten: string | null,
  publishedDigest: string,
): Promise<void> {
  const listing = startedWith.ledger.filter((file) => file.runId !== runId);
  if (ledgerWritten !== null) listing.push({ runId, sha256: ledgerWritten });
  listing.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  await db.run("update meta.decision_inputs set ledger_after = ?, published_after = ? where run_id = ?", [
    listingText(listing),
    publishedDigest,
    runId,
  ]);
}
