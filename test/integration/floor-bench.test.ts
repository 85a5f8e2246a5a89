import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  compareWithMeasured,
  type FloorBenchFigures,
  type FloorCaseFigures,
  floorBenchTable,
  runFloorJob,
  statesAgreement,
} from "../../tools/bench/floor-bench.ts";
import {
  type FloorInputs,
  inflateZip,
  measureFloorCase,
  measureTracker,
} from "../../tools/bench/floor-measure.ts";
import { buildZip } from "../../tools/synthetic/zip.ts";
import { repoRoot } from "../helpers/workspace.ts";

// The floor section of the benchmark (tools/bench/floor-*.ts) on test/fixtures/floor/: what it reads
// and counts, and how its table sets measured figures against it. Its speed is the benchmark's business.

const fixtures = join(repoRoot, "test/fixtures/floor");
const inputs: FloorInputs = {
  dataJson: join(fixtures, "data.json"),
  csv: join(fixtures, "advisory_not_applicable.csv"),
  nvdDir: join(fixtures, "nvd"),
  osvDir: join(fixtures, "osv"),
};

const countsOf = (result: { steps: { step: string; counts: Record<string, number> }[] }) =>
  Object.fromEntries(result.steps.map((step) => [step.step, step.counts]));

describe("the floor's reading and counting", () => {
  it("gives each advisory the state of the first rule that can match without upstream records", async () => {
    const result = await measureFloorCase({ dataJson: inputs.dataJson, csv: inputs.csv });
    // A CSV row wins over a fixed version (openssl CVE-2024-0003, zlib CVE-2022-0200); an empty
    // fixed_version is no fix (curl CVE-2023-0100); zlib CVE-2022-0200's two CSV rows make one advisory.
    expect(result.states).toEqual({ advisories: 8, not_applicable: 3, fixed: 2, under_investigation: 3 });
    expect(countsOf(result)).toEqual({
      "data.json": { advisories: 8, without_fixed_version: 4 },
      "not-applicable CSV": { rows: 5, rows_naming_no_advisory: 1 },
      "states, no upstream signal": { advisories: 8, not_applicable: 3, fixed: 2, under_investigation: 3 },
    });
  });

  it("reads every record of the NVD pages and the OSV folder", async () => {
    const counts = countsOf(await measureFloorCase(inputs));
    expect(counts["NVD pages"]).toEqual({ records: 4, rejected: 1 });
    expect(counts["OSV records (folder)"]).toEqual({ records: 3, withdrawn: 1 });
  });

  it("reads the Debian tracker's entries and their releases, an empty releases list among them", async () => {
    const result = await measureTracker(join(fixtures, "debian_tracker.json"));
    expect(result.states).toBeNull();
    expect(countsOf(result)).toEqual({ "Debian tracker JSON": { entries: 3, release_entries: 3 } });
  });
});

describe("the OSV zip's inflation", () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "echo-floor-test-"));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("counts the JSON entries and their inflated bytes, skipping others", async () => {
    const zip = join(scratch, "all.zip");
    const record = '{"id":"DEBIAN-CVE-2024-0002"}';
    await writeFile(
      zip,
      buildZip([
        { name: "DEBIAN-CVE-2024-0002.json", data: record },
        { name: "DSA-5900-1.json", data: record.repeat(3), method: 0 },
        { name: "README.txt", data: "not a record" },
      ]),
    );
    expect(countsOf(await inflateZip(zip))).toEqual({
      "OSV all.zip inflated (yauzl)": { entries: 2, bytes: record.length * 4 },
    });
  });
});

describe("a floor job in its own process", () => {
  it("reports the same counts, its time and the process's peak RSS", async () => {
    const figures = await runFloorJob("fixture", { kind: "duckdb", inputs });
    expect(figures.label).toBe("fixture");
    expect(figures.duckdb).toMatch(/^v\d+\.\d+/);
    expect(figures.states).toEqual({ advisories: 8, not_applicable: 3, fixed: 2, under_investigation: 3 });
    expect(figures.wall_seconds).toBeGreaterThan(0);
    // Node and DuckDB's library alone take tens of megabytes.
    expect(figures.peak_rss_mb).toBeGreaterThan(20);
  });

  it("fails with the child's error when an input is missing", async () => {
    await expect(
      runFloorJob("missing", {
        kind: "duckdb",
        inputs: { ...inputs, dataJson: join(fixtures, "absent.json") },
      }),
    ).rejects.toThrow(/missing: the floor run failed \(exit 1\).*absent\.json/s);
  });
});

