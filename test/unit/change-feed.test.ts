import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PublishedAdvisory } from "../../pipeline/formats/advisory.ts";
import {
  type AdvisoryDocument,
  buildAdvisoryDocument,
  serialiseAdvisoryDocument,
} from "../../pipeline/formats/advisory-current.ts";
import {
  applyChanges,
  type ChangesDocument,
  changesDocumentSchema,
  compareIds,
  serialiseChangesDocument,
} from "../../pipeline/formats/changes.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { StagedRelease } from "../../pipeline/lib/files.ts";
import { stageChangeFeed } from "../../pipeline/stages/export/change-feed.ts";
import { stageChangeFile } from "../../pipeline/stages/export/changes.ts";
import { expectValid } from "../helpers/published-formats.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "change-feed-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function advisory(id: string, state = "fixed", fixed: string | null = "1.0-1"): PublishedAdvisory {
  const [packageName = "", cveId = ""] = id.split(":");
  return {
    advisory_id: id,
    cve_id: cveId,
    package_name: packageName,
    state,
    state_type: state === "fixed" ? "final" : "non_final",
    fixed_version: fixed,
    confidence: 0.9,
    explanation: "Because.",
    reason_code: "fix_available",
    rule_id: "vendor_fixed_version",
    contributing_sources: ["echo_data"],
    dissenting_sources: [],
    decided_at: "2026-03-01T06:00:00Z",
    first_seen: "2026-03-01T06:00:00Z",
    evidence: [],
    unaffected_from_version: null,
    known_exploited: null,
    history_url: `advisory/?id=${encodeURIComponent(id)}`,
  };
}

function documentOf(advisories: PublishedAdvisory[], runId: string): AdvisoryDocument {
  const time = `${runId.slice(0, 4)}-${runId.slice(4, 6)}-${runId.slice(6, 8)}T${runId.slice(9, 11)}:${runId.slice(11, 13)}:${runId.slice(13, 15)}Z`;
  return buildAdvisoryDocument(advisories, { runId, generatedAt: new Date(time) });
}

/** What the export stage does: the published file (if any) against the staged one, then publish. */
async function publishRun(
  next: AdvisoryDocument,
  previousText: string | null,
  publicUrl?: string,
): Promise<{ changes: ChangesDocument; text: string }> {
  const outputDir = join(dir, "output");
  await mkdir(outputDir, { recursive: true });
  const previousPath = join(outputDir, "advisory_current.json");
  if (previousText !== null) await writeFile(previousPath, previousText);
  const nextPath = join(dir, "next.json");
  await writeFile(nextPath, serialiseAdvisoryDocument(next));
  const release = new StagedRelease(outputDir);
  const asOf = new Date(next.generated_at);
  const result = await stageChangeFile(release, outputDir, previousPath, nextPath, {
    runId: next.run_id,
    asOf,
    publicUrl,
  });
  await stageChangeFeed(release, outputDir, { runId: next.run_id, stagedPath: result.stagedPath }, publicUrl);
  await release.publish();
  const text = await readFile(result.path, "utf8");
  return { changes: JSON.parse(text) as ChangesDocument, text };
}

