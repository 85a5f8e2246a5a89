import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readZipEntries } from "../../pipeline/sources/osv/zip.ts";
import { enabledAdapters } from "../../pipeline/sources/registry.ts";
import type { FetchItem } from "../../pipeline/sources/types.ts";
import type { UpstreamObservation } from "../../pipeline/sources/upstream.ts";
import { loadConfig } from "../../pipeline/stages/config.ts";
import { generateDataset, type Manifest } from "../../tools/generate/index.ts";
import { buildModel, isVendorCve, OtherCve } from "../../tools/generate/model.ts";
import {
  NOT_APPLICABLE_SCENARIOS,
  NVD_FULL_RECORDS,
  TEMP_ID_ADVISORIES,
  VENDOR_ADVISORIES,
  VENDOR_OPEN_ADVISORIES,
  VENDOR_PACKAGES,
} from "../../tools/synthetic/proportions.ts";
import { testFetchContext } from "../helpers/context.ts";
import { observations, rejections } from "../helpers/items.ts";
import { repoRoot } from "../helpers/workspace.ts";

const generateCli = join(repoRoot, "tools/generate/generate.ts");
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "echo-generate-test-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Every file under `directory` with its bytes, keyed by path relative to it. */
async function filesUnder(directory: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(path.slice(directory.length + 1), await readFile(path));
  }
  return files;
}

/** Runs every source adapter the generated config.yaml enables, as the ingest stage would. */
async function fetchAll(configPath: string) {
  const config = await loadConfig(configPath);
  const dataJson = JSON.parse(await readFile(config.sources.echo_data.location, "utf8")) as Record<
    string,
    Record<string, unknown>
  >;
  const context = testFetchContext({
    packages: new Set(Object.keys(dataJson)),
    vulnIds: new Set(Object.values(dataJson).flatMap((entries) => Object.keys(entries))),
  });
  const items: Record<string, FetchItem<unknown>[]> = {};
  for (const adapter of enabledAdapters(config)) {
    const collected: FetchItem<unknown>[] = [];
    for await (const item of adapter.fetch(context)) collected.push(item);
    items[adapter.name] = collected;
  }
  return items;
}

const upstream = (items: FetchItem<unknown>[] | undefined) =>
  observations(items ?? []) as UpstreamObservation[];

describe("generate: determinism and formats at a tiny scale", () => {
  let first: string;
  let manifest: Manifest;

  beforeAll(async () => {
    first = join(scratch, "tiny-a");
    manifest = await generateDataset({ scale: 0.002, seed: 7, outDir: first });
  });

  it("gives byte-identical files for the same scale and seed, and different ones for another seed", async () => {
    const again = join(scratch, "tiny-b");
    await generateDataset({ scale: 0.002, seed: 7, outDir: again });
    const a = await filesUnder(first);
    const b = await filesUnder(again);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [path, bytes] of a) expect(bytes.equals(b.get(path) as Buffer), path).toBe(true);
    expect([...a.keys()]).toEqual(
      expect.arrayContaining([
        "data.json",
        "advisory_not_applicable.csv",
        "debian_tracker.json",
        "osv/all.zip",
        "config.yaml",
        "manifest.json",
      ]),
    );

    const other = join(scratch, "tiny-other-seed");
    await generateDataset({ scale: 0.002, seed: 8, outDir: other });
    const c = await filesUnder(other);
    for (const name of ["data.json", "debian_tracker.json", "osv/all.zip"]) {
      expect(c.get(name)?.equals(a.get(name) as Buffer), name).toBe(false);
    }
  });

  it("writes a manifest whose counts and digests match the files", async () => {
    expect(manifest.parameters).toEqual({ scale: 0.002, seed: 7 });
    expect(manifest.counts.advisories).toBe(Math.round(VENDOR_ADVISORIES * 0.002));
    const dataJson = await readFile(join(first, "data.json"));
    const entry = manifest.files.find((file) => file.path === "data.json");
    expect(entry?.bytes).toBe(dataJson.byteLength);
    expect(entry?.sha256).toBe(createHash("sha256").update(dataJson).digest("hex"));
    expect(JSON.parse(await readFile(join(first, "manifest.json"), "utf8"))).toEqual(manifest);
    // No temporary file is left behind.
    expect([...(await filesUnder(first)).keys()].filter((path) => path.includes(".tmp"))).toEqual([]);
  });

  it("holds the same OSV records in the directory and in all.zip", async () => {
    const directory = new Map<string, Buffer>();
    for (const name of (await readdir(join(first, "osv/records"))).sort()) {
      directory.set(name, await readFile(join(first, "osv/records", name)));
    }
    const archive = new Map<string, Buffer>();
    for await (const entry of readZipEntries(join(first, "osv/all.zip"))) {
      expect(entry.kind).toBe("entry");
      if (entry.kind === "entry") archive.set(entry.name, entry.bytes);
    }
    expect(archive.size).toBe(manifest.counts.osv_records);
    expect([...archive.keys()].sort()).toEqual([...directory.keys()]);
    for (const [name, bytes] of archive) expect(bytes.equals(directory.get(name) as Buffer), name).toBe(true);
  });
});

