import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import { type Database, openDatabase, withDatabase } from "../../pipeline/lib/db.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { runPipeline } from "../../pipeline/run.ts";
import { enabledAdapters } from "../../pipeline/sources/registry.ts";
import type { Rejection } from "../../pipeline/sources/types.ts";
import { loadConfig, parseConfig } from "../../pipeline/stages/config.ts";
import { type IngestedSource, ingestSources } from "../../pipeline/stages/ingest.ts";
import { buildZip, type ZipEntrySpec } from "../../tools/synthetic/zip.ts";
import { fileGenerators, zipGenerators } from "../corpus/generators.ts";
import {
  type AdvisoryCurrent,
  createWorkspace,
  decisions,
  repoRoot,
  type Workspace,
} from "../helpers/workspace.ts";

/*
 * Every case of test/corpus/cases.yaml through the real pipeline. Config cases run the CLI against a
 * workspace with a published run and must leave its outputs byte for byte as they were. Source cases are
 * ingested by the real config → registry → ingest path (fast, no dbt); then two full runs put them all
 * through dbt at once: one with every quarantinable record, one with every source failing.
 */

const corpusDir = join(repoRoot, "test/corpus");
/** Each upstream source's bundled sample (its mock data). */
const mockOf = (source: string) => join(repoRoot, "pipeline/sources", source, "mock");

type InputKind =
  | "data_json"
  | "overrides_csv"
  | "config"
  | "debian_tracker"
  | "osv_record"
  | "osv_zip"
  | "nvd_page"
  | "kev_catalogue";

interface ExpectedRejection {
  key?: string;
  line?: number;
  reason: string;
}

interface CorpusCase {
  id: string;
  input: InputKind;
  file?: string;
  generator?: string;
  zip?: string;
  /** nvd_page: `alone` makes the file the whole NVD location instead of one file among the sample's. */
  placement?: "alone";
  expect:
    | { outcome: "error"; exit_code: number; line?: number; key?: string; message: string[] }
    | { outcome: "source_failed"; line?: number; key?: string; message: string[] }
    | { outcome: "quarantined"; rejections: ExpectedRejection[] }
    | { outcome: "accepted"; observations?: number };
}

const cases = (parseYaml(await readFile(join(corpusDir, "cases.yaml"), "utf8")) as { cases: CorpusCase[] })
  .cases;
const configCases = cases.filter((corpusCase) => corpusCase.input === "config");
const sourceCases = cases.filter((corpusCase) => corpusCase.input !== "config");
const quarantinedCases = sourceCases.filter((corpusCase) => corpusCase.expect.outcome === "quarantined");

const sourceOf: Record<Exclude<InputKind, "config">, string> = {
  data_json: "echo_data",
  overrides_csv: "echo_csv",
  debian_tracker: "debian_tracker",
  osv_record: "osv",
  osv_zip: "osv",
  nvd_page: "nvd",
  kev_catalogue: "kev",
};

const extensionOf: Record<InputKind, string> = {
  data_json: ".json",
  overrides_csv: ".csv",
  config: ".yaml",
  debian_tracker: ".json",
  osv_record: ".json",
  osv_zip: ".zip",
  nvd_page: ".json",
  kev_catalogue: ".json",
};

/** Where each input of a run is read from. */
interface Locations {
  dataJson: string;
  csv: string;
  tracker: string;
  osv: string;
  nvd: string;
  kev: string;
}

/** Relative database and output, so a copied workspace runs on its own copies. */
function configText(locations: Locations): string {
  return `database: state/echo-advisory.duckdb
output_dir: output
dbt:
  project_dir: ${JSON.stringify(join(repoRoot, "dbt_project"))}
  executable: ${JSON.stringify(join(repoRoot, "dbt_project/.venv/bin/dbt"))}
sources:
  echo_data:
    location: ${JSON.stringify(locations.dataJson)}
  echo_csv:
    location: ${JSON.stringify(locations.csv)}
  debian_tracker:
    enabled: true
    mode: file
    location: ${JSON.stringify(locations.tracker)}
  osv:
    enabled: true
    mode: file
    location: ${JSON.stringify(locations.osv)}
  nvd:
    enabled: true
    mode: file
    location: ${JSON.stringify(locations.nvd)}
  kev:
    enabled: true
    mode: file
    location: ${JSON.stringify(locations.kev)}
report:
  list_limit: 1000
`;
}