describe("the change file", () => {
  it("lists added, updated and removed advisories in id order, skips unchanged ones, and applies to give the new file", async () => {
    const before = documentOf(
      [advisory("a:CVE-1"), advisory("b:CVE-2", "under_investigation", null), advisory("c:CVE-3")],
      "20260301T060000Z",
    );
    const after = documentOf(
      [advisory("b:CVE-2", "fixed", "2.0-1"), advisory("c:CVE-3"), advisory("d:CVE-4", "wont_fix", null)],
      "20260302T060000Z",
    );
    const { changes, text } = await publishRun(after, serialiseAdvisoryDocument(before));
    expect(changes.previous_run_id).toBe("20260301T060000Z");
    expect(changes.$schema).toBe("../schemas/changes.schema.json");
    expect(changes.change_count).toBe(3);
    expect(
      changes.changes.map((change) => [
        change.advisory_id,
        change.change,
        change.from_state,
        change.to_state,
      ]),
    ).toEqual([
      ["a:CVE-1", "removed", "fixed", null],
      ["b:CVE-2", "updated", "under_investigation", "fixed"],
      ["d:CVE-4", "added", null, "wont_fix"],
    ]);
    const updated = changes.changes[1];
    expect(updated).toMatchObject({
      rule_id: "vendor_fixed_version",
      reason_code: "fix_available",
      fixed_version: "2.0-1",
      run_id: "20260302T060000Z",
      changed_at: "2026-03-02T06:00:00.000Z",
    });
    expect(updated?.advisory).toEqual(advisory("b:CVE-2", "fixed", "2.0-1"));
    expect(changes.changes[0]?.advisory).toBeNull();
    // The published layout, byte for byte, and the shape the published JSON Schema describes.
    expect(text).toBe(serialiseChangesDocument(changes));
    expectValid("changes", changesDocumentSchema, changes, "change file");
    expect(applyChanges(before.advisories, changes.changes)).toEqual(after.advisories);
  });

  it("a change in any member but the state is an update; identical records are not listed", async () => {
    const before = documentOf([advisory("a:CVE-1"), advisory("b:CVE-2")], "20260301T060000Z");
    const changed = { ...advisory("a:CVE-1"), explanation: "Reworded." };
    const after = documentOf([changed, advisory("b:CVE-2")], "20260302T060000Z");
    const { changes } = await publishRun(after, serialiseAdvisoryDocument(before));
    expect(changes.changes).toHaveLength(1);
    expect(changes.changes[0]).toMatchObject({ change: "updated", from_state: "fixed", to_state: "fixed" });
    expect(changes.changes[0]?.advisory).toEqual(changed);
  });

  it("the same run done again keeps its change file: the same bytes when nothing changed, the changes folded from the earlier base otherwise", async () => {
    const base = documentOf(
      [advisory("a:CVE-1"), advisory("b:CVE-2", "under_investigation", null), advisory("c:CVE-3")],
      "20260301T060000Z",
    );
    const run = documentOf(
      [advisory("b:CVE-2", "fixed", "2.0-1"), advisory("c:CVE-3"), advisory("d:CVE-4")],
      "20260302T060000Z",
    );
    const first = await publishRun(run, serialiseAdvisoryDocument(base));
    const again = await publishRun(run, serialiseAdvisoryDocument(run));
    expect(again.text).toBe(first.text);
    // Redone with other inputs: c removed, d changed again, a back, e new.
    const redone = documentOf(
      [
        advisory("a:CVE-1", "wont_fix", null),
        advisory("b:CVE-2", "fixed", "2.0-1"),
        advisory("d:CVE-4", "wont_fix", null),
        advisory("e:CVE-5"),
      ],
      "20260302T060000Z",
    );
    const folded = await publishRun(redone, serialiseAdvisoryDocument(run));
    expect(folded.changes.previous_run_id).toBe("20260301T060000Z");
    expect(
      folded.changes.changes.map((change) => [
        change.advisory_id,
        change.change,
        change.from_state,
        change.to_state,
      ]),
    ).toEqual([
      ["a:CVE-1", "updated", "fixed", "wont_fix"],
      ["b:CVE-2", "updated", "under_investigation", "fixed"],
      ["c:CVE-3", "removed", "fixed", null],
      ["d:CVE-4", "added", null, "wont_fix"],
      ["e:CVE-5", "added", null, "fixed"],
    ]);
    expectValid("changes", changesDocumentSchema, folded.changes, "folded change file");
    expect(applyChanges(base.advisories, folded.changes.changes)).toEqual(redone.advisories);
  });

  it("a first run (no published file) adds every advisory, with no previous run", async () => {
    const after = documentOf([advisory("a:CVE-1"), advisory("b:CVE-2")], "20260302T060000Z");
    const { changes } = await publishRun(after, null);
    expect(changes.previous_run_id).toBeNull();
    expect(changes.changes.map((change) => change.change)).toEqual(["added", "added"]);
    expect(applyChanges([], changes.changes)).toEqual(after.advisories);
  });

  it("a published file from before run_id existed gives previous_run_id null and is still merged", async () => {
    const old = `{\n"generated_at": "2026-03-01T06:00:00.000Z",\n"advisory_count": 1,\n"advisories": [\n${JSON.stringify(advisory("a:CVE-1"))}\n]\n}\n`;
    const after = documentOf([advisory("a:CVE-1"), advisory("b:CVE-2")], "20260302T060000Z");
    const { changes } = await publishRun(after, old);
    expect(changes.previous_run_id).toBeNull();
    // The old record differs only by its header: the advisory itself is unchanged and not listed.
    expect(changes.changes.map((change) => [change.advisory_id, change.change])).toEqual([
      ["b:CVE-2", "added"],
    ]);
  });

  it("a published line in another member order is read all the same; one that is not JSON stops the run at its line", async () => {
    const reordered = (({ state, advisory_id, ...rest }) => ({ state, ...rest, advisory_id }))(
      advisory("a:CVE-1"),
    );
    const head = '{\n"run_id": "20260301T060000Z",\n"advisories": [\n';
    const after = documentOf([advisory("a:CVE-1", "wont_fix", null)], "20260302T060000Z");
    const { changes } = await publishRun(after, `${head}${JSON.stringify(reordered)}\n]\n}\n`);
    expect(changes.changes.map((change) => [change.advisory_id, change.change, change.from_state])).toEqual([
      ["a:CVE-1", "updated", "fixed"],
    ]);
    const failure = await publishRun(after, `${head}{"advisory_id": oops}\n]\n}\n`).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(PipelineError);
    expect((failure as PipelineError).location).toMatchObject({ line: 4 });
  });

  it("a published file out of advisory_id order stops the run, naming the file and line", async () => {
    const broken = serialiseAdvisoryDocument(
      documentOf([advisory("a:CVE-1"), advisory("b:CVE-2")], "20260301T060000Z"),
    ).replace(/^(\{"advisory_id":"a:CVE-1".*),\n(\{"advisory_id":"b:CVE-2".*)$/m, "$2,\n$1");
    expect(broken).toMatch(/"b:CVE-2"[^\n]*\n[^\n]*"a:CVE-1"/);
    const after = documentOf([advisory("a:CVE-1")], "20260302T060000Z");
    const failure = await publishRun(after, broken).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PipelineError);
    expect((failure as PipelineError).location).toMatchObject({ line: 9, key: "advisory_id" });
    expect((failure as PipelineError).message).toContain("not sorted by advisory_id");
  });

  it("ids compare in UTF-8 byte order, as DuckDB sorts them", () => {
    // U+FF5E sorts before U+1F600 in UTF-8 bytes, after it in UTF-16 code units.
    expect(compareIds("p:\uFF5E", "p:\u{1F600}")).toBeLessThan(0);
    expect(compareIds("a:1", "b:1")).toBeLessThan(0);
    expect(compareIds("a:1", "a:1")).toBe(0);
  });
});

describe("retention and the Atom feed", () => {
  const runIdOfDay = (day: number) => `202603${String(day).padStart(2, "0")}T060000Z`;

  it("keeps the newest 30 change files, removes the older ones in the same release, and lists the newest 20 runs", async () => {
    const changesDir = join(dir, "output", "changes");
    await mkdir(changesDir, { recursive: true });
    // 30 earlier runs' change files (tiny, each one addition).
    for (let day = 1; day <= 30; day += 1) {
      const document = documentOf([advisory(`p${day}:CVE-${day}`)], runIdOfDay(day));
      await writeFile(
        join(changesDir, `${runIdOfDay(day)}.json`),
        serialiseChangesDocument({
          $schema: "../schemas/changes.schema.json",
          schema_version: 1,
          run_id: runIdOfDay(day),
          previous_run_id: day === 1 ? null : runIdOfDay(day - 1),
          generated_at: document.generated_at,
          change_count: 1,
          changes: [
            {
              advisory_id: `p${day}:CVE-${day}`,
              change: "added",
              from_state: null,
              to_state: "fixed",
              rule_id: "vendor_fixed_version",
              reason_code: "fix_available",
              fixed_version: "1.0-1",
              run_id: runIdOfDay(day),
              changed_at: document.generated_at,
              advisory: advisory(`p${day}:CVE-${day}`),
            },
          ],
        }),
      );
    }
    const after = documentOf([advisory("a:CVE-1")], runIdOfDay(31));
    await publishRun(after, null, "https://example.org/advisories/");
    const kept = (await readdir(changesDir)).sort();
    expect(kept).toHaveLength(30);
    expect(kept[0]).toBe(`${runIdOfDay(2)}.json`);
    expect(kept.at(-1)).toBe(`${runIdOfDay(31)}.json`);

    const atom = await readFile(join(dir, "output", "changes.atom"), "utf8");
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(atom);
    const entries = parsed.feed.entry as {
      title: { "#text": string; type: string };
      updated: string;
      link: { rel: string; href: string }[];
    }[];
    expect(entries).toHaveLength(20);
    expect(entries[0]?.title).toEqual({ "#text": `Run ${runIdOfDay(31)}: 1 added`, type: "html" });
    expect(entries[0]?.updated).toBe("2026-03-31T06:00:00.000Z");
    expect(entries[0]?.link).toEqual([
      {
        rel: "alternate",
        type: "application/json",
        href: `https://example.org/advisories/changes/${runIdOfDay(31)}.json`,
      },
      { rel: "related", type: "text/html", href: `https://example.org/advisories/runs/${runIdOfDay(31)}/` },
    ]);
    expect(entries.at(-1)?.title["#text"]).toBe(`Run ${runIdOfDay(12)}: 1 added`);
    expect(parsed.feed.updated).toBe("2026-03-31T06:00:00.000Z");
  });

  it("is the same bytes for the same inputs, and links relatively without a configured address", async () => {
    const after = documentOf([advisory("a:CVE-1")], runIdOfDay(2));
    await publishRun(after, null);
    const first = await readFile(join(dir, "output", "changes.atom"), "utf8");
    await publishRun(after, null);
    expect(await readFile(join(dir, "output", "changes.atom"), "utf8")).toBe(first);
    expect(first).toContain(`href="changes/${runIdOfDay(2)}.json"`);
    expect(first).toContain(`href="runs/${runIdOfDay(2)}/"`);
    expect(first).not.toContain("invalid");
    expect(first).toContain('<link rel="alternate" href="./"/>');
  });
});
