import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLedger } from "../../pipeline/history/ledger.ts";
import type { AdvisoryDetail, AdvisoryIndex } from "../../site/src/lib/advisories.ts";
import { allShards, shardOf } from "../../site/src/lib/shards.ts";
import {
  type AdvisoryCurrent,
  createWorkspace,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

/**
 * The data the advisory pages load on demand, built from two runs: the search index and texts cover every
 * published advisory, each advisory sits in the shard the browser will compute for it with its full
 * timeline, and the feeds are published byte for byte as the run wrote them.
 */
describe("advisory data for the search and advisory pages", () => {
  let workspace: Workspace;
  let site: string;
  let published: AdvisoryCurrent;
  const overridden = "389-ds-base:CVE-2019-34462";

  beforeAll(async () => {
    workspace = await createWorkspace();
    const csv = await readFile(sampleCsv, "utf8");
    const csvPath = await workspace.input("na.csv", csv);
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: csvPath });
    const first = await workspace.run(["--as-of", "2026-05-01T06:00:00Z"]);
    expect(first.exitCode, first.stderr).toBe(0);
    // The analysts mark one fixed advisory not applicable: a second period in its timeline.
    await workspace.input(
      "na.csv",
      `${csv.trimEnd()}\nCVE-2019-34462,389-ds-base,not_applicable,,code_not_in_use\n`,
    );
    const second = await workspace.run(["--as-of", "2026-05-02T06:00:00Z"]);
    expect(second.exitCode, second.stderr).toBe(0);
    published = await workspace.readAdvisoryCurrent();

    site = await mkdtemp(join(tmpdir(), "echo-site-advisories-"));
    await execa("npm", ["run", "site:build"], {
      cwd: repoRoot,
      env: { ECHO_OUTPUT_DIR: workspace.outputDir, ECHO_SITE_OUT_DIR: join(site, "site") },
    });
  });
  afterAll(async () => {
    await workspace.cleanup();
    await rm(site, { recursive: true, force: true });
  });

  const readSiteJson = async <T>(path: string) =>
    JSON.parse(await readFile(join(site, "site", path), "utf8")) as T;

  it("indexes every published advisory once, with its state, reason, evidence sources and fixed version", async () => {
    const index = await readSiteJson<AdvisoryIndex>("data/advisory-index.json");
    expect(index.rows.map((row) => row[0])).toEqual(
      published.advisories.map((advisory) => advisory.advisory_id),
    );
    for (const [position, advisory] of published.advisories.entries()) {
      const [, state, reason, sourceMask, fixed] = index.rows[position] as AdvisoryIndex["rows"][number];
      expect(index.states[state]).toBe(advisory.state);
      expect(index.reasons[reason]).toBe(advisory.reason_code);
      expect(index.sources.filter((_, bit) => sourceMask & (1 << bit)).sort()).toEqual(
        [...new Set(advisory.evidence.map((item) => item.source))].sort(),
      );
      expect(fixed).toBe(advisory.fixed_version);
    }
    const texts = await readSiteJson<string[]>("data/advisory-text.json");
    expect(texts).toEqual(published.advisories.map((advisory) => advisory.explanation));
  });

  it("puts each advisory in the shard its id hashes to, with the ledger's timeline oldest first", async () => {
    // The pages are told how many bits name a shard; the build writes every shard of that many.
    const html = await readFile(join(site, "site/advisory/index.html"), "utf8");
    const pageData = /<script type="application\/json" id="page-data">(.*?)<\/script>/s.exec(html)?.[1];
    const bits = (JSON.parse(pageData ?? "{}") as { advisoryBits: number }).advisoryBits;
    const files = (await readdir(join(site, "site/data/advisories"))).sort();
    expect(files).toEqual(
      allShards(bits)
        .map((shard) => `${shard}.json`)
        .sort(),
    );
    const ledger = await readLedger(join(workspace.outputDir, "history"));
    let found = 0;
    for (const shard of allShards(bits)) {
      const details = await readSiteJson<Record<string, AdvisoryDetail>>(`data/advisories/${shard}.json`);
      for (const [id, detail] of Object.entries(details)) {
        expect(shardOf(id, bits)).toBe(shard);
        const expected = ledger.flatMap((file) =>
          file.transitions.filter((entry) => entry.advisory_id === id),
        );
        expect(detail.timeline.map((entry) => [entry.run_id, entry.to_state, entry.rule_id])).toEqual(
          expected.map((entry) => [entry.run_id, entry.to_state, entry.rule_id]),
        );
        found++;
      }
    }
    expect(found).toBe(published.advisories.length);
    const detail = (
      await readSiteJson<Record<string, AdvisoryDetail>>(`data/advisories/${shardOf(overridden, bits)}.json`)
    )[overridden];
    expect(detail?.state).toBe("not_applicable");
    expect(detail?.timeline.map((entry) => [entry.from_state, entry.to_state])).toEqual([
      [null, "fixed"],
      ["fixed", "not_applicable"],
    ]);
  });

  it("computes shards the same way in every process (the browser recomputes them)", () => {
    expect(shardOf("389-ds-base:CVE-2019-34462")).toMatch(/^[0-9a-f]{2}$/);
    // FNV-1a of "a" is 0xe40c292c: its low byte is 2c.
    expect(shardOf("a")).toBe("2c");
    expect(shardOf("")).toBe("c5");
    // More bits for more data: the low 12 bits of 0xe40c292c, in three hex digits.
    expect(shardOf("a", 12)).toBe("92c");
    expect(shardOf("a", 16)).toBe("292c");
  });

  it("publishes the feeds beside the site byte for byte, and the pages link to the advisory view", async () => {
    for (const feed of ["advisory_current.json", "data.json"]) {
      expect(await readFile(join(site, "site", feed))).toEqual(
        await readFile(join(workspace.outputDir, feed)),
      );
    }
    const feeds = await readFile(join(site, "site/feeds/index.html"), "utf8");
    expect(feeds).toContain('href="/data.json"');
    const advisoryPage = await readFile(join(site, "site/advisory/index.html"), "utf8");
    expect(advisoryPage).toContain('id="advisory-timeline"');
    expect(published.advisories.every((advisory) => advisory.history_url.startsWith("advisory/?id="))).toBe(
      true,
    );
  });
});