/** Every file under `directory` with the SHA-256 of its bytes, by relative path. */
async function fingerprint(directory: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[relative(directory, path)] = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
  }
  return files;
}

/** The text between a JSON document's outer braces, to splice several documents' members into one. */
function objectMembers(text: string): string {
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  expect(trimmed.startsWith("{") && trimmed.endsWith("}"), "a top-level object").toBe(true);
  return trimmed.slice(1, -1).trim();
}

function spliceObjects(texts: readonly string[]): string {
  return `{\n${texts
    .map(objectMembers)
    .filter((members) => members !== "")
    .join(",\n")}\n}\n`;
}

function matches(rejection: Rejection, expected: ExpectedRejection, withLine = true): boolean {
  return (
    (expected.key === undefined || rejection.location.key === expected.key) &&
    (!withLine || expected.line === undefined || rejection.location.line === expected.line) &&
    rejection.reason.includes(expected.reason)
  );
}

let workspace: Workspace;
let scratch: string;
let baseline: Locations;
let published: Record<string, string>;
let before: AdvisoryCurrent;
let db: Database;
const asOf = "2026-03-02T00:00:00Z";

/** The case's file: checked in, or generated into the scratch folder once. */
const materialised = new Map<string, string>();
async function casePath(corpusCase: CorpusCase): Promise<string> {
  if (corpusCase.file) return join(corpusDir, corpusCase.file);
  const known = materialised.get(corpusCase.id);
  if (known) return known;
  const path = join(scratch, "generated", `${corpusCase.id}${extensionOf[corpusCase.input]}`);
  await mkdir(join(scratch, "generated"), { recursive: true });
  if (corpusCase.zip) {
    const build = zipGenerators[corpusCase.zip];
    if (!build) throw new Error(`no zip generator ${corpusCase.zip}`);
    await writeFile(path, buildZip(build()));
  } else {
    const build = corpusCase.generator ? fileGenerators[corpusCase.generator] : undefined;
    if (!build) throw new Error(`case ${corpusCase.id} names no file, generator or zip`);
    await writeFile(path, build());
  }
  materialised.set(corpusCase.id, path);
  return path;
}

/** A directory holding copies of `sources`' *.json files and the extra files, under their own names. */
async function directoryWith(directory: string, sources: string, extra: readonly string[]): Promise<string> {
  await mkdir(directory, { recursive: true });
  for (const name of await readdir(sources)) await cp(join(sources, name), join(directory, name));
  for (const path of extra) await cp(path, join(directory, basename(path)));
  return directory;
}

/** The run's locations with this case's file in place of (or, for single records, beside) the baseline. */
async function locationsFor(corpusCase: CorpusCase, directory: string): Promise<Locations> {
  const path = await casePath(corpusCase);
  switch (corpusCase.input) {
    case "data_json":
      return { ...baseline, dataJson: path };
    case "overrides_csv":
      return { ...baseline, csv: path };
    case "debian_tracker":
      return { ...baseline, tracker: path };
    case "osv_record":
      return { ...baseline, osv: await directoryWith(join(directory, "osv"), baseline.osv, [path]) };
    case "osv_zip":
      return { ...baseline, osv: path };
    case "nvd_page":
      return {
        ...baseline,
        nvd:
          corpusCase.placement === "alone"
            ? path
            : await directoryWith(join(directory, "nvd"), baseline.nvd, [path]),
      };
    case "kev_catalogue":
      return { ...baseline, kev: path };
    case "config":
      throw new Error("config cases replace the whole configuration");
  }
}

