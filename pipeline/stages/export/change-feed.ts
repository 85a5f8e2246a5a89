import { Feed } from "feed";
import {
  type ChangeCounts,
  type ChangeKind,
  changeFeedFileName,
  changeFeedPath,
  changeFeedRuns,
  changeFilesKept,
  changesDirectory,
  changesDirectoryName,
  countsTitle,
} from "../../formats/changes.ts";
import { ListedLayoutError, readListedItems } from "../../formats/listed-document.ts";
import { listRunFiles } from "../../formats/run-files.ts";
import { PipelineError } from "../../lib/errors.ts";
import type { StagedRelease } from "../../lib/files.ts";

/** What the Atom feed says of one run's change file. */
export interface RunChanges {
  runId: string;
  generatedAt: string;
  previousRunId: string | null;
  counts: ChangeCounts;
  /** The first changes in the file (advisory_id order), shown in the entry. */
  examples: { advisory_id: string; change: ChangeKind; from_state: string | null; to_state: string | null }[];
}

/** How many changes an entry lists by name; the change file has them all. */
const examplesShown = 10;

const jsonString = String.raw`"(?:[^"\\]|\\.)*"`;
/** The first members of a change's line as the export writes them (formats/changes.ts field order). */
const changePrefix = new RegExp(
  `^\\{"advisory_id":(${jsonString}),"change":"(added|updated|removed)","from_state":(null|${jsonString}),"to_state":(null|${jsonString}),`,
);

/** What the feed shows of one change, from the start of its line (a change embeds a whole advisory). */
function changeSummary(text: string): Partial<RunChanges["examples"][number]> {
  const match = changePrefix.exec(text);
  if (!match) return JSON.parse(text) ?? {};
  const [, id, change, from, to] = match;
  return {
    advisory_id: JSON.parse(id as string),
    change: change as ChangeKind,
    from_state: JSON.parse(from as string),
    to_state: JSON.parse(to as string),
  };
}

/**
 * The header and counts of a change file, read a line at a time without parsing the records (a first run's
 * lists every advisory).
 */
export async function readRunChanges(path: string): Promise<RunChanges> {
  const header: Record<string, unknown> = {};
  const counts: ChangeCounts = { added: 0, updated: 0, removed: 0 };
  const examples: RunChanges["examples"] = [];
  const fail = (message: string, line?: number) =>
    new PipelineError(`not a change file: ${message}`, {
      location: { file: path, ...(line === undefined ? {} : { line }) },
      hint: "restore it from git (a run wrote it), or remove it: the Atom feed then leaves that run out",
      exitCode: 2,
    });
  try {
    const items = readListedItems(
      path,
      "changes",
      (key, value) => {
        header[key] = value;
      },
      false,
    );
    for await (const { line, text } of items) {
      let change: Partial<RunChanges["examples"][number]>;
      try {
        change = changeSummary(text);
      } catch (error) {
        throw fail(`not one change as JSON (${(error as Error).message})`, line);
      }
      if (change.change !== "added" && change.change !== "updated" && change.change !== "removed")
        throw fail(`"change" is ${JSON.stringify(change.change)}`, line);
      counts[change.change] += 1;
      if (examples.length < examplesShown)
        examples.push({
          advisory_id: String(change.advisory_id),
          change: change.change,
          from_state: change.from_state ?? null,
          to_state: change.to_state ?? null,
        });
    }
  } catch (error) {
    if (error instanceof ListedLayoutError) throw fail(error.message, error.line);
    throw error;
  }
  if (typeof header.run_id !== "string" || typeof header.generated_at !== "string")
    throw fail("no run_id or generated_at");
  return {
    runId: header.run_id,
    generatedAt: header.generated_at,
    previousRunId: typeof header.previous_run_id === "string" ? header.previous_run_id : null,
    counts,
    examples,
  };
}

/** The entry's summary: what changed, against which run's file. */
function sentence(run: RunChanges): string {
  if (run.previousRunId === null)
    return `The first advisory_current.json the feed knows a run of: ${countsTitle(run.counts)}.`;
  const counts = countsTitle(run.counts);
  return `${counts.charAt(0).toUpperCase()}${counts.slice(1)} since run ${run.previousRunId}.`;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * The feed package writes only absolute URLs. Without a configured site address the links are relative to
 * the feed's own (it is published at the site's root): they are written under this placeholder, which is
 * then removed.
 */
