import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AdvisoryData } from "../../site/src/lib/advisories.ts";
import type { DataLayout } from "../../site/src/lib/data-layout.ts";
import type { CveEntry } from "../../site/src/lib/data-types.ts";
import { generated, writeSiteOutput } from "../helpers/site-fixture.ts";

/**
 * The weight budget of the advisory page: it loads its advisory's shard and its CVE's shard, and together
 * they must stay under 30 KB on data of the real size (40,625 advisories) with upstream evidence, timelines
 * and NVD facts heavier than the real run has. Measured by the build's own functions, without Astro.
 */
const budget = 30 * 1024;
const count = 40_625;

describe("shard sizes on a dataset of the real size", () => {
  let outputDir: string;
  let data: AdvisoryData;
  let layout: DataLayout;
  let allShards: (bits: number) => string[];

  beforeAll(async () => {
    outputDir = await mkdtemp(join(tmpdir(), "echo-site-shards-"));
    const { advisories, facts } = generated(count);
    await writeSiteOutput(outputDir, advisories, facts);
    // The site's modules read the output folder from the environment when they load.
    process.env.ECHO_OUTPUT_DIR = outputDir;
    const advisoriesModule = await import("../../site/src/lib/advisories.ts");
    layout = (await import("../../site/src/lib/data-layout.ts")).dataLayout();
    allShards = (await import("../../site/src/lib/shards.ts")).allShards;
    data = await advisoriesModule.loadAdvisoryData();
  });
  afterAll(async () => {
    delete process.env.ECHO_OUTPUT_DIR;
    await rm(outputDir, { recursive: true, force: true });
  });

  it("keeps the two data files an advisory page loads under 30 KB together, for every advisory", async () => {
    const { shardOf } = await import("../../site/src/lib/shards.ts");
    const advisorySizes = new Map<string, number>();
    let advisories = 0;
    for (const shard of allShards(layout.advisoryBits)) {
      const text = await data.readShard(shard);
      advisorySizes.set(shard, Buffer.byteLength(text));
      advisories += Object.keys(JSON.parse(text)).length;
    }
    const cveSizes = new Map<string, number>();
    let largestCve = 0;
    let cves = 0;
    for (const shard of allShards(layout.cveBits)) {
      const text = await data.readCveShard(shard);
      cveSizes.set(shard, Buffer.byteLength(text));
      const entries = JSON.parse(text) as Record<string, CveEntry>;
      for (const entry of Object.values(entries)) largestCve = Math.max(largestCve, entry.advisories.length);
      cves += Object.keys(entries).length;
    }
    let largestPage = 0;
    for (const [id] of data.index.rows) {
      const cve = id.slice(id.indexOf(":") + 1);
      const page =
        (advisorySizes.get(shardOf(id, layout.advisoryBits)) ?? 0) +
        (cveSizes.get(shardOf(cve, layout.cveBits)) ?? 0);
      largestPage = Math.max(largestPage, page);
    }
    console.log(
      `${advisories} advisories: ${advisorySizes.size} advisory files (largest ${Math.max(...advisorySizes.values())} B), ` +
        `${cveSizes.size} CVE files (largest ${Math.max(...cveSizes.values())} B, ${cves} CVEs); ` +
        `the most an advisory page loads: ${largestPage} B`,
    );
    expect(advisories).toBe(data.index.rows.length);
    expect(advisories).toBeGreaterThan(40_000);
    expect(largestCve).toBe(24);
    expect(largestPage).toBeLessThan(budget);
  });

  it("gives a much-cited CVE's page its most useful references and their number, not all 500", async () => {
    const { shardOf } = await import("../../site/src/lib/shards.ts");
    const { pageReferenceLimit } = await import("../../site/src/lib/advisories.ts");
    const { facts } = generated(count);
    const cited = facts.filter((item) => (item.nvd?.references.length ?? 0) === 500);
    expect(cited.length).toBeGreaterThan(0);
    for (const item of cited) {
      const entries = JSON.parse(await data.readCveShard(shardOf(item.cve_id, layout.cveBits))) as Record<
        string,
        CveEntry
      >;
      const nvd = entries[item.cve_id]?.facts?.nvd as { references: unknown[]; references_total?: number };
      expect(nvd.references).toHaveLength(pageReferenceLimit);
      expect(nvd.references_total).toBe(500);
    }
  });

  it("keeps the search index compact: a row is under 64 bytes on average, with dates, scores and exploited marks coded as numbers", () => {
    const text = JSON.stringify(data.index);
    const perRow = Buffer.byteLength(text) / data.index.rows.length;
    console.log(
      `search index: ${Buffer.byteLength(text)} B for ${data.index.rows.length} rows (${perRow.toFixed(1)} B a row)`,
    );
    expect(perRow).toBeLessThan(64);
    const scored = data.index.rows.filter((row) => typeof row[6] === "number");
    expect(scored.length).toBeGreaterThan(0);
    expect(data.index.rows.every((row) => row[5] === undefined || Number.isInteger(row[5]))).toBe(true);
  });
});
