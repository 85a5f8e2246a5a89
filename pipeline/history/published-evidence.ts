import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { advisoryCurrentPath } from "../formats/advisory-current.ts";
import { ListedLayoutError, readListedItems, wholeFileLimitBytes } from "../formats/listed-document.ts";
import type { Database } from "../lib/db.ts";
import { PipelineError } from "../lib/errors.ts";
import { parseOwnJsonFile } from "../lib/json-file.ts";

/**
 * The evidence of the previously published advisory_current.json, kept between runs with the history (the
 * scheduled job commits it). Each evidence's fetched_at says when that exact observation was first fetched;
 * the landing tables know it too, but they live in the database, which may be lost (CI machines are
 * ephemeral). dbt takes the earlier of the two for the same observation (see stg_history__published_evidence),
 * so a run without the database publishes the same dates, and the same lines, as a run with it.
 */
const nullableText = z.string().min(1).nullable();

const publishedEvidenceEntry = z.looseObject({
  source: z.string().min(1),
  signal: z.string().min(1),
  version: nullableText,
  release: nullableText,
  record: nullableText,
  fetched_at: z.iso.datetime({ offset: true }).nullable(),
});

const publishedAdvisory = z.looseObject({
  advisory_id: z.string().regex(/^[^:\s]+:[^:\s]+$/, "must be <package>:<vulnerability id>"),
  evidence: z.array(publishedEvidenceEntry),
});

/** The document around the advisories, each of which is then checked on its own (EvidenceCollector). */
const publishedDocument = z.looseObject({ advisories: z.array(z.unknown()) });

/** One row of history.published_evidence: an observation as published, and when it was first fetched. */
export interface PublishedEvidence {
  advisory_id: string;
  source: string;
  signal: string;
  version: string | null;
  release: string | null;
  record: string | null;
  fetched_at: string;
}

const tableColumns = [
  ["advisory_id", "varchar not null"],
  ["source", "varchar not null"],
  ["signal", "varchar not null"],
  ["version", "varchar"],
  ["release", "varchar"],
  ["record", "varchar"],
  ["fetched_at", "timestamptz not null"],
] as const;

/**
 * The table holds what the published file holds, restored from it at every run, so it has no key of its own:
 * (advisory, source, release) is unique there (EvidenceCollector checks it), and a release may be null. A
 * database made when each source gave one entry per advisory has a primary key on (advisory_id, source): the
 * table is made again without it (the next restore fills it).
 */
export async function createPublishedEvidenceTable(db: Database): Promise<void> {
  await db.run("create schema if not exists history");
  const keyed = await db.one<{ found: number }>(
    `select 1 as found from duckdb_constraints()
     where schema_name = 'history' and table_name = 'published_evidence' and constraint_type = 'PRIMARY KEY'`,
  );
  if (keyed) await db.run("drop table history.published_evidence");
  await db.run(`
    create table if not exists history.published_evidence (
      ${tableColumns.map(([name, type]) => `${name} ${type}`).join(",\n      ")}
    );
  `);
}

const hint = "restore the file from git (it is what the previous run published), or remove it to start over";

/**
 * Reads the evidence of the advisory_current.json published in outputDir, a chunk at a time; none when there
 * is no such file (a first run). A damaged file stops the run with its name and the key at fault: dates read
 * from half a file would silently differ from the ones published. A file larger than `wholeFileLimit` must
 * have the layout the pipeline writes (one advisory per line, formats/listed-document.ts); a smaller one may be
 * any JSON.
 */
export async function* readPublishedEvidence(
  outputDir: string,
  wholeFileLimit = wholeFileLimitBytes,
): AsyncGenerator<PublishedEvidence[]> {
  const path = advisoryCurrentPath(outputDir);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw unreadable(path, error);
  }
  if (size <= wholeFileLimit) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw unreadable(path, error);
    }
    yield parsePublishedEvidence(text, path);
    return;
  }
  yield* readListedEvidence(path);
}

function unreadable(path: string, error: unknown): PipelineError {
  return new PipelineError(`cannot read the published advisories: ${(error as Error).message}`, {
    location: { file: path },
    exitCode: 2,
  });
}

/** A file in the pipeline's own layout: the members, `"advisories": [`, one advisory per line, `]`, `}`. */
async function* readListedEvidence(path: string): AsyncGenerator<PublishedEvidence[]> {
  const collector = new EvidenceCollector(path);
  let batch: PublishedEvidence[] = [];
  try {
    for await (const { item, line } of readListedItems(path, "advisories")) {
      collector.add(item, batch, line);
      if (batch.length >= 10_000) {
        yield batch;
        batch = [];
      }
    }
  } catch (error) {
    if (!(error instanceof ListedLayoutError)) throw error;
    throw new PipelineError(`not the published advisories: ${error.message}`, {
      location: { file: path, line: error.line },
      hint: `${hint}; a file this large is read a line at a time, in the layout the pipeline writes (one advisory per line)`,
      exitCode: 2,
    });
  }
  if (batch.length > 0) yield batch;
}

