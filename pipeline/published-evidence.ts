import { readFile } from "node:fs/promises";
import { z } from "zod";
import { advisoryCurrentPath } from "./export.ts";
import type { Database } from "./lib/db.ts";
import { PipelineError } from "./lib/errors.ts";

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

const publishedDocument = z.looseObject({
  advisories: z.array(
    z.looseObject({
      advisory_id: z.string().regex(/^[^:\s]+:[^:\s]+$/, "must be <package>:<vulnerability id>"),
      evidence: z.array(publishedEvidenceEntry),
    }),
  ),
});

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

export async function createPublishedEvidenceTable(db: Database): Promise<void> {
  await db.run(`
    create schema if not exists history;
    create table if not exists history.published_evidence (
      ${tableColumns.map(([name, type]) => `${name} ${type}`).join(",\n      ")},
      primary key (advisory_id, source)
    );
  `);
}

/**
 * Reads the evidence of the advisory_current.json published in outputDir; none when there is no such file
 * (a first run). A damaged file stops the run with its name and the key at fault: dates read from half a
 * file would silently differ from the ones published.
 */
export async function readPublishedEvidence(outputDir: string): Promise<PublishedEvidence[]> {
  const path = advisoryCurrentPath(outputDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new PipelineError(`cannot read the published advisories: ${(error as Error).message}`, {
      location: { file: path },
      exitCode: 2,
    });
  }
  return parsePublishedEvidence(text, path);
}

export function parsePublishedEvidence(text: string, path: string): PublishedEvidence[] {
  const hint =
    "restore the file from git (it is what the previous run published), or remove it to start over";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PipelineError(`not the published advisories: ${(error as Error).message}`, {
      location: { file: path },
      hint,
      exitCode: 2,
    });
  }
  const parsed = publishedDocument.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PipelineError(`not the published advisories: ${issue?.message ?? "invalid"}`, {
      location: { file: path, key: issue?.path.join(".") || "(file)" },
      hint,
      exitCode: 2,
    });
  }
  const rows: PublishedEvidence[] = [];
  const advisories = new Set<string>();
  parsed.data.advisories.forEach((advisory, index) => {
    if (advisories.has(advisory.advisory_id)) {
      throw new PipelineError(`advisory ${advisory.advisory_id} is published twice`, {
        location: { file: path, key: `advisories.${index}.advisory_id` },
        hint,
        exitCode: 2,
      });
    }
    advisories.add(advisory.advisory_id);
    const sources = new Set<string>();
    advisory.evidence.forEach((evidence, position) => {
      if (sources.has(evidence.source)) {
        throw new PipelineError(
          `source ${evidence.source} appears twice in the evidence of ${advisory.advisory_id}`,
          {
            location: { file: path, key: `advisories.${index}.evidence.${position}.source` },
            hint,
            exitCode: 2,
          },
        );
      }
      sources.add(evidence.source);
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
  });
  return rows;
}

/**
 * Replaces history.published_evidence with the rows read from the published file, in one transaction, so
 * dbt never sees half of it.
 */
export async function restorePublishedEvidence(
  db: Database,
  rows: readonly PublishedEvidence[],
): Promise<number> {
  await db.transaction(async () => {
    await db.run(
      `create or replace temp table incoming_published_evidence (${tableColumns.map(([name]) => `${name} varchar`).join(", ")})`,
    );
    const appender = await db.connection.createAppender("incoming_published_evidence", "main", "temp");
    for (const row of rows) {
      for (const [name] of tableColumns) {
        const value = row[name];
        if (value === null) appender.appendNull();
        else appender.appendVarchar(value);
      }
      appender.endRow();
    }
    appender.closeSync();
    await db.run("delete from history.published_evidence");
    await db.run(
      `insert into history.published_evidence
       select ${tableColumns.map(([name, type]) => `${name}::${type.replace(" not null", "")}`).join(", ")}
       from temp.incoming_published_evidence`,
    );
    await db.run("drop table temp.incoming_published_evidence");
  });
  return rows.length;
}
