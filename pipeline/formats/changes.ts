import { join } from "node:path";
import { z } from "zod";
import { advisoryIdSchema, publishedAdvisorySchema } from "./advisory.ts";
import { ListedDocument } from "./listed-document.ts";
import { runIdSchema } from "./run-id.ts";
import { publishedSchemaUrl } from "./schema-url.ts";

/**
 * changes/<run id>.json: what one publishing run changed in advisory_current.json, one change per line
 * (listed-document.ts). Applying its changes to the advisory_current.json it names (`previous_run_id`) gives
 * the one the run published: an added or updated advisory carries its whole new record, a removed one none.
 * changes.atom lists the recent runs' change files. These schemas are the definition of the file; its JSON
 * Schema is generated from them (json-schema.ts).
 */
export const changesDirectoryName = "changes";
export const changeFeedFileName = "changes.atom";
export const changesSchemaVersion = 1;

/** How many change files the output keeps (the oldest are removed), and how many runs the Atom feed lists. */
export const changeFilesKept = 30;
export const changeFeedRuns = 20;

const isoSeconds = z.iso.datetime({ offset: true });
const state = z.string().min(1);

/** The members every change has, whatever its kind. Field order here is the order in the file. */
const changeCommon = {
  advisory_id: advisoryIdSchema,
  run_id: runIdSchema.describe("The run that made the change (the file's run_id)."),
  changed_at: isoSeconds.describe("The clock of that run."),
};

const addedOrUpdated = {
  rule_id: z.string().min(1).describe("The catalogue rule that decided the new state."),
  reason_code: z.string().min(1),
  fixed_version: z.string().nullable().describe("The new record's fixed_version."),
  advisory: publishedAdvisorySchema.describe(
    "The advisory's whole new record, as advisory_current.json has it.",
  ),
};

export const advisoryChangeSchema = z.discriminatedUnion("change", [
  z
    .object({
      advisory_id: changeCommon.advisory_id,
      change: z.literal("added").describe("The advisory is new in advisory_current.json."),
      from_state: z.null(),
      to_state: state,
      ...addedOrUpdated,
      run_id: changeCommon.run_id,
      changed_at: changeCommon.changed_at,
    })
    .strict(),
  z
    .object({
      advisory_id: changeCommon.advisory_id,
      change: z
        .literal("updated")
        .describe("Something in the advisory's record changed: its state, or any other member."),
      from_state: state,
      to_state: state,
      ...addedOrUpdated,
      run_id: changeCommon.run_id,
      changed_at: changeCommon.changed_at,
    })
    .strict(),
  z
    .object({
      advisory_id: changeCommon.advisory_id,
      change: z.literal("removed").describe("The advisory is no longer in advisory_current.json."),
      from_state: state,
      to_state: z.null(),
      rule_id: z.null(),
      reason_code: z.null(),
      fixed_version: z.null(),
      run_id: changeCommon.run_id,
      changed_at: changeCommon.changed_at,
      advisory: z.null(),
    })
    .strict(),
]);
export type AdvisoryChange = z.infer<typeof advisoryChangeSchema>;
export type ChangeKind = AdvisoryChange["change"];
export const changeKinds: readonly ChangeKind[] = ["added", "updated", "removed"];

/** How many changes of each kind a run made. */
export type ChangeCounts = Record<ChangeKind, number>;

/** `2 added, 5 updated, 1 removed` (kinds with none left out), or `no changes`. */
export function countsTitle(counts: ChangeCounts): string {
  const parts = changeKinds
    .filter((kind) => counts[kind] > 0)
    .map((kind) => `${counts[kind].toLocaleString("en")} ${kind}`);
  return parts.length === 0 ? "no changes" : parts.join(", ");
}

