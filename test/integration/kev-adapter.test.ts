import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { createHttpClient, HttpError } from "../../pipeline/sources/http/client.ts";
import { type KevConfig, type KevEntry, kevAdapter } from "../../pipeline/sources/kev/index.ts";
import type { FetchContext, FetchItem } from "../../pipeline/sources/types.ts";
import { testFetchContext } from "../helpers/context.ts";
import { repoRoot } from "../helpers/workspace.ts";

// A real HTTP server on 127.0.0.1 per test serving the catalogue with ETag/Last-Modified and 304s, or a
// failure status. The HTTP client gets a temporary cache directory and a sleep that only moves a fake clock.

const mockDir = join(repoRoot, "pipeline/sources/kev/mock");
const mockCatalogue = () => readFile(join(mockDir, "known_exploited_vulnerabilities.json"), "utf8");
const path = "/sites/default/files/feeds/known_exploited_vulnerabilities.json";

interface Seen {
  headers: IncomingHttpHeaders;
  status: number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Serves `state.body` at CISA's path, or `state.status` instead when set. */
async function serveKev(state: { body: string; status: number | null }) {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const entry: Seen = { headers: request.headers, status: 0 };
    seen.push(entry);
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      entry.status = status;
      response.writeHead(status, { "content-length": Buffer.byteLength(body), ...headers });
      response.end(body);
    };
    if (new URL(request.url ?? "/", "http://localhost").pathname !== path) return send(404, "not found");
    if (state.status !== null) return send(state.status, "unavailable");
    const etag = `"${createHash("sha256").update(state.body).digest("hex").slice(0, 16)}"`;
    const validators = { etag, "last-modified": new Date(Date.UTC(2025, 7, 25, 17)).toUTCString() };
    if (request.headers["if-none-match"] === etag) {
      entry.status = 304;
      response.writeHead(304, validators).end();
      return;
    }
    send(200, state.body, { "content-type": "application/json", ...validators });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, seen };
}

async function makeClient() {
  const cacheDir = await mkdtemp(join(tmpdir(), "kev-adapter-"));
  cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
  let now = Date.UTC(2026, 0, 15);
  return createHttpClient({
    cacheDir,
    clock: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
    random: () => 0.5,
    logger: { debug: () => undefined, warn: () => undefined },
    rateLimiting: false,
  });
}

function settings(overrides: Partial<KevConfig> = {}): KevConfig {
  return { enabled: true, mode: "live", max_age_hours: 48, ...overrides };
}

async function run(
  config: KevConfig,
  http: ReturnType<typeof createHttpClient>,
  overrides: Partial<FetchContext> = {},
) {
  const adapter = kevAdapter(config, { http, mockLocation: mockDir });
  const items: FetchItem<KevEntry>[] = [];
  let error: unknown;
  try {
    for await (const item of adapter.fetch(testFetchContext(overrides))) items.push(item);
  } catch (caught) {
    error = caught;
  }
  return {
    kinds: items.map((item) => item.kind),
    ids: items.flatMap((item) => (item.kind === "observation" ? [item.observation.cve_id] : [])),
    items,
    error,
    health: adapter.health(),
  };
}

const mockIds = ["CVE-2025-42010", "CVE-2023-38545", "CVE-2023-39780", "CVE-2022-29582", "CVE-2021-44228"];

