// Issue 20's fault tests, all against real servers on 127.0.0.1: the NVD key goes nowhere but NVD's API
// over https, redirects never lead to another host, every source obeys http.max_response_mb, and dbt never
// sees the pipeline's secrets.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DbtSession } from "../../pipeline/lib/dbt-session.ts";
import { errorMessage, PipelineError } from "../../pipeline/lib/errors.ts";
import { HttpError } from "../../pipeline/sources/http/client.ts";
import { registry } from "../../pipeline/sources/registry.ts";
import type { AnyAdapter } from "../../pipeline/sources/source.ts";
import { type Config, loadConfig } from "../../pipeline/stages/config.ts";
import { runDbtBuild } from "../../pipeline/stages/transform.ts";
import { testFetchContext } from "../helpers/context.ts";
import {
  createWorkspace,
  decisions,
  readTree,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

interface TestServer {
  base: string;
  port: number;
  seen: Seen[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A server on 127.0.0.1 that records every request it is sent; closed after the test. */
async function serve(
  handler: (seen: Seen, response: ServerResponse) => void,
  keep: (close: () => Promise<void>) => void = (close) => cleanups.push(close),
): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const record = { url: request.url ?? "", headers: request.headers };
    seen.push(record);
    handler(record, response);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  keep(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  return { base: `http://127.0.0.1:${port}`, port, seen };
}

async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "secrets-and-limits-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs an adapter to its end; the error it ends with, if any. */
async function drain(adapter: AnyAdapter): Promise<{ observations: number; error: unknown }> {
  let observations = 0;
  try {
    for await (const item of adapter.fetch(testFetchContext())) {
      if (item.kind === "observation") observations += 1;
    }
  } catch (error) {
    return { observations, error };
  }
  return { observations, error: undefined };
}

const httpSettings = (cacheDir: string, maxResponseMb = 1024) => ({
  cache_dir: cacheDir,
  timeout_ms: 10_000,
  max_attempts: 3,
  max_response_mb: maxResponseMb,
});

const nvdKey = "nvd-key-7d1c9e04-only-for-nvd";
const nvdRule = "the NVD API key is sent only over https to services.nvd.nist.gov";

/** The sources part of a config with NVD alone enabled, live, at `location` (NVD's own API when left out). */
function liveNvdConfig(cacheDir: string, location?: string) {
  return {
    sources: {
      echo_data: { enabled: false, location: sampleDataJson },
      echo_csv: { enabled: false, location: sampleCsv },
      nvd: {
        enabled: true,
        mode: "live",
        ...(location === undefined ? {} : { location }),
        api_key_env: "NVD_API_KEY",
        max_age_hours: 48,
        window_days: 120,
        results_per_page: 2000,
        lookup_limit: 50,
        requests_per_30s: 0,
      },
    },
    http: httpSettings(cacheDir),
    dbt: { project_dir: join(repoRoot, "dbt_project") },
  };
}

describe("an NVD location over plain http while NVD_API_KEY is set", () => {
  it("is a config error naming the file, the key and the rule, and no request reaches the server", async () => {
    const server = await serve((_seen, response) => response.writeHead(500).end());
    const workspace = await createWorkspace();
    cleanups.push(() => workspace.cleanup());
    const location = `${server.base}/rest/json/cves/2.0`;
    await workspace.writeConfig({
      dataJson: sampleDataJson,
      csv: sampleCsv,
      extra: ["  nvd:", "    enabled: true", "    mode: live", `    location: ${location}`].join("\n"),
    });

    const run = await workspace.run(["--as-of", "2026-03-01T00:00:00Z"], { NVD_API_KEY: nvdKey });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`${workspace.configPath}:14 key sources.nvd.location: ${location}`);
    expect(run.stderr).toContain(
      `would receive the secret in NVD_API_KEY, but ${nvdRule}: unset NVD_API_KEY`,
    );
    expect(`${run.stdout}${run.stderr}`).not.toContain(nvdKey);
    expect(server.seen).toHaveLength(0);

    const refused = await loadConfig(workspace.configPath, { env: { NVD_API_KEY: nvdKey } }).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(PipelineError);
    expect((refused as PipelineError).location).toMatchObject({ key: "sources.nvd.location", line: 14 });
    // Without the key the same location is a mirror like any other.
    await expect(loadConfig(workspace.configPath, { env: {} })).resolves.toMatchObject({
      sources: { nvd: { mode: "live", location } },
    });
  });

  it("is refused again by the source as a run builds it, should the config check be bypassed", async () => {
    const server = await serve((_seen, response) => response.writeHead(500).end());
    const config = liveNvdConfig(await temporaryDir(), `${server.base}/rest/json/cves/2.0`);
    const [adapter] = registry.enabledAdapters(config, { NVD_API_KEY: nvdKey });
    const outcome = await drain(adapter as AnyAdapter);
    expect(outcome.error).toBeInstanceOf(PipelineError);
    expect(errorMessage(outcome.error)).toContain(`the API key was not sent to ${server.base}: ${nvdRule}`);
    expect(server.seen).toHaveLength(0);
  });

  it("refuses a key holding a line break or control character, without quoting it", () => {
    const config = liveNvdConfig("unused");
    for (const broken of [`${nvdKey}\r\nX-Injected: 1`, `${nvdKey}\u0000tail`, `${nvdKey} ${nvdKey}`]) {
      let refused: unknown;
      try {
        registry.enabledAdapters(config, { NVD_API_KEY: broken });
      } catch (error) {
        refused = error;
      }
      expect(refused, JSON.stringify(broken)).toBeInstanceOf(PipelineError);
      expect(errorMessage(refused)).toContain("NVD_API_KEY holds a space, line break or control character");
      expect(errorMessage(refused)).not.toContain(nvdKey);
    }
    expect(() => registry.enabledAdapters(config, { NVD_API_KEY: ` ${nvdKey}\n` })).not.toThrow();
  });
});

describe("a source whose server redirects", () => {
  let sample: Buffer;
  beforeAll(async () => {
    sample = await readFile(sampleDataJson);
  });

  function sendSample(response: ServerResponse): void {
    response.writeHead(200, { "content-type": "application/json", "content-length": sample.byteLength });
    response.end(sample);
  }

  async function echoData(location: string) {
    const config = {
      sources: {
        echo_data: { enabled: true, location },
        echo_csv: { enabled: false, location: sampleCsv },
      },
      http: httpSettings(await temporaryDir()),
      dbt: { project_dir: join(repoRoot, "dbt_project") },
    };
    const [adapter] = registry.enabledAdapters(config, {});
    return drain(adapter as AnyAdapter);
  }

  it("to another port or another host name is refused, and the other server never hears of it", async () => {
    const other = await serve((_seen, response) => sendSample(response));
    const origin = await serve((seen, response) => {
      if (seen.url === "/to-other-port") {
        response.writeHead(302, { location: `${other.base}/data.json` }).end();
      } else if (seen.url === "/to-localhost") {
        response.writeHead(307, { location: `http://localhost:${other.port}/data.json` }).end();
      } else {
        response.writeHead(404).end();
      }
    });
    for (const [path, target] of [
      ["/to-other-port", other.base],
      ["/to-localhost", `http://localhost:${other.port}`],
    ] as const) {
      const outcome = await echoData(`${origin.base}${path}`);
      expect(outcome.observations).toBe(0);
      expect(outcome.error).toBeInstanceOf(HttpError);
      expect(outcome.error).toMatchObject({ kind: "redirect", attempts: 1, transient: false });
      expect(errorMessage(outcome.error)).toContain(`redirect from ${origin.base} to ${target} refused`);
    }
    expect(origin.seen.map((seen) => seen.url)).toEqual(["/to-other-port", "/to-localhost"]);
    expect(other.seen).toHaveLength(0);
  });

  it("from 127.0.0.1 to localhost on the same port is refused too: another host name", async () => {
    const server = await serve((seen, response) => {
      if (seen.url === "/moved") {
        const port = String(seen.headers.host).split(":")[1];
        response.writeHead(301, { location: `http://localhost:${port}/data.json` }).end();
      } else sendSample(response);
    });
    const outcome = await echoData(`${server.base}/moved`);
    expect(outcome.error).toMatchObject({ kind: "redirect" });
    expect(server.seen.map((seen) => seen.url)).toEqual(["/moved"]);
  });

  it("within the same http origin is followed", async () => {
    const server = await serve((seen, response) => {
      if (seen.url === "/moved") response.writeHead(301, { location: "/data.json" }).end();
      else sendSample(response);
    });
    const outcome = await echoData(`${server.base}/moved`);
    expect(outcome.error).toBeUndefined();
    expect(outcome.observations).toBe(177);
    expect(server.seen.map((seen) => seen.url)).toEqual(["/moved", "/data.json"]);
  });

  it("keeps the Debian tracker, a cached bulk download, from another host as well", async () => {
    const other = await serve((_seen, response) => response.writeHead(200).end("{}"));
    const origin = await serve((_seen, response) => {
      response.writeHead(302, { location: `${other.base}/tracker/data/json` }).end();
    });
    const config = {
      sources: {
        echo_data: { enabled: false, location: sampleDataJson },
        echo_csv: { enabled: false, location: sampleCsv },
        debian_tracker: {
          enabled: true,
          mode: "live",
          location: `${origin.base}/tracker/data/json`,
          max_age_hours: 48,
          releases: ["bookworm"],
        },
      },
      http: httpSettings(await temporaryDir()),
      dbt: { project_dir: join(repoRoot, "dbt_project") },
    };
    const [adapter] = registry.enabledAdapters(config, {});
    const outcome = await drain(adapter as AnyAdapter);
    expect(outcome.error).toMatchObject({ kind: "redirect" });
    expect(origin.seen).toHaveLength(1);
    expect(other.seen).toHaveLength(0);
  });
});

/**
 * A failed source keeps its last good data in use (the pipeline's rule for every source): by default the
 * run goes on with the data.json it loaded before; where a failed fetch must stop publication, the
 * operator makes sources_fetched an error, and then nothing published changes at all.
 */
describe("an oversized data.json served by URL", () => {
  let workspace: Workspace;
  let body: Buffer;
  let sendLength = true;
  let server: TestServer;
  const closers: (() => Promise<void>)[] = [];
  const config = (extra: string[] = []) =>
    workspace.writeConfig({
      dataJson: `${server.base}/data.json`,
      csv: sampleCsv,
      extra: ["http:", "  max_response_mb: 1", "  max_attempts: 2", ...extra].join("\n"),
    });
  const summary = async () =>
    JSON.parse(await readFile(join(workspace.outputDir, "run_summary.json"), "utf8")) as {
      status: string;
      exit_code: number;
      sources: { source: string; status: string; error: string | null; observations: number }[];
    };
  const echoData = async () => (await summary()).sources.find((source) => source.source === "echo_data");

  beforeAll(async () => {
    body = await readFile(sampleDataJson);
    server = await serve(
      (_seen, response) => {
        response.writeHead(200, sendLength ? { "content-length": body.byteLength } : {});
        response.end(body);
      },
      (close) => closers.push(close),
    );
    workspace = await createWorkspace();
    await config();
  });
  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
    await workspace.cleanup();
  });

  it("fails the source at the limit; the published decisions stay those of the last good data.json", async () => {
    const first = await workspace.run(["--as-of", "2026-03-01T00:00:00Z"]);
    expect(first.exitCode, first.stderr).toBe(0);
    const before = await workspace.readAdvisoryCurrent();
    const landed = await workspace.landingCounts();
    expect(landed.echo_advisories).toBe(177);

    // Still valid JSON, padded past the 1 MB limit (declared in Content-Length): only its size is wrong.
    const padding = Buffer.alloc(2 * 1024 * 1024, 0x20);
    body = Buffer.concat([body.subarray(0, body.lastIndexOf("}")), padding, Buffer.from("}")]);
    const run = await workspace.run(["--as-of", "2026-03-02T00:00:00Z"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/response larger than the 1048576-byte limit \(Content-Length is \d+\)/);
    expect(await echoData()).toMatchObject({ status: "stale", observations: 0 });
    expect((await echoData())?.error).toMatch(/larger than the 1048576-byte limit/);
    expect(await workspace.landingCounts()).toEqual(landed);
    expect(decisions(await workspace.readAdvisoryCurrent())).toEqual(decisions(before));
    // One request per run: the limit is not retried.
    expect(server.seen).toHaveLength(2);
  });

  it("with sources_fetched an error, changes not one published byte but the run's own record", async () => {
    await config(["quality:", "  severities:", "    sources_fetched: error"]);
    const published = await readTree(workspace.outputDir);
    sendLength = false; // chunked: found out only while streaming
    const run = await workspace.run(["--as-of", "2026-03-03T00:00:00Z"]);
    expect(run.exitCode, run.stderr).toBe(3);
    expect(run.stderr).toMatch(
      /response larger than the 1048576-byte limit \(more than 1048576 bytes received\)/,
    );
    expect(await summary()).toMatchObject({ status: "blocked", exit_code: 3 });
    expect((await echoData())?.error).toMatch(/larger than the 1048576-byte limit/);

    const after = await readTree(workspace.outputDir);
    // The refused run records itself (its report, run_summary.json, its entry in history/runs) for the
    // operators; every published file stays as it was.
    const runRecord =
      /\/(run_summary\.json|run_report_20260303T000000Z\.md|history\/runs\/20260303T000000Z\.json)$/;
    const kept = Object.keys(published).filter((path) => !runRecord.test(path));
    expect(kept.map((path) => basename(path))).toEqual(
      expect.arrayContaining([
        "advisory_current.json",
        "data.json",
        "openvex.json",
        "cve_facts.json",
        "changes.atom",
      ]),
    );
    for (const path of kept) expect(after[path], path).toBe(published[path]);
    expect(Object.keys(after).filter((path) => !(path in published) && !runRecord.test(path))).toEqual([]);
  });
});

describe("dbt's environment", () => {
  const secrets = { NVD_API_KEY: nvdKey, GITHUB_TOKEN: "ghs_not-for-dbt", ECHO_NOT_FOR_DBT: "x" };
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const [name, value] of Object.entries(secrets)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("holds none of the pipeline's secrets when dbt runs as a command", async () => {
    const dir = await temporaryDir();
    const dump = join(dir, "env.json");
    // The pipeline's own `dbt` is swapped for a script that records its environment and fails.
    const executable = join(dir, "bin", "dbt");
    await mkdir(dirname(executable), { recursive: true });
    await writeFile(
      executable,
      `#!${join(repoRoot, "dbt_project/.venv/bin/python")}\nimport json, os, sys\njson.dump(dict(os.environ), open(${JSON.stringify(dump)}, "w"))\nsys.exit(2)\n`,
    );
    await chmod(executable, 0o755);
    const config = {
      database: join(dir, "state", "echo-advisory.duckdb"),
      duckdb: { memory_limit: "1GB" },
      dbt: { project_dir: join(repoRoot, "dbt_project"), executable, threads: 1 },
    } as unknown as Config;
    await expect(runDbtBuild(config)).rejects.toThrow(/dbt build failed \(exit 2\)/);
    const env = JSON.parse(await readFile(dump, "utf8")) as Record<string, string>;
    // The database is named relative to dbt's working folder, its own (see seedPartialParse).
    expectMinimal(env, "echo-advisory.duckdb");
  });

  it("holds none of them in the long-lived dbt session's process either", async () => {
    const dir = await temporaryDir();
    // The session's real Python runs a stand-in dbt_session.py that answers with its environment.
    await writeFile(
      join(dir, "dbt_session.py"),
      [
        "import json, os, sys",
        "for line in sys.stdin:",
        "    request = json.loads(line)",
        "    os.environ.update(request['env'])",
        "    print(json.dumps(dict(os.environ)))",
        "    print(json.dumps({'echo_dbt_session': {'exit_code': 0, 'error': None}}), flush=True)",
        "",
      ].join("\n"),
    );
    const session = new DbtSession(join(repoRoot, "dbt_project/.venv/bin/dbt"), dir);
    try {
      const result = await session.invoke(["build"], {
        ECHO_DUCKDB_PATH: "/run/echo.duckdb",
        DO_NOT_TRACK: "1",
      });
      expect(result.exitCode).toBe(0);
      expectMinimal(JSON.parse(result.stdout) as Record<string, string>, "/run/echo.duckdb");
    } finally {
      await session.close();
    }
  });

  function expectMinimal(env: Record<string, string>, database: string): void {
    expect(env.ECHO_DUCKDB_PATH).toBe(database);
    expect(env.PATH).toBe(process.env.PATH);
    for (const name of Object.keys(secrets)) expect(env, name).not.toHaveProperty(name);
    expect(JSON.stringify(env)).not.toContain(nvdKey);
    // Python may add LC_CTYPE itself (PEP 538); anything else comes from the pipeline's short list.
    for (const name of Object.keys(env)) {
      expect(name).toMatch(
        /^(PATH|HOME|LANG|LC_ALL|LC_CTYPE|TZ|TMPDIR|PYTHONDONTWRITEBYTECODE|ECHO_DUCKDB_PATH|ECHO_DBT_THREADS|ECHO_DUCKDB_MEMORY_LIMIT|DBT_[A-Z_]+|DO_NOT_TRACK)$/,
      );
    }
  }
});