beforeAll(async () => {
  workspace = await createWorkspace();
  scratch = await mkdtemp(join(tmpdir(), "echo-advisory-corpus-"));
  baseline = {
    dataJson: await workspace.input(
      "data.json",
      await readFile(join(repoRoot, "test/fixtures/sample/data.json")),
    ),
    csv: await workspace.input(
      "na.csv",
      await readFile(join(repoRoot, "test/fixtures/sample/advisory_not_applicable.csv")),
    ),
    tracker: await workspace.input(
      "debian_tracker.json",
      await readFile(join(mockOf("debian_tracker"), "tracker.json")),
    ),
    osv: await directoryWith(join(workspace.dir, "input/osv"), mockOf("osv"), []),
    nvd: await directoryWith(join(workspace.dir, "input/nvd"), mockOf("nvd"), []),
    kev: await workspace.input(
      "known_exploited_vulnerabilities.json",
      await readFile(join(mockOf("kev"), "known_exploited_vulnerabilities.json")),
    ),
  };
  await writeFile(workspace.configPath, configText(baseline));
  const first = await workspace.run(["--as-of", "2026-03-01T00:00:00Z"]);
  expect(first.exitCode, first.stderr).toBe(0);
  published = await fingerprint(workspace.outputDir);
  before = await workspace.readAdvisoryCurrent();
  // Ingest-level checks read the published run's state (vendor packages, open advisories) from a copy.
  await cp(join(workspace.dir, "state"), join(scratch, "state"), { recursive: true });
  db = await openDatabase(join(scratch, "state/echo-advisory.duckdb"));
});

afterAll(async () => {
  db?.close();
  await workspace?.cleanup();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("the corpus", () => {
  it("has at least 40 cases, each with a file and an expected outcome", async () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((corpusCase) => corpusCase.id)).size).toBe(cases.length);
    for (const kind of Object.keys(extensionOf)) {
      expect(cases.some((corpusCase) => corpusCase.input === kind)).toBe(true);
    }
    for (const corpusCase of cases) {
      expect([corpusCase.file, corpusCase.generator, corpusCase.zip].filter(Boolean)).toHaveLength(1);
      expect(["error", "source_failed", "quarantined", "accepted"]).toContain(corpusCase.expect.outcome);
    }
  });
});