describe("generate: the project's adapters accept every file, in the measured proportions", () => {
  const scale = 0.05;
  let outDir: string;
  let manifest: Manifest;
  let items: Record<string, FetchItem<unknown>[]>;

  beforeAll(async () => {
    outDir = join(scratch, "small");
    manifest = await generateDataset({ scale, seed: 42, outDir });
    items = await fetchAll(join(outDir, "config.yaml"));
  });

  it("is read by every source adapter without a single rejection", () => {
    for (const source of ["echo_data", "echo_csv", "debian_tracker", "osv", "nvd"]) {
      expect(rejections(items[source] ?? []), source).toEqual([]);
      expect(observations(items[source] ?? []).length, source).toBeGreaterThan(0);
    }
    expect(observations(items.echo_data ?? [])).toHaveLength(manifest.counts.advisories);
    expect(observations(items.echo_csv ?? [])).toHaveLength(manifest.counts.not_applicable_rows);
  });

  it("keeps the vendor's proportions: open, TEMP ids, not-applicable rows, package count", () => {
    const advisories = observations(items.echo_data ?? []) as {
      vuln_id: string;
      fixed_version: string | null;
      package_name: string;
    }[];
    const share = (count: number) => count / advisories.length;
    expect(advisories.length).toBe(Math.round(VENDOR_ADVISORIES * scale));
    expect(new Set(advisories.map((advisory) => advisory.package_name)).size).toBeLessThanOrEqual(
      Math.round(VENDOR_PACKAGES * scale),
    );
    expect(share(advisories.filter((advisory) => advisory.fixed_version === null).length)).toBeCloseTo(
      VENDOR_OPEN_ADVISORIES / VENDOR_ADVISORIES,
      2,
    );
    expect(share(advisories.filter((advisory) => advisory.vuln_id.startsWith("TEMP-")).length)).toBeCloseTo(
      TEMP_ID_ADVISORIES / VENDOR_ADVISORIES,
      2,
    );
    expect(share(observations(items.echo_csv ?? []).length)).toBeCloseTo(1_969 / VENDOR_ADVISORIES, 2);
    // Every not-applicable row names an advisory with a vendor fixed version, as in the real feed.
    const fixedPairs = new Set(
      advisories
        .filter((advisory) => advisory.fixed_version !== null)
        .map((advisory) => `${advisory.package_name}:${advisory.vuln_id}`),
    );
    for (const row of observations(items.echo_csv ?? []) as { package_name: string; cve_id: string }[]) {
      expect(fixedPairs.has(`${row.package_name}:${row.cve_id}`)).toBe(true);
    }
  });

  it("has every upstream signal: rejected and disputed CVEs, withdrawals and each tracker verdict", () => {
    const signals = (source: string) =>
      new Set(upstream(items[source]).map((observation) => observation.signal));
    expect([...signals("nvd")].sort()).toEqual(["disputed", "rejected", "undetermined"]);
    expect([...signals("osv")].sort()).toEqual(["fixed", "open", "withdrawn"]);
    expect([...signals("debian_tracker")].sort()).toEqual(
      ["end_of_life", "fixed", "ignored", "not_affected", "open", "postponed", "undetermined"].sort(),
    );
    const nvd = upstream(items.nvd);
    const rejectedShare = nvd.filter((observation) => observation.signal === "rejected").length / nvd.length;
    const disputedShare = nvd.filter((observation) => observation.signal === "disputed").length / nvd.length;
    expect(rejectedShare).toBeGreaterThan(0);
    expect(rejectedShare).toBeLessThan(0.03);
    expect(disputedShare).toBeGreaterThan(0.02);
    expect(disputedShare).toBeLessThan(0.08);
    // NVD answers for every CVE the vendor lists (TEMP ids have no NVD record).
    const listed = new Set(upstream(items.nvd).map((observation) => observation.vuln_id));
    for (const advisory of observations(items.echo_data ?? []) as { vuln_id: string }[]) {
      if (advisory.vuln_id.startsWith("CVE-"))
        expect(listed.has(advisory.vuln_id), advisory.vuln_id).toBe(true);
    }
  });

  it("has conflicting sources: the CSV against Debian's fix, Debian against OSV", () => {
    const key = (observation: { package_name: string | null; vuln_id: string }) =>
      `${observation.package_name}:${observation.vuln_id}`;
    const trackerBookworm = new Map(
      upstream(items.debian_tracker)
        .filter((observation) => observation.release === "bookworm")
        .map((observation) => [key(observation), observation]),
    );
    const csvAgainstDebianFix = (
      observations(items.echo_csv ?? []) as { package_name: string; cve_id: string }[]
    ).filter((row) => trackerBookworm.get(`${row.package_name}:${row.cve_id}`)?.signal === "fixed");
    const csvShare = csvAgainstDebianFix.length / observations(items.echo_csv ?? []).length;
    expect(csvShare).toBeGreaterThan(NOT_APPLICABLE_SCENARIOS.tracker_fixed - 0.15);
    expect(csvShare).toBeLessThan(NOT_APPLICABLE_SCENARIOS.tracker_fixed + 0.15);
    const osvBookworm = upstream(items.osv).filter((observation) => observation.release === "bookworm");
    const disagreements = osvBookworm.filter((observation) => {
      const debian = trackerBookworm.get(key(observation));
      return (
        debian?.signal === "fixed" &&
        (observation.signal !== "fixed" || observation.fixed_version !== debian.fixed_version)
      );
    });
    expect(disagreements.some((observation) => observation.signal === "open")).toBe(true);
    expect(disagreements.some((observation) => observation.signal === "fixed")).toBe(true);
    expect(manifest.scenarios["open/tracker_fixed_osv_open"]).toBeGreaterThan(0);
  });
});