export const changesDocumentSchema = z
  .object({
    $schema: z
      .string()
      .min(1)
      .describe(
        "The file's JSON Schema: schemas/changes.schema.json on the published site (absolute when the site's address is configured, else relative to the change file: ../schemas/changes.schema.json).",
      ),
    schema_version: z
      .literal(changesSchemaVersion)
      .describe("The version of this shape; a consumer refuses a version it does not know."),
    run_id: runIdSchema.describe("The run that published these changes."),
    previous_run_id: runIdSchema
      .nullable()
      .describe(
        "The run_id of the advisory_current.json the changes apply to; null when there was none (or it named no run), and then every advisory is added.",
      ),
    generated_at: isoSeconds.describe("The clock of the run."),
    change_count: z.number().int().min(0),
    changes: z
      .array(advisoryChangeSchema)
      .describe("Sorted by advisory_id, in byte order; an advisory that did not change is not listed."),
  })
  .strict();
export type ChangesDocument = z.infer<typeof changesDocumentSchema>;
export type ChangesHeader = Omit<ChangesDocument, "changes">;

export function changesDirectory(outputDir: string): string {
  return join(outputDir, changesDirectoryName);
}

export function changesPath(outputDir: string, runId: string): string {
  return join(changesDirectory(outputDir), `${runId}.json`);
}

export function changeFeedPath(outputDir: string): string {
  return join(outputDir, changeFeedFileName);
}

/** The header of a run's change file; `$schema` is absolute when the site's address is known. */
export function changesHeader(
  run: { runId: string; previousRunId: string | null; generatedAt: Date; changeCount: number },
  publicUrl?: string,
): ChangesHeader {
  return {
    $schema: publishedSchemaUrl("changes", publicUrl, changesDirectoryName),
    schema_version: changesSchemaVersion,
    run_id: run.runId,
    previous_run_id: run.previousRunId,
    generated_at: run.generatedAt.toISOString(),
    change_count: run.changeCount,
  };
}

function headerMembers(header: ChangesHeader): [keyof ChangesDocument, unknown][] {
  return [
    ["$schema", header.$schema],
    ["schema_version", header.schema_version],
    ["run_id", header.run_id],
    ["previous_run_id", header.previous_run_id],
    ["generated_at", header.generated_at],
    ["change_count", header.change_count],
  ];
}

/** The change file written a chunk at a time: each line the JSON text of one AdvisoryChange. */
export async function* changesDocumentText(
  header: ChangesHeader,
  lines: AsyncIterable<string[]> | Iterable<string[]>,
): AsyncGenerator<string> {
  const document = new ListedDocument(headerMembers(header), "changes", header.change_count);
  yield document.start();
  for await (const chunk of lines) yield document.items(chunk);
  yield document.end();
}

/** The same layout for a document held in memory whole. */
export function serialiseChangesDocument(document: ChangesDocument): string {
  const { changes, ...header } = document;
  return ListedDocument.serialise(
    headerMembers(header),
    "changes",
    changes.map((change) => JSON.stringify(change)),
  );
}

/**
 * Applies a change file to the advisories it names as previous (sorted by advisory_id), giving the next
 * run's: what a consumer does with the feed, here for tests and tools of a size held in memory.
 */
export function applyChanges<T extends { advisory_id: string }>(
  advisories: readonly T[],
  changes: readonly AdvisoryChange[],
): T[] {
  const byId = new Map(advisories.map((advisory) => [advisory.advisory_id, advisory]));
  for (const change of changes) {
    if (change.change === "removed") byId.delete(change.advisory_id);
    else byId.set(change.advisory_id, change.advisory as unknown as T);
  }
  return [...byId.values()].sort((a, b) => compareIds(a.advisory_id, b.advisory_id));
}

const surrogate = /[\uD800-\uDFFF]/;

/**
 * Byte order of the UTF-8 text (the order DuckDB sorts advisory_current.json in): JavaScript's own string
 * order (UTF-16 code units) agrees except around characters beyond U+FFFF, which are compared by bytes.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  if (!surrogate.test(a) && !surrogate.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