/** Checks each advisory as it comes (the same rules whatever the layout) and gathers its dated evidence. */
class EvidenceCollector {
  private readonly path: string;
  private readonly advisories = new Set<string>();
  private index = 0;

  constructor(path: string) {
    this.path = path;
  }

  add(value: unknown, rows: PublishedEvidence[], line?: number): void {
    const index = this.index;
    this.index += 1;
    const location = (key: string) => ({ file: this.path, ...(line === undefined ? {} : { line }), key });
    const parsed = publishedAdvisory.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new PipelineError(`not the published advisories: ${issue?.message ?? "invalid"}`, {
        location: location(["advisories", index, ...(issue?.path ?? [])].join(".")),
        hint,
        exitCode: 2,
      });
    }
    const advisory = parsed.data;
    if (this.advisories.has(advisory.advisory_id)) {
      throw new PipelineError(`advisory ${advisory.advisory_id} is published twice`, {
        location: location(`advisories.${index}.advisory_id`),
        hint,
        exitCode: 2,
      });
    }
    this.advisories.add(advisory.advisory_id);
    // A source gives one entry per release it speaks of (one in all when it names none).
    const slots = new Set<string>();
    advisory.evidence.forEach((evidence, position) => {
      const slot = JSON.stringify([evidence.source, evidence.release]);
      if (slots.has(slot)) {
        const release = evidence.release === null ? "" : ` for release ${evidence.release}`;
        throw new PipelineError(
          `source ${evidence.source} appears twice${release} in the evidence of ${advisory.advisory_id}`,
          { location: location(`advisories.${index}.evidence.${position}.source`), hint, exitCode: 2 },
        );
      }
      slots.add(slot);
      if (evidence.fetched_at === null) return; // nothing to keep
      rows.push({
        advisory_id: advisory.advisory_id,
        source: evidence.source,
        signal: evidence.signal,
        version: evidence.version,
        release: evidence.release,
        record: evidence.record,
        fetched_at: evidence.fetched_at,
      });
    });
  }
}

export function parsePublishedEvidence(text: string, path: string): PublishedEvidence[] {
  const document = parseOwnJsonFile(text, path, publishedDocument, "not the published advisories", hint);
  const collector = new EvidenceCollector(path);
  const rows: PublishedEvidence[] = [];
  for (const advisory of document.advisories) collector.add(advisory, rows);
  return rows;
}

/**
 * Replaces history.published_evidence with the rows read from the published file, in one transaction, so
 * dbt never sees half of it: a damaged file found part way rolls it back.
 */
export async function restorePublishedEvidence(
  db: Database,
  chunks: AsyncIterable<readonly PublishedEvidence[]> | Iterable<readonly PublishedEvidence[]>,
): Promise<number> {
  let restored = 0;
  await db.transaction(async () => {
    await db.run(
      `create or replace temp table incoming_published_evidence (${tableColumns.map(([name]) => `${name} varchar`).join(", ")})`,
    );
    const appender = await db.connection.createAppender("incoming_published_evidence", "main", "temp");
    try {
      for await (const rows of chunks) {
        for (const row of rows) {
          for (const [name] of tableColumns) {
            const value = row[name];
            if (value === null) appender.appendNull();
            else appender.appendVarchar(value);
          }
          appender.endRow();
        }
        restored += rows.length;
      }
    } finally {
      appender.closeSync();
    }
    const incoming = `select ${tableColumns.map(([name, type]) => `${name}::${type.replace(" not null", "")}`).join(", ")}
       from temp.incoming_published_evidence`;
    // Most runs read back what the database already holds; replacing it then cost most of the init stage
    // (the delete and insert behind the primary key), comparing it a tenth of that.
    const differences = await db.one<{ rows: number }>(
      `select count(*)::integer as rows from (
         (${incoming} except all select * from history.published_evidence)
         union all
         (select * from history.published_evidence except all ${incoming})
       )`,
    );
    if ((differences?.rows ?? 1) > 0) {
      await db.run("delete from history.published_evidence");
      await db.run(`insert into history.published_evidence ${incoming}`);
    }
    await db.run("drop table temp.incoming_published_evidence");
  });
  return restored;
}