describe.each(configCases)("config case $id", (corpusCase) => {
  it(`is ${corpusCase.expect.outcome}`, async () => {
    const source = await casePath(corpusCase);
    const expected = corpusCase.expect;
    if (expected.outcome === "accepted") {
      // Read as it comes: the same configuration as the file saved plainly (no BOM, LF line ends).
      const text = (await readFile(source, "utf8")).replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
      // Only read: the corpus folder is no place to run from, so its paths are not checked.
      const config = await loadConfig(source, { checkPaths: false });
      expect(config).toEqual(parseConfig(text, source));
      expect(config.sources.echo_data.location).toMatch(/input\/data\.json$/);
      return;
    }
    if (expected.outcome !== "error")
      throw new Error(`config cases are errors or accepted: ${corpusCase.id}`);
    // Beside the published workspace's own config: a case that slipped through would run on its outputs.
    const configPath = join(workspace.dir, `${corpusCase.id}.yaml`);
    await cp(source, configPath);
    const error = await runPipeline({ configPath, asOf: new Date(asOf), clockPinned: true }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(PipelineError);
    const failure = error as PipelineError;
    expect(failure.exitCode).toBe(expected.exit_code);
    // What the CLI prints for it: file:line, key, and what is wrong.
    const message = failure.describe();
    const name = basename(configPath);
    expect(message).toContain(expected.line === undefined ? name : `${name}:${expected.line}`);
    if (expected.key !== undefined) expect(message).toContain(`key ${expected.key}`);
    for (const piece of expected.message) expect(message).toContain(piece);
    expect(await fingerprint(workspace.outputDir)).toEqual(published);
  });
});

/** The messages of the error lines of a run's JSON log. */
function loggedErrors(stderr: string): string[] {
  return stderr.split("\n").flatMap((line) => {
    try {
      const entry = JSON.parse(line) as { level?: string; message?: string };
      return entry.level === "error" ? [String(entry.message)] : [];
    } catch {
      return [];
    }
  });
}

it("through the CLI, a config error is one line naming the file and exits 2, outputs untouched", async () => {
  const corpusCase = configCases.find((candidate) => candidate.id === "config-alias-bomb");
  if (!corpusCase) throw new Error("the alias bomb case is missing");
  const configPath = join(workspace.dir, "cli-alias-bomb.yaml");
  await cp(await casePath(corpusCase), configPath);
  const result = await workspace.run(["--config", configPath, "--as-of", asOf]);
  expect(result.exitCode).toBe(2);
  expect(loggedErrors(result.stderr)).toEqual([
    `${configPath}: invalid YAML: Excessive alias count indicates a resource exhaustion attack (aliases (*name) may not expand a document this much)`,
  ]);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(await fingerprint(workspace.outputDir)).toEqual(published);
});

/** Ingests the baseline with this case in place, through the real config, registry and ingest stage. */
async function ingestCase(corpusCase: CorpusCase): Promise<IngestedSource> {
  const directory = join(scratch, "cases", corpusCase.id);
  await mkdir(directory, { recursive: true });
  const configPath = join(directory, "config.yaml");
  await writeFile(configPath, configText(await locationsFor(corpusCase, directory)));
  const config = await loadConfig(configPath);
  const ingested = await ingestSources(db, enabledAdapters(config), {
    asOf: new Date(asOf),
    revalidate: false,
  });
  const name = sourceOf[corpusCase.input as Exclude<InputKind, "config">];
  const source = ingested.find((candidate) => candidate.adapter.name === name);
  if (!source) throw new Error(`source ${name} was not ingested`);
  // The other sources are untouched by this case.
  for (const other of ingested.filter((candidate) => candidate !== source)) {
    expect(other.health.status, other.adapter.name).toBe("ok");
  }
  return source;
}

describe.each(sourceCases)("$input case $id", (corpusCase) => {
  it(`is ${corpusCase.expect.outcome} at ingest`, async () => {
    const name = basename(await casePath(corpusCase));
    const source = await ingestCase(corpusCase);
    const expected = corpusCase.expect;
    const fromThisFile = source.rejections.filter((rejection) => rejection.location.file?.includes(name));
    switch (expected.outcome) {
      case "source_failed": {
        expect(source.staged).toBeUndefined();
        // What it had staged before it failed is gone; the other sources' staged rows wait for the load.
        const staged = await db.all<{ table_name: string }>(
          "select table_name from duckdb_tables() where temporary and table_name like 'staged_%' order by 1",
        );
        expect(staged.map((table) => table.table_name)).not.toContain(`staged_${source.adapter.name}`);
        expect(staged.length).toBeGreaterThan(0);
        expect(source.health.status).toBe("failed");
        const message = source.health.error ?? "";
        expect(message).toContain(expected.line === undefined ? name : `${name}:${expected.line}`);
        if (expected.key !== undefined) expect(message).toContain(`key ${expected.key}`);
        for (const piece of expected.message) expect(message).toContain(piece);
        break;
      }
      case "quarantined": {
        // The rest of the input goes on; exactly the expected records are rejected, each with its reason.
        expect(source.staged).toBeDefined();
        expect(source.health.status).toBe("degraded");
        for (const rejection of expected.rejections) {
          expect(
            fromThisFile.filter((actual) => matches(actual, rejection)),
            JSON.stringify(rejection),
          ).toHaveLength(1);
        }
        expect(fromThisFile).toHaveLength(expected.rejections.length);
        expect(source.rejections).toHaveLength(expected.rejections.length);
        break;
      }
      case "accepted": {
        expect(source.health.status).toBe("ok");
        expect(source.rejections).toEqual([]);
        if (expected.observations !== undefined)
          expect(source.health.observations).toBe(expected.observations);
        break;
      }
      case "error":
        throw new Error(`only config cases stop the run: ${corpusCase.id}`);
    }
  });
});

describe("full pipeline runs over the corpus", () => {
  // The two runs work on copies of the published workspace; side by side they take the time of one.
  it.concurrent("quarantines every quarantinable record in one run, reports each, and keeps every other advisory", async () => {
    const directory = join(scratch, "quarantine-run");
    await cp(workspace.dir, directory, { recursive: true });
    const byInput = async (kind: InputKind) =>
      Promise.all(
        quarantinedCases
          .filter((corpusCase) => corpusCase.input === kind && corpusCase.placement === undefined)
          .map(casePath),
      );
    const inputs = join(directory, "corpus-input");
    await mkdir(inputs, { recursive: true });
    const readText = async (path: string) => (await readFile(path)).toString("utf8");

    const dataJson = join(inputs, "data.json");
    await writeFile(
      dataJson,
      spliceObjects([
        await readText(baseline.dataJson),
        ...(await Promise.all((await byInput("data_json")).map(readText))),
      ]),
    );
    const tracker = join(inputs, "debian_tracker.json");
    await writeFile(
      tracker,
      spliceObjects([
        await readText(baseline.tracker),
        ...(await Promise.all((await byInput("debian_tracker")).map(readText))),
      ]),
    );
    // CSV rows stand alone: every case's rows (its header dropped) follow the baseline's.
    const csvLines = (await readText(baseline.csv)).split(/\r\n|\r|\n/).filter((line) => line !== "");
    for (const path of await byInput("overrides_csv")) {
      const [header, ...rows] = (await readText(path)).split(/\r\n|\r|\n/);
      expect(header).toBe("cve_id,package,status,fixed_version,internal_status");
      csvLines.push(...rows.filter((line) => line !== ""));
    }
    const csv = join(inputs, "na.csv");
    await writeFile(csv, `${csvLines.join("\n")}\n`);
    // One all.zip: the sample's records, every bad record file and every hostile archive entry.
    const entries: ZipEntrySpec[] = [];
    for (const name of await readdir(baseline.osv)) {
      entries.push({ name, data: await readFile(join(baseline.osv, name)) });
    }
    // Stored, not deflated: a record of brackets deflates so well it would be refused as a bomb.
    for (const path of await byInput("osv_record")) {
      entries.push({ name: basename(path), data: await readFile(path), method: 0 });
    }
    for (const corpusCase of quarantinedCases.filter((candidate) => candidate.zip)) {
      entries.push(...(zipGenerators[corpusCase.zip as string]?.() ?? []));
    }
    const osv = join(inputs, "all.zip");
    await writeFile(osv, buildZip(entries));
    const nvd = await directoryWith(join(inputs, "nvd"), baseline.nvd, await byInput("nvd_page"));
    // One catalogue: every case's entries first (so their keys keep their positions), then the sample's.
    const catalogue = JSON.parse(await readText(baseline.kev)) as {
      count: number;
      vulnerabilities: unknown[];
    };
    const caseEntries: unknown[] = [];
    for (const path of await byInput("kev_catalogue")) {
      caseEntries.push(...(JSON.parse(await readText(path)) as typeof catalogue).vulnerabilities);
    }
    catalogue.vulnerabilities = [...caseEntries, ...catalogue.vulnerabilities];
    catalogue.count = catalogue.vulnerabilities.length;
    const kev = join(inputs, "known_exploited_vulnerabilities.json");
    await writeFile(kev, JSON.stringify(catalogue));

    const configPath = join(directory, "config.yaml");
    await writeFile(configPath, configText({ dataJson, csv, tracker, osv, nvd, kev }));
    const result = await workspace.run(["--config", configPath, "--as-of", asOf]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(loggedErrors(result.stderr)).toEqual([]);

    const summary = JSON.parse(
      await readFile(join(directory, "output/run_summary.json"), "utf8"),
    ) as RunSummaryJson;
    const expectedRejections = quarantinedCases.flatMap((corpusCase) =>
      corpusCase.expect.outcome === "quarantined"
        ? corpusCase.expect.rejections.map((rejection) => ({
            ...rejection,
            source: sourceOf[corpusCase.input as Exclude<InputKind, "config">],
          }))
        : [],
    );
    expect(summary.rejected_total).toBe(expectedRejections.length);
    // The quarantine is recorded in the run ledger, each record with its source, place and reason.
    const recorded = await withDatabase(join(directory, "state/echo-advisory.duckdb"), (ledger) =>
      ledger.all<{ source: string; key: string | null; reason: string }>(
        "select source, key, reason from meta.rejected_records where run_id = '20260302T000000Z'",
      ),
    );
    expect(recorded).toHaveLength(expectedRejections.length);
    // Splicing the cases into one input moves their lines, so line numbers are not compared here.
    const withoutLines = (reason: string) => reason.replace(/\blines? \d+(?:, \d+)*/g, "lines");
    for (const rejection of expectedRejections) {
      const found = recorded.filter(
        (actual) =>
          actual.source === rejection.source &&
          matches(
            { location: { key: actual.key ?? undefined }, reason: withoutLines(actual.reason) },
            { ...rejection, reason: withoutLines(rejection.reason) },
            false,
          ),
      );
      expect(found.length, JSON.stringify(rejection)).toBeGreaterThanOrEqual(1);
    }
    for (const source of summary.sources) expect(source.status, source.source).toBe("degraded");
    const report = await readFile(join(directory, "output/run_report_20260302T000000Z.md"), "utf8");
    expect(report).toContain(`| Rejected input records | ${expectedRejections.length} |`);
    // Nothing quarantined became an advisory, and every advisory of the published run is decided as before.
    expect(
      decisions(JSON.parse(await readFile(join(directory, "output/advisory_current.json"), "utf8"))),
    ).toEqual(decisions(before));
  });

  it.concurrent("keeps every source's last good data when each input fails as a whole, and decides nothing anew", async () => {
    const directory = join(scratch, "failure-run");
    await cp(workspace.dir, directory, { recursive: true });
    const failing = (kinds: InputKind[]) => {
      const found = sourceCases.find(
        (corpusCase) => kinds.includes(corpusCase.input) && corpusCase.expect.outcome === "source_failed",
      );
      if (!found) throw new Error(`no failing case for ${kinds.join(", ")}`);
      return found;
    };
    const chosen = [
      failing(["data_json"]),
      failing(["overrides_csv"]),
      failing(["debian_tracker"]),
      failing(["osv_zip"]),
      failing(["nvd_page"]),
      failing(["kev_catalogue"]),
    ];
    const [dataJson, csv, tracker, osv, nvd, kev] = (await Promise.all(chosen.map(casePath))) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const configPath = join(directory, "config.yaml");
    await writeFile(configPath, configText({ dataJson, csv, tracker, osv, nvd, kev }));
    const result = await workspace.run(["--config", configPath, "--as-of", asOf]);
    expect(result.exitCode, result.stderr).toBe(0);

    const summary = JSON.parse(
      await readFile(join(directory, "output/run_summary.json"), "utf8"),
    ) as RunSummaryJson;
    for (const corpusCase of chosen) {
      const name = sourceOf[corpusCase.input as Exclude<InputKind, "config">];
      const source = summary.sources.find((candidate) => candidate.source === name);
      expect(source?.status, name).toBe("stale");
      expect(source?.last_good_fetch_at, name).toBe("2026-03-01T00:00:00.000Z");
      for (const piece of corpusCase.expect.outcome === "source_failed" ? corpusCase.expect.message : []) {
        expect(source?.error, name).toContain(piece);
      }
    }
    // The decisions, the vendor feed and the decision history stand exactly as published.
    const outputs = await fingerprint(join(directory, "output"));
    expect(
      decisions(JSON.parse(await readFile(join(directory, "output/advisory_current.json"), "utf8"))),
    ).toEqual(decisions(before));
    expect(outputs["data.json"]).toBe(published["data.json"]);
    const history = (files: Record<string, string>) =>
      Object.entries(files).filter(([path]) => path.startsWith("history/transitions/"));
    expect(history(outputs)).toEqual(history(published));
  });
});