const floorCase = (label: string, seconds: number, rss: number, withStates = true): FloorCaseFigures => ({
  label,
  duckdb: "v1.5.6",
  steps: [],
  states: withStates ? { advisories: 10, not_applicable: 1, fixed: 7, under_investigation: 2 } : null,
  wall_seconds: seconds,
  peak_rss_mb: rss,
});

const measuredRun = (seconds: number, rss: number) => ({ wall_seconds: seconds, peak_rss_mb: rss });

describe("the comparison with the other sections' figures", () => {
  const real = floorCase("(a) real data", 0.5, 100);
  const generated = floorCase("(b) generated ×25", 20, 800);
  const previous = {
    pipeline_real_data: {
      measured_at: "2026-01-01T00:00:00Z",
      runs: [measuredRun(14, 600), measuredRun(4.2, 580)],
      sites: [{ build_seconds: 4.5, peak_rss_mb: 1000 }],
    },
    pipeline_generated: {
      scale: 5,
      measured_at: "2026-01-01T00:00:00Z",
      runs: [measuredRun(60, 1500)],
      sites: [{ build_seconds: 12, peak_rss_mb: 2000 }],
    },
  };

  it("sets each measured case against the floor of its data, and leaves out another scale's", () => {
    const comparisons = compareWithMeasured(real, generated, 25, previous);
    expect(
      comparisons.map((row) => [row.case, row.floor_seconds, row.measured_seconds, row.measured_peak_rss_mb]),
    ).toEqual([
      ["real data, new database", 0.5, 14, 600],
      ["real data, nothing changed", 0.5, 4.2, 580],
      ["×25, new database", 20, null, null],
      ["site, real data", 0.5, 4.5, 1000],
      ["site, ×25", 20, null, null],
    ]);
    expect(comparisons[2]?.note).toBe("output/bench.json has pipeline_generated at ×5, not ×25");
    expect(comparisons.map((row) => row.target)).toEqual([
      "≤ 6 s",
      "≤ 3 s",
      "≤ 120 s, ≤ 2 GB",
      "≤ 4 s, ≤ 500 MB",
      "≤ 30 s, ≤ 1 GB",
    ]);
  });

  it("compares the same scale's figures, and none when nothing was measured", () => {
    const sameScale = compareWithMeasured(real, generated, 5, previous);
    expect(sameScale[2]).toMatchObject({ case: "×5, new database", measured_seconds: 60 });
    expect(sameScale[4]).toMatchObject({ case: "site, ×5", measured_seconds: 12 });
    const nothing = compareWithMeasured(real, generated, 25, {});
    expect(nothing.every((row) => row.measured_seconds === null && row.note !== undefined)).toBe(true);
  });

  it("prints the ratios and the states beside the pipeline's", () => {
    const figures: FloorBenchFigures = {
      duckdb: "v1.5.6",
      node: "v24.0.0",
      measured_at: "2026-01-01T00:00:00Z",
      scale: 25,
      seed: 7,
      generate_seconds: null,
      cases: {
        real,
        generated,
        tracker: floorCase("(b) ×25: Debian tracker", 14, 3000, false),
        osv_zip: floorCase("(b) ×25: OSV all.zip, no DuckDB", 9, 700, false),
      },
      generated_manifest: {},
      pipeline_states: { not_applicable: 1, fixed: 7, under_investigation: 1, pending_upstream: 1 },
      comparisons: compareWithMeasured(real, generated, 25, previous),
    };
    const table = floorBenchTable(figures);
    // 14 s over 0.5 s, 600 MB over 100 MB; 4.2 s over 0.5 s.
    expect(table).toMatch(/real data, new database +0\.50 s +100 MB +14\.0 s +600 MB +28× +6\.0× +≤ 6 s/);
    expect(table).toMatch(/real data, nothing changed .* 8\.4× /);
    expect(table).toMatch(/×25, new database +20\.00 s +800 MB +– +– +– +– +≤ 120 s, ≤ 2 GB/);
    expect(table).toMatch(/pending_upstream +0 +1/);
    expect(table).toContain("pipeline minus floor: under_investigation -1, pending_upstream +1");
  });
});

describe("statesAgreement", () => {
  it("says when the floor and the pipeline agree", () => {
    const floor = { advisories: 3, not_applicable: 1, fixed: 1, under_investigation: 1 };
    expect(statesAgreement(floor, { not_applicable: 1, fixed: 1, under_investigation: 1 })).toContain(
      "agree",
    );
    expect(statesAgreement(floor, { not_applicable: 1, fixed: 2 })).toContain(
      "pipeline minus floor: fixed +1, under_investigation -1",
    );
  });
});
