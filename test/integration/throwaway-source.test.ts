// Adding a source is its folder plus one registry line (plus its row in the source catalogue seed): a
// throwaway source in test/fixtures/throwaway-source registers through the same function production uses,
// and then its config keys are validated, its host policy is in force and its observations land.
import { appendFile, copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../../pipeline/lib/db.ts";
import { registry } from "../../pipeline/sources/registry.ts";
import { createRegistry } from "../../pipeline/sources/source.ts";
import { ConfigError, loadConfig } from "../../pipeline/stages/config.ts";
import { ingestSources } from "../../pipeline/stages/ingest.ts";
import { initDatabase } from "../../pipeline/stages/init.ts";
import { loadSources } from "../../pipeline/stages/load.ts";
import { throwawayHost, throwawaySource } from "../fixtures/throwaway-source/source.ts";
import { catalogueProblems, sourceCatalogue } from "../helpers/source-catalogue.ts";
import { sampleCsv, sampleDataJson } from "../helpers/workspace.ts";

// The one registry line.
const withThrowaway = createRegistry([...registry.sources, throwawaySource]);

let dir: string;
let db: Database | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "echo-throwaway-source-"));
});

afterAll(async () => {
  db?.close();
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, throwaway: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    [
      "database: state/echo-advisory.duckdb",
      "output_dir: output",
      "sources:",
      "  echo_data:",
      `    location: ${JSON.stringify(sampleDataJson)}`,
      "  echo_csv:",
      `    location: ${JSON.stringify(sampleCsv)}`,
      "  throwaway:",
      ...throwaway.map((line) => `    ${line}`),
      "",
    ].join("\n"),
  );
  return path;
}

async function configErrorOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe("a source added as a folder plus one registry line", () => {
  it("is a config key, a --source name and a host policy of the registry it joins, not of production's", () => {
    expect(withThrowaway.names).toEqual([...registry.names, "throwaway"]);
    expect(withThrowaway.hostPolicies({})[throwawayHost]).toEqual({
      maxAttempts: 2,
      rateLimit: { requests: 10, windowMs: 60_000 },
    });
    expect(registry.hostPolicies({})[throwawayHost]).toBeUndefined();
    // Its observations go where every upstream signal goes: no new landing table.
    expect(withThrowaway.landingTables).toEqual(registry.landingTables);
    expect(Object.keys(withThrowaway.configSchema.shape)).toContain("throwaway");
  });

  it("needs its row in the source catalogue seed, which dbt reads the list of sources from", async () => {
    expect(await catalogueProblems(registry.names)).toEqual([]);
    expect(await catalogueProblems(withThrowaway.names)).toEqual([
      "throwaway: registered, but no row in the catalogue",
    ]);
    const catalogue = join(dir, "source_catalogue.csv");
    await copyFile(sourceCatalogue, catalogue);
    await appendFile(catalogue, 'throwaway,a throwaway feed,60,false,"A test fixture."\n');
    expect(await catalogueProblems(withThrowaway.names, catalogue)).toEqual([]);
  });

  it("has its config slice validated with the rest, every problem at once", async () => {
    const path = await writeConfig("bad.yaml", [
      "enabled: true",
      "mode: file",
      "min_confidence: 2",
      "colour: red",
    ]);
    const error = await configErrorOf(loadConfig(path, { registry: withThrowaway }));
    expect(error.describe().split("\n")).toEqual([
      `${path}: 3 problems (see config.yaml in the repository for every key)`,
      `${path}:8 key sources.throwaway.location: file mode needs a location (the recorded snapshot to read)`,
      `${path}:11 key sources.throwaway.min_confidence: Too big: expected number to be <=1`,
      `${path}:12 key sources.throwaway.colour: Unrecognized key: "colour"`,
    ]);
    // Production's registry does not know it.
    const good = await writeConfig("good.yaml", ["enabled: true", "mode: mock"]);
    const unknown = await configErrorOf(loadConfig(good));
    expect(unknown.describe()).toBe(
      `${good}:8 key sources.throwaway: Unrecognized key: "throwaway" (see config.yaml in the repository for every key)`,
    );
  });

  it("is loaded, ingested and landed like any other source", async () => {
    const path = await writeConfig("config.yaml", ["enabled: true", "mode: mock", "min_confidence: 0.5"]);
    const config = await loadConfig(path, { registry: withThrowaway });
    expect(config.sources).toMatchObject({ throwaway: { enabled: true, mode: "mock", min_confidence: 0.5 } });
    db = await openDatabase(config.database);
    await initDatabase(db);
    const adapters = withThrowaway.enabledAdapters(config);
    expect(adapters.map((adapter) => adapter.name)).toEqual(["echo_data", "echo_csv", "throwaway"]);
    const asOf = new Date("2026-03-01T00:00:00Z");
    const ingested = await ingestSources(db, adapters, { asOf, revalidate: false });
    const loaded = await loadSources(db, "20260301T000000Z", ingested);
    expect(loaded.find((source) => source.source === "throwaway")).toMatchObject({
      status: "ok",
      newSnapshot: true,
      newObservations: 2,
    });
    // The vendor's packages only, confident records only.
    const landed = await db.all<Record<string, string | null>>(
      `select source, vuln_id, package_name, signal, fixed_version, fixed_version_key is not null as keyed
       from landing.upstream_observations where source_name = 'throwaway' order by vuln_id`,
    );
    expect(landed).toEqual([
      {
        source: "throwaway",
        vuln_id: "CVE-2022-27590",
        package_name: "apr-util",
        signal: "fixed",
        fixed_version: "1.6.3-1+deb12u1",
        keyed: true,
      },
      {
        source: "throwaway",
        vuln_id: "CVE-2025-25074",
        package_name: "apr-util",
        signal: "open",
        fixed_version: null,
        keyed: false,
      },
    ]);
  });
});