describe("live mode: the catalogue JSON, asked for conditionally", () => {
  it("downloads the catalogue, then gets a 304 and yields only 'unchanged', downloading no body", async () => {
    const server = await serveKev({ body: await mockCatalogue(), status: null });
    const http = await makeClient();
    const first = await run(settings({ location: server.url }), http);
    expect(first.error).toBeUndefined();
    expect(first.ids).toEqual(mockIds);
    expect(first.health).toMatchObject({ status: "ok", observations: 5, rejected: 0, requests: 1 });
    expect(first.items[0]).toMatchObject({
      observation: { catalog_version: "2025.08.25", payload_ref: `${server.url}#/vulnerabilities/0` },
    });

    const second = await run(settings({ location: server.url }), http);
    expect(second.kinds).toEqual(["unchanged"]);
    expect(
      server.seen.map((request) => [request.status, request.headers["if-none-match"] !== undefined]),
    ).toEqual([
      [200, false],
      [304, true],
    ]);
  });

  it("reads a changed catalogue in full, and asks unconditionally with revalidate", async () => {
    const state = { body: await mockCatalogue(), status: null };
    const server = await serveKev(state);
    const http = await makeClient();
    await run(settings({ location: server.url }), http);
    const document = JSON.parse(state.body);
    document.catalogVersion = "2025.08.26";
    document.vulnerabilities = document.vulnerabilities.slice(1);
    document.count -= 1;
    state.body = JSON.stringify(document);
    const changed = await run(settings({ location: server.url }), http);
    expect(changed.ids).toEqual(mockIds.slice(1));
    const again = await run(settings({ location: server.url }), http, { revalidate: true });
    expect(again.ids).toEqual(mockIds.slice(1));
    expect(
      server.seen.map((request) => [request.status, request.headers["if-none-match"] !== undefined]),
    ).toEqual([
      [200, false],
      [200, true],
      [200, false],
    ]);
  });

  it("throws after a 503 storm, having yielded nothing (the orchestrator keeps the last good catalogue)", async () => {
    const server = await serveKev({ body: "", status: 503 });
    const outcome = await run(settings({ location: server.url }), await makeClient());
    expect(outcome.error).toBeInstanceOf(HttpError);
    expect((outcome.error as HttpError).status).toBe(503);
    expect(outcome.items).toEqual([]);
    expect(server.seen.length).toBeGreaterThan(1);
    expect(outcome.health).toMatchObject({ status: "failed", observations: 0 });
  });

  it("throws at once on a 404, without retrying", async () => {
    const server = await serveKev({ body: "", status: null });
    const outcome = await run(
      settings({ location: server.url.replace("feeds", "nowhere") }),
      await makeClient(),
    );
    expect(outcome.error).toBeInstanceOf(HttpError);
    expect((outcome.error as HttpError).status).toBe(404);
    expect(server.seen).toHaveLength(1);
  });

  it("throws on a body that is not a catalogue, naming the URL and the key", async () => {
    const server = await serveKev({ body: JSON.stringify({ title: "maintenance" }), status: null });
    const outcome = await run(settings({ location: server.url }), await makeClient());
    expect(outcome.error).toBeInstanceOf(PipelineError);
    expect((outcome.error as PipelineError).location).toEqual({ file: server.url, key: "catalogVersion" });
    expect((outcome.error as PipelineError).message).toContain("catalogVersion is missing");
  });

  it("refuses a location that is not an http(s) URL", async () => {
    const outcome = await run(settings({ location: "/tmp/kev.json" }), await makeClient());
    expect((outcome.error as PipelineError).location).toEqual({ key: "sources.kev.location" });
  });
});

describe("file and mock modes", () => {
  it("reads the bundled sample in mock mode", async () => {
    const outcome = await run(settings({ mode: "mock" }), await makeClient());
    expect(outcome.ids).toEqual(mockIds);
    expect(outcome.health.requests).toBe(0);
  });

  it("reads a catalogue file, or a folder holding it under CISA's name, rejecting a bad entry and going on", async () => {
    const directory = await mkdtemp(join(tmpdir(), "kev-file-"));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const document = JSON.parse(await mockCatalogue());
    document.vulnerabilities[1].dueDate = "soon";
    const file = join(directory, "known_exploited_vulnerabilities.json");
    await writeFile(file, JSON.stringify(document));
    for (const location of [file, directory]) {
      const outcome = await run(settings({ mode: "file", location }), await makeClient());
      expect(outcome.ids).toEqual(mockIds.filter((id) => id !== "CVE-2023-38545"));
      const rejection = outcome.items.find((item) => item.kind === "rejected");
      expect(rejection).toMatchObject({
        rejection: {
          location: { file, key: "vulnerabilities[1].dueDate" },
          reason: expect.stringContaining("CVE-2023-38545"),
        },
      });
      expect(outcome.health.status).toBe("degraded");
    }
  });

  it("fails when the location is missing, or a folder without the catalogue", async () => {
    const directory = await mkdtemp(join(tmpdir(), "kev-empty-"));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    await mkdir(join(directory, "empty"));
    const missing = await run(
      settings({ mode: "file", location: join(directory, "absent.json") }),
      await makeClient(),
    );
    expect((missing.error as PipelineError).message).toBe("file not found");
    const empty = await run(
      settings({ mode: "file", location: join(directory, "empty") }),
      await makeClient(),
    );
    expect((empty.error as PipelineError).describe()).toContain(
      "known_exploited_vulnerabilities.json: the folder holds no known_exploited_vulnerabilities.json",
    );
  });
});