describe("generate: sizes", () => {
  it("is the vendor's real size at scale 1 and has a full-size NVD at scale 25", () => {
    const one = buildModel({ scale: 1, seed: 1 });
    expect(one.advisoryVuln.length).toBe(VENDOR_ADVISORIES);
    expect(one.vendorPackages).toBe(VENDOR_PACKAGES);
    expect(one.advisoryVuln.filter((vuln) => vuln < 0).length).toBe(TEMP_ID_ADVISORIES);

    const full = buildModel({ scale: 25, seed: 1 });
    expect(full.advisoryVuln.length).toBe(VENDOR_ADVISORIES * 25);
    let inNvd = 0;
    for (let cve = 0; cve < full.universe.size; cve += 1) {
      if (isVendorCve(full, cve) || full.otherCvePackage[cve] !== OtherCve.notIncluded) inNvd += 1;
    }
    expect(inNvd).toBe(NVD_FULL_RECORDS);
  });
});

describe("generate: command line", () => {
  const run = (args: string[]) => execa(process.execPath, [generateCli, ...args], { reject: false });

  it("rejects bad arguments with exit code 2, naming the option", async () => {
    const cases: [string[], RegExp][] = [
      [["--scale", "abc", "--out", scratch], /--scale must be a number, got "abc"/],
      [["--scale", "0", "--out", scratch], /--scale must be a number above 0/],
      [["--scale", "1000", "--out", scratch], /--scale must be a number above 0 and at most 100/],
      [["--scale", "1", "--seed", "1.5", "--out", scratch], /--seed must be an integer from 0 to 4294967295/],
      [["--scale", "1", "--seed=-3", "--out", scratch], /--seed must be an integer/],
      [["--scale", "1", "--seed", "-3", "--out", scratch], /Option '--seed' argument is ambiguous/],
      [["--scale", "1"], /--out is required/],
      [["--out", scratch], /--scale is required/],
      [["--scale", "1", "--out", scratch, "--colour"], /Unknown option '--colour'/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((result, index) => {
      const [args, message] = cases[index] as [string[], RegExp];
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr).toContain("Usage: npm run generate");
    });
    const help = await run(["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--scale <N>");
  });

  it("generates a tiny dataset the pipeline runs on end to end", async () => {
    const outDir = join(scratch, "end-to-end");
    const generated = await run(["--scale", "0.002", "--seed", "3", "--out", outDir]);
    expect(generated.exitCode, generated.stderr).toBe(0);
    expect(generated.stdout).toMatch(/data\.json\s+81 records/);
    expect(generated.stdout).toContain(`--config ${outDir}/config.yaml`);

    const pipeline = await execa(
      process.execPath,
      [
        join(repoRoot, "pipeline/cli.ts"),
        "--config",
        join(outDir, "config.yaml"),
        "--as-of",
        "2026-03-01T00:00:00Z",
      ],
      {
        reject: false,
        env: { ECHO_LOG_FORMAT: "json" },
      },
    );
    expect(pipeline.exitCode, pipeline.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(await readFile(join(outDir, "output/run_summary.json"), "utf8")) as {
      advisory_count: number;
      state_distribution: { state: string; count: number }[];
    };
    expect(summary.advisory_count).toBe(81);
    const states = new Set(summary.state_distribution.map((entry) => entry.state));
    expect(states).toContain("fixed");
    expect(states).toContain("not_applicable");
    const current = JSON.parse(await readFile(join(outDir, "output/advisory_current.json"), "utf8")) as {
      advisories: unknown[];
    };
    expect(current.advisories).toHaveLength(81);
  });
});
