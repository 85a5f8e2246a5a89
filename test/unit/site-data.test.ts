import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PublishedAdvisory } from "../../pipeline/formats/advisory.ts";
import { serialiseLedger } from "../../pipeline/formats/ledger.ts";
import type { LedgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import { ListedDocument } from "../../pipeline/formats/listed-document.ts";
import { readLedger } from "../../pipeline/history/ledger.ts";
import type { AdvisoryDetail } from "../../site/src/lib/advisories.ts";
import { indexColumns } from "../../site/src/lib/data-types.ts";
import { jsonBody } from "../../site/src/lib/json-stream.ts";
import { shardOf } from "../../site/src/lib/shards.ts";
import { TransitionGrouper } from "../../site/src/lib/transition-groups.ts";

/** The site's build-time readers, which stream what a million advisories would not fit in memory as. */
describe("streamed JSON bodies", () => {
  const text = async (body: ReadableStream<Uint8Array>) => new Response(body).text();

  it("are byte for byte JSON.stringify, across many slices and with awkward text", async () => {
    const rows = Array.from({ length: 12_345 }, (_, index) => [
      `p${index}:CVE-2024-${index}`,
      index % 3,
      null,
    ]);
    const index = { generated_at: "2026-03-01T06:00:00.000Z", states: ["fixed"], rows };
    expect(await text(jsonBody(index, "rows"))).toBe(JSON.stringify(index));
    const texts = ["plain", 'quote " and \\ back', "line\nbreak \u2028 é 😀", ""];
    expect(await text(jsonBody(texts))).toBe(JSON.stringify(texts));
    expect(await text(jsonBody([]))).toBe("[]");
    expect(await text(jsonBody({ rows: [] }, "rows"))).toBe('{"rows":[]}');
  });

  it("refuse a list that is not the last member, rather than reorder the object", () => {
    expect(() => jsonBody({ rows: [], after: 1 }, "rows")).toThrow(/rows must be the last member/);
  });
});

describe("grouping a run's transitions as they stream by", () => {
  const change = (advisoryId: string, to: string): LedgerTransition =>
    ({ advisory_id: advisoryId, from_state: null, to_state: to, rule_id: `rule_${to}` }) as LedgerTransition;

  it("counts every transition but keeps only each group's first ids, in id order", () => {
    const grouper = new TransitionGrouper(3);
    // Descending ids, so the first ones kept must be found among the last ones added.
    for (let index = 999; index >= 0; index -= 1) {
      grouper.add(
        change(`pkg:CVE-2024-${String(index).padStart(4, "0")}`, index % 10 === 0 ? "wont_fix" : "fixed"),
      );
    }
    expect(grouper.count).toBe(1000);
    expect(grouper.groups()).toEqual([
      {
        from: null,
        to: "fixed",
        rule: "rule_fixed",
        count: 900,
        advisories: ["pkg:CVE-2024-0001", "pkg:CVE-2024-0002", "pkg:CVE-2024-0003"],
      },
      {
        from: null,
        to: "wont_fix",
        rule: "rule_wont_fix",
        count: 100,
        advisories: ["pkg:CVE-2024-0000", "pkg:CVE-2024-0010", "pkg:CVE-2024-0020"],
      },
    ]);
  });
});

describe("the advisory data the site builds from the published file", () => {
  let output: string;
  const runId = "20260301T060000Z";

  const advisory = (id: string, state: string, sources: string[]): PublishedAdvisory =>
    ({
      advisory_id: id,
      package_name: id.split(":")[0],
      cve_id: id.split(":")[1],
      state,
      reason_code: `${state}_reason`,
      fixed_version: state === "fixed" ? "1.0-1" : null,
      explanation: `${id} is ${state}.`,
      evidence: sources.map((source) => ({ source })),
    }) as unknown as PublishedAdvisory;
  const advisories = [
    advisory("zlib:CVE-2024-0003", "wont_fix", ["nvd", "echo_data"]),
    advisory("curl:CVE-2024-0001", "fixed", ["echo_data", "debian_tracker"]),
    advisory("bash:CVE-2024-0002", "fixed", []),
  ];
  const members = [
    ["generated_at", "2026-03-01T06:00:00.000Z"],
    ["advisory_count", 3],
  ] as const;
  const transitionOf = (id: string, to: string) =>
    ({
      run_id: runId,
      as_of: "2026-03-01T06:00:00.000Z",
      advisory_id: id,
      from_state: null,
      to_state: to,
      state_type: "final",
      rule_id: "vendor_fixed_version",
      reason_code: "fix_available",
      fixed_version: null,
      unaffected_from_version: null,
      confidence: 0.9,
      deciding_source: "echo_data",
      evidence: {
        signal: "fixed",
        version: null,
        reason: null,
        release: null,
        record: null,
        date: null,
        fetched_at: null,
        stale: false,
      },
      contributing_sources: ["echo_data"],
      dissenting_sources: [],
    }) as LedgerTransition;

  beforeEach(async () => {
    output = await mkdtemp(join(tmpdir(), "echo-site-data-"));
    await mkdir(join(output, "history", "transitions"), { recursive: true });
    await writeFile(
      join(output, "history", "transitions", `${runId}.jsonl`),
      serialiseLedger([
        transitionOf("curl:CVE-2024-0001", "fixed"),
        transitionOf("zlib:CVE-2024-0003", "wont_fix"),
      ]),
    );
    vi.stubEnv("ECHO_OUTPUT_DIR", output);
    vi.resetModules();
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await rm(output, { recursive: true, force: true });
  });

  const load = async () => (await import("../../site/src/lib/advisories.ts")).loadAdvisoryData();

  it("is the same read a line at a time (the pipeline's layout) as parsed whole (any other layout)", async () => {
    const path = join(output, "advisory_current.json");
    await writeFile(
      path,
      ListedDocument.serialise(
        members,
        "advisories",
        advisories.map((item) => JSON.stringify(item)),
      ),
    );
    const listed = await load();
    vi.resetModules();
    await writeFile(path, JSON.stringify({ ...Object.fromEntries(members), advisories }, null, 2));
    const pretty = await load();

    for (const data of [listed, pretty]) {
      expect(data.index).toEqual({
        columns: [...indexColumns],
        generated_at: "2026-03-01T06:00:00.000Z",
        states: ["fixed", "wont_fix"],
        reasons: ["fixed_reason", "wont_fix_reason"],
        sources: ["debian_tracker", "echo_data", "nvd"],
        rows: [
          ["zlib:CVE-2024-0003", 1, 1, 0b110, null],
          ["curl:CVE-2024-0001", 0, 0, 0b011, "1.0-1"],
          ["bash:CVE-2024-0002", 0, 0, 0, "1.0-1"],
        ],
      });
      expect(data.texts).toEqual(advisories.map((item) => item.explanation));
      const text = await data.readShard(shardOf("curl:CVE-2024-0001"));
      // Put together as text, it is byte for byte what serialising the objects gives.
      const ledger = await readLedger(join(output, "history"));
      const expected: Record<string, unknown> = {};
      for (const item of advisories.filter(
        (candidate) => shardOf(candidate.advisory_id) === shardOf("curl:CVE-2024-0001"),
      )) {
        const timeline = ledger
          .flatMap((file) => file.transitions)
          .filter((transition) => transition.advisory_id === item.advisory_id)
          .map(
            ({ advisory_id: _id, contributing_sources: _agree, dissenting_sources: _dissent, ...entry }) =>
              entry,
          );
        expected[item.advisory_id] = { ...item, timeline };
      }
      expect(text).toBe(JSON.stringify(expected));
      const shard = JSON.parse(text) as Record<string, AdvisoryDetail>;
      expect(shard["curl:CVE-2024-0001"]).toEqual({
        ...advisories[1],
        timeline: [
          expect.objectContaining({ run_id: runId, to_state: "fixed", reason_code: "fix_available" }),
        ],
      });
      expect(shard["curl:CVE-2024-0001"]?.timeline[0]).not.toHaveProperty("advisory_id");
      expect(shard["curl:CVE-2024-0001"]?.timeline[0]).not.toHaveProperty("contributing_sources");
    }
  });

  it("names the file and line when the published file breaks off part way", async () => {
    const path = join(output, "advisory_current.json");
    const whole = ListedDocument.serialise(
      members,
      "advisories",
      advisories.map((item) => JSON.stringify(item)),
    );
    await writeFile(path, whole.slice(0, whole.lastIndexOf("bash:") + 10));
    await expect(load()).rejects.toThrow(`${path}: line 7: not one item as JSON`);
  });

  it("refuses an advisory listed twice, naming the line, rather than publish two of it", async () => {
    const path = join(output, "advisory_current.json");
    const lines = [...advisories, advisories[1]].map((item) => JSON.stringify(item));
    await writeFile(path, ListedDocument.serialise([...members], "advisories", lines));
    await expect(load()).rejects.toThrow(`${path}: line 8: advisory curl:CVE-2024-0001 is listed twice`);
  });

  it("has no advisories before the first published run", async () => {
    const data = await load();
    expect(data.index.rows).toEqual([]);
    expect(data.index.generated_at).toBeNull();
    expect(await data.readShard("00")).toBe("{}");
  });
});