const placeholderBase = "https://echo-advisory.invalid/";

/**
 * changes.atom (Atom 1.0): one entry per run, newest first, titled with its counts and linking its change
 * file and its run page; `updated` is the run's clock. Nothing here reads the wall clock, so the same change
 * files give the same bytes.
 */
export function changeFeedText(runs: readonly RunChanges[], publicUrl?: string): string {
  const base = publicUrl ? `${publicUrl.replace(/\/+$/, "")}/` : placeholderBase;
  const newestFirst = [...runs].sort((a, b) => (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
  const newest = newestFirst[0];
  const feed = new Feed({
    id: "urn:echo-advisory:changes",
    title: "echo-advisory: advisory changes",
    description: "What each run changed in advisory_current.json: one entry per run, with its change file.",
    link: base,
    feedLinks: { atom: `${base}${changeFeedFileName}` },
    // With no run yet there is no time to give; the epoch keeps the bytes fixed.
    updated: new Date(newest ? newest.generatedAt : 0),
    generator: "echo-advisory",
    author: { name: "echo-advisory" },
  });
  for (const run of newestFirst) {
    const total = run.counts.added + run.counts.updated + run.counts.removed;
    const listed = run.examples
      .map(
        (change) =>
          `<li><code>${escapeHtml(change.advisory_id)}</code>: ${change.change}` +
          `${change.from_state === null ? "" : ` from ${escapeHtml(change.from_state)}`}` +
          `${change.to_state === null ? "" : ` to ${escapeHtml(change.to_state)}`}</li>`,
      )
      .join("");
    const more = total > run.examples.length ? `<p>… and ${total - run.examples.length} more.</p>` : "";
    const changeFile = `${base}${changesDirectoryName}/${run.runId}.json`;
    feed.addItem({
      id: `urn:echo-advisory:changes:${run.runId}`,
      title: `Run ${run.runId}: ${countsTitle(run.counts)}`,
      link: changeFile,
      date: new Date(run.generatedAt),
      description: `${sentence(run)} Change file: ${changeFile.replace(placeholderBase, "")}; run page: ${`${base}runs/${run.runId}/`.replace(placeholderBase, "")}.`,
      content: `${listed === "" ? "" : `<ul>${listed}</ul>`}${more}<p><a href="${escapeHtml(changeFile)}">The change file</a> · <a href="${escapeHtml(`${base}runs/${run.runId}/`)}">The run</a></p>`,
    });
  }
  let xml = feed.atom1();
  // A second link per entry: the run page (rel="related").
  for (const run of newestFirst) {
    const changeLink = `<link href="${`${base}${changesDirectoryName}/${run.runId}.json`}"/>`;
    xml = xml.replace(
      changeLink,
      `<link rel="alternate" type="application/json" href="${base}${changesDirectoryName}/${run.runId}.json"/>\n        <link rel="related" type="text/html" href="${base}runs/${run.runId}/"/>`,
    );
  }
  if (!publicUrl) xml = xml.replaceAll(`"${placeholderBase}"`, '"./"').replaceAll(placeholderBase, "");
  return `${xml}\n`;
}

/**
 * Keeps the newest change files (the run's own included, `current`, staged but not yet published), removes
 * the older ones in the same release, and stages changes.atom for the newest runs.
 */
export async function stageChangeFeed(
  release: StagedRelease,
  outputDir: string,
  current: { runId: string; stagedPath: string },
  publicUrl?: string,
): Promise<void> {
  const published = await listRunFiles(changesDirectory(outputDir), ".json", {
    directory: "folder of change files",
    files: "change files",
  });
  const files = new Map(published.map((file) => [file.runId, file.path]));
  files.set(current.runId, current.stagedPath);
  const runIds = [...files.keys()].sort();
  const removed = runIds.slice(0, Math.max(0, runIds.length - changeFilesKept));
  for (const file of published) if (removed.includes(file.runId)) release.remove(file.path);
  const shown = runIds.slice(-changeFeedRuns);
  const runs: RunChanges[] = [];
  for (const runId of shown) runs.push(await readRunChanges(files.get(runId) as string));
  await release.stage(changeFeedPath(outputDir), changeFeedText(runs, publicUrl));
}
