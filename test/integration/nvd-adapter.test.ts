import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { errorMessage, PipelineError } from "../../pipeline/lib/errors.ts";
import { createHttpClient, HttpError } from "../../pipeline/sources/http/client.ts";
import { type NvdConfig, nvdAdapter, windowOverlapMs } from "../../pipeline/sources/nvd/index.ts";
import type { UpstreamItem } from "../../pipeline/sources/osv/helpers.ts";
import type { FetchContext, Rejection } from "../../pipeline/sources/types.ts";
import { type UpstreamObservation, upstreamObservation } from "../../pipeline/sources/upstream.ts";
import { nvdPage } from "../../tools/synthetic/nvd.ts";
import { syntheticCve, syntheticCveId, syntheticLastModified } from "../../tools/synthetic/nvd-feed.ts";
import { testFetchContext } from "../helpers/context.ts";
import { factsOf } from "../helpers/items.ts";

// ---------------------------------------------------------------------------------------------------------
// A real HTTP server on 127.0.0.1 per test, serving small synthetic NVD API 2.0 pages; a fake clock and
// sleep shared by the HTTP client and the adapter's rate limiter, so that no test waits for real.

const here = dirname(fileURLToPath(import.meta.url));
const sharedNvd = resolve(here, "../../../shared/data/upstream/nvd");
const sharedPresent = existsSync(sharedNvd);
if (!sharedPresent) console.warn(`NVD adapter test on the 170 real records skipped: ${sharedNvd} is absent`);
const sampleNvd = resolve(here, "../../pipeline/sources/nvd/mock");

const apiPath = "/rest/json/cves/2.0";
const asOf = new Date("2026-01-15T00:00:00.000Z");

interface Seen {
  params: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The fake clock when the request arrived. */
  at: number;
}

type Handler = (seen: Seen, response: ServerResponse, hit: number) => void;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

let fakeNow = 0;

async function serve(handler: Handler): Promise<{ location: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const record = { params: url.searchParams, headers: request.headers, at: fakeNow };
    seen.push(record);
    if (url.pathname !== apiPath) {
      sendJson(response, 404, { message: "not found" });
      return;
    }
    handler(record, response, seen.length);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { location: `http://127.0.0.1:${port}${apiPath}`, seen };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/** Serves `indexes` (synthetic record numbers) page by page, as NVD does for a query matching them. */
function pagesOf(indexes: readonly number[], response: ServerResponse, params: URLSearchParams): void {
  const perPage = Number(params.get("resultsPerPage") ?? 2000);
  const startIndex = Number(params.get("startIndex") ?? 0);
  const records = indexes.slice(startIndex, startIndex + perPage).map(syntheticCve);
  sendJson(response, 200, nvdPage(records, startIndex, perPage, indexes.length));
}

const range = (count: number, from = 0) => Array.from({ length: count }, (_, index) => from + index);

/** A synthetic NVD of `count` records, full pulls only. */
function fullPulls(count: number): Handler {
  return (seen, response) => pagesOf(range(count), response, seen.params);
}

function settings(location: string | undefined, overrides: Partial<NvdConfig> = {}): NvdConfig {
  return {
    enabled: true,
    mode: "live",
    location,
    max_age_hours: 48,
    api_key_env: "NVD_API_KEY",
    window_days: 120,
    results_per_page: 4,
    lookup_limit: 50,
    requests_per_30s: 0,
    ...overrides,
  };
}

/**
 * With a key, the test server is the only other place it may go (the adapter's test-only keyDestinations);
 * `realKeyRule` keeps NVD's own rule, as a run has it.
 */
function makeAdapter(config: NvdConfig, apiKey?: string, options: { realKeyRule?: boolean } = {}) {
  fakeNow = Date.UTC(2026, 0, 15);
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    fakeNow += ms;
  };
  const quiet = { debug: () => undefined, warn: () => undefined };
  const http = createHttpClient({
    clock: () => fakeNow,
    sleep,
    random: () => 0.5,
    logger: quiet,
    rateLimiting: false,
  });
  const testServer = apiKey && config.location && !options.realKeyRule ? new URL(config.location) : undefined;
  const adapter = nvdAdapter(config, {
    http,
    mockLocation: sampleNvd,
    apiKey,
    ...(testServer ? { keyDestinations: [{ scheme: "http:" as const, host: testServer.host }] } : {}),
    now: () => new Date(fakeNow),
    sleep,
  });
  return { adapter, http, sleeps };
}

interface Outcome {
  items: UpstreamItem[];
  observations: UpstreamObservation[];
  rejections: Rejection[];
  checkpoints: string[];
  incremental: boolean;
  error: unknown;
}

async function collect(
  adapter: ReturnType<typeof nvdAdapter>,
  overrides: Partial<FetchContext> = {},
): Promise<Outcome> {
  const items: UpstreamItem[] = [];
  let error: unknown;
  try {
    for await (const item of adapter.fetch(testFetchContext({ asOf, ...overrides }))) items.push(item);
  } catch (caught) {
    error = caught;
  }
  return {
    items,
    observations: items.flatMap((item) => (item.kind === "observation" ? [item.observation] : [])),
    rejections: items.flatMap((item) => (item.kind === "rejected" ? [item.rejection] : [])),
    checkpoints: items.flatMap((item) => (item.kind === "checkpoint" ? [item.value] : [])),
    incremental: items.some((item) => item.kind === "incremental"),
    error,
  };
}

function tally(values: readonly (string | null)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}

const isoExtended = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const dayMs = 86_400_000;

// ---------------------------------------------------------------------------------------------------------

describe("live mode: a full paged pull", () => {
  it("pages through three pages with startIndex and resultsPerPage, no dates, and checkpoints the run's clock", async () => {
    const server = await serve(fullPulls(10));
    const { adapter } = makeAdapter(settings(server.location));
    const outcome = await collect(adapter);
    expect(outcome.error).toBeUndefined();
    expect(
      server.seen.map((seen) => [seen.params.get("startIndex"), seen.params.get("resultsPerPage")]),
    ).toEqual([
      ["0", "4"],
      ["4", "4"],
      ["8", "4"],
    ]);
    for (const seen of server.seen) {
      expect([...seen.params.keys()].sort()).toEqual(["resultsPerPage", "startIndex"]);
      expect(seen.headers.apikey).toBeUndefined();
    }
    expect(outcome.observations.map((o) => o.vuln_id)).toEqual(range(10).map(syntheticCveId));
    expect(outcome.rejections).toEqual([]);
    expect(outcome.incremental).toBe(false);
    expect(outcome.checkpoints).toEqual([asOf.toISOString()]);
    // Record 7 is Rejected in the synthetic NVD; the others are undetermined with their vulnStatus.
    expect(outcome.observations[7]).toMatchObject({ signal: "rejected", detail: "Rejected" });
    const first = outcome.observations[0] as UpstreamObservation;
    expect(upstreamObservation.parse(first)).toEqual(first);
    expect(first.payload_ref).toBe(`${server.location}?cveId=${syntheticCveId(0)}`);
    expect(first.upstream_modified_at).toBe(`${syntheticLastModified(0)}Z`);
    // Each record's facts come with it, pointing at the record's own URL as its observation does.
    const facts = factsOf(outcome.items);
    expect(facts.map((fact) => fact.vuln_id)).toEqual(range(10).map(syntheticCveId));
    expect(facts[0]?.payload_ref).toBe(first.payload_ref);
    const health = adapter.health();
    expect(health).toMatchObject({ status: "ok", observations: 10, rejected: 0, requests: 3, retries: 0 });
    expect(health.bytes).toBeGreaterThan(10 * 1000);
    expect(adapter.progress()).toEqual({
      pages: 3,
      windows: 0,
      recordsParsed: 10,
      recordsKept: 10,
      recordsFiltered: 0,
    });
  });

  it("keeps only the CVEs data.json lists, counting every record parsed", async () => {
    const server = await serve(fullPulls(10));
    const { adapter } = makeAdapter(settings(server.location));
    const wanted = new Set([syntheticCveId(1), syntheticCveId(5), syntheticCveId(9), "TEMP-0000000-ABCDEF"]);
    const outcome = await collect(adapter, { vulnIds: wanted });
    expect(outcome.observations.map((o) => o.vuln_id)).toEqual([1, 5, 9].map(syntheticCveId));
    expect(adapter.health().observations).toBe(3);
    expect(adapter.progress()).toMatchObject({ recordsParsed: 10, recordsKept: 3, recordsFiltered: 7 });
  });

  it("pulls everything again with revalidate, whatever the checkpoint", async () => {
    const server = await serve(fullPulls(3));
    const { adapter } = makeAdapter(settings(server.location));
    const outcome = await collect(adapter, { checkpoint: "2025-12-01T00:00:00.000Z", revalidate: true });
    expect(server.seen.map((seen) => seen.params.has("lastModStartDate"))).toEqual([false]);
    expect(outcome.incremental).toBe(false);
    expect(outcome.observations).toHaveLength(3);
    expect(outcome.checkpoints).toEqual([asOf.toISOString()]);
  });

  it("keeps to the rate limit: 5 requests per rolling 30 s without a key", async () => {
    const server = await serve(fullPulls(28));
    const { adapter, sleeps } = makeAdapter(settings(server.location, { requests_per_30s: undefined }));
    const outcome = await collect(adapter);
    expect(outcome.observations).toHaveLength(28);
    const times = server.seen.map((seen) => seen.at);
    expect(times).toHaveLength(7);
    for (const [index, time] of times.entries()) {
      expect(times.filter((other) => other > time - 30_000 && other <= time).length).toBeLessThanOrEqual(5);
      if (index === 5) expect(time - (times[0] as number)).toBeGreaterThanOrEqual(30_000);
    }
    expect(sleeps.length).toBeGreaterThan(0);
  });
});

describe("live mode: modification windows after a checkpoint", () => {
  // 300 records spread over 2018–2025 by lastModified; the server answers each window with those inside it.
  const records = range(300);
  const windows: Handler = (seen, response) => {
    const start = Date.parse(seen.params.get("lastModStartDate") ?? "");
    const end = Date.parse(seen.params.get("lastModEndDate") ?? "");
    if (Number.isNaN(start) || Number.isNaN(end) || end - start > 120 * dayMs) {
      sendJson(response, 404, { message: "Invalid date range" });
      return;
    }
    const inside = records.filter((index) => {
      const modified = Date.parse(`${syntheticLastModified(index)}Z`);
      return modified >= start && modified <= end;
    });
    pagesOf(inside, response, seen.params);
  };

  it("walks windows of at most window_days from the checkpoint to the run's clock, both dates in extended ISO-8601", async () => {
    const server = await serve(windows);
    const { adapter } = makeAdapter(settings(server.location, { window_days: 30, results_per_page: 2 }));
    const checkpoint = "2025-01-01T00:00:00.000Z";
    const outcome = await collect(adapter, { checkpoint });
    expect(outcome.error).toBeUndefined();
    expect(outcome.incremental).toBe(true);

    const asked = server.seen.map((seen) => ({
      start: seen.params.get("lastModStartDate") ?? "",
      end: seen.params.get("lastModEndDate") ?? "",
      startIndex: seen.params.get("startIndex"),
    }));
    const distinct = [...new Map(asked.map((window) => [`${window.start} ${window.end}`, window])).values()];
    for (const window of asked) {
      expect(window.start).toMatch(isoExtended);
      expect(window.end).toMatch(isoExtended);
      expect(Date.parse(window.end) - Date.parse(window.start)).toBeLessThanOrEqual(30 * dayMs);
      expect(Date.parse(window.end)).toBeGreaterThan(Date.parse(window.start));
    }
    // Each walk starts windowOverlapMs before the checkpoint, to catch records NVD published late.
    expect(distinct[0]?.start).toBe(new Date(Date.parse(checkpoint) - windowOverlapMs).toISOString());
    expect(distinct.at(-1)?.end).toBe(asOf.toISOString());
    for (const [index, window] of distinct.entries()) {
      if (index > 0) expect(window.start).toBe(distinct[index - 1]?.end);
    }
    // 379 days in windows of 30: 13 windows; a window with more than 2 records is paged.
    expect(distinct).toHaveLength(13);
    expect(asked.some((window) => window.startIndex === "2")).toBe(true);
    expect(outcome.checkpoints.at(-1)).toBe(asOf.toISOString());
    expect(outcome.checkpoints).toEqual(distinct.map((window) => window.end));

    const expected = records
      .filter((index) => syntheticLastModified(index) >= "2025-01-01")
      .map(syntheticCveId)
      .sort();
    expect(expected.length).toBeGreaterThan(2);
    expect(outcome.observations.map((o) => o.vuln_id).sort()).toEqual(expected);
    expect(adapter.progress().windows).toBe(13);
  });

  it("only re-reads the overlap when the checkpoint is the run's clock, and keeps the checkpoint", async () => {
    const server = await serve(windows);
    const { adapter } = makeAdapter(settings(server.location));
    const outcome = await collect(adapter, { checkpoint: asOf.toISOString() });
    expect(server.seen.map((seen) => seen.params.get("lastModStartDate"))).toEqual([
      new Date(asOf.getTime() - windowOverlapMs).toISOString(),
    ]);
    expect(outcome.incremental).toBe(true);
    expect(outcome.checkpoints).toEqual([asOf.toISOString()]);
  });

  it("stops at the end of the last window fetched when a later window fails, and throws", async () => {
    const server = await serve((seen, response) => {
      if ((seen.params.get("lastModStartDate") ?? "") >= "2025-06")
        sendJson(response, 404, { message: "gone" });
      else windows(seen, response, 0);
    });
    const { adapter } = makeAdapter(settings(server.location, { window_days: 100 }));
    const outcome = await collect(adapter, { checkpoint: "2025-01-01T00:00:00.000Z" });
    expect(outcome.error).toBeInstanceOf(HttpError);
    // Windows of 100 days from 3 h before the checkpoint: Dec 31 21:00 → Apr 10 21:00 → Jul 19 21:00
    // fetched, the one from Jul 19 refused.
    expect(outcome.checkpoints).toEqual(["2025-04-10T21:00:00.000Z", "2025-07-19T21:00:00.000Z"]);
    expect(adapter.health().status).toBe("failed");
  });
});

describe("live mode: open advisories NVD has never answered for", () => {
  it("looks them up by cveId after the windows, so a CVE new to data.json but old in NVD is not missed", async () => {
    const server = await serve((seen, response) => {
      const id = seen.params.get("cveId");
      if (id === null) {
        sendJson(response, 200, nvdPage([], 0, 0, 0));
        return;
      }
      const index = range(10).find((candidate) => syntheticCveId(candidate) === id);
      const found = index === undefined ? [] : [syntheticCve(index)];
      sendJson(response, 200, nvdPage(found, 0, found.length, found.length));
    });
    const { adapter } = makeAdapter(settings(server.location, { lookup_limit: 5 }));
    const outcome = await collect(adapter, {
      checkpoint: "2026-01-14T00:00:00.000Z",
      openVulnIds: [syntheticCveId(1), syntheticCveId(3), "TEMP-0000123-ABCDEF"],
      observedVulnIds: new Set([syntheticCveId(1)]),
    });
    expect(outcome.error).toBeUndefined();
    expect(
      server.seen.filter((seen) => seen.params.has("cveId")).map((seen) => seen.params.get("cveId")),
    ).toEqual([syntheticCveId(3)]);
    expect(outcome.observations.map((observation) => observation.vuln_id)).toEqual([syntheticCveId(3)]);
    expect(outcome.checkpoints).toEqual([asOf.toISOString()]);
  });
});

describe("live mode: per-CVE look-ups for a few open advisories", () => {
  it("looks up each open CVE by cveId (not TEMP ids) when there is no checkpoint: incremental, no checkpoint", async () => {
    const server = await serve((seen, response) => {
      const id = seen.params.get("cveId");
      const index = range(10).find((candidate) => syntheticCveId(candidate) === id);
      const found = index === undefined ? [] : [syntheticCve(index)];
      sendJson(response, 200, nvdPage(found, 0, found.length, found.length));
    });
    const { adapter } = makeAdapter(settings(server.location, { lookup_limit: 3 }));
    const open = [syntheticCveId(4), "TEMP-0000123-ABCDEF", syntheticCveId(2)];
    const outcome = await collect(adapter, { openVulnIds: open });
    expect(server.seen.map((seen) => seen.params.get("cveId"))).toEqual([
      syntheticCveId(2),
      syntheticCveId(4),
    ]);
    expect(outcome.observations.map((o) => o.vuln_id)).toEqual([syntheticCveId(2), syntheticCveId(4)]);
    expect(outcome.incremental).toBe(true);
    expect(outcome.checkpoints).toEqual([]);
  });

  it("pulls everything when the open advisories are more than lookup_limit", async () => {
    const server = await serve(fullPulls(3));
    const { adapter } = makeAdapter(settings(server.location, { lookup_limit: 1 }));
    const outcome = await collect(adapter, { openVulnIds: [syntheticCveId(0), syntheticCveId(1)] });
    expect(server.seen.map((seen) => seen.params.get("cveId"))).toEqual([null]);
    expect(outcome.incremental).toBe(false);
    expect(outcome.checkpoints).toEqual([asOf.toISOString()]);
  });
});

describe("live mode: throttling, outages and bad pages", () => {
  it("retries through a storm of 403s (NVD's throttling) and then delivers", async () => {
    const pages = fullPulls(6);
    const server = await serve((seen, response, hit) => {
      if (hit <= 5) sendJson(response, 403, { message: "Forbidden" });
      else pages(seen, response, hit);
    });
    const { adapter, sleeps } = makeAdapter(settings(server.location));
    const outcome = await collect(adapter);
    expect(outcome.error).toBeUndefined();
    expect(outcome.observations).toHaveLength(6);
    expect(adapter.health()).toMatchObject({ status: "ok", requests: 7, retries: 5 });
    expect(sleeps.filter((ms) => ms > 0)).toHaveLength(5);
  });

  it("throws after a 503 storm longer than the retry budget, having yielded nothing as good data", async () => {
    const server = await serve((_seen, response) => sendJson(response, 503, { message: "backlog" }));
    const { adapter } = makeAdapter(settings(server.location));
    const outcome = await collect(adapter);
    expect(outcome.error).toBeInstanceOf(HttpError);
    expect((outcome.error as HttpError).status).toBe(503);
    expect((outcome.error as HttpError).transient).toBe(true);
    expect(errorMessage(outcome.error)).toContain("gave up after 12 attempts");
    expect(outcome.observations).toEqual([]);
    expect(outcome.checkpoints).toEqual([]);
    expect(server.seen).toHaveLength(12);
    expect(adapter.health()).toMatchObject({ status: "failed", observations: 0, requests: 12, retries: 11 });
  });

  it("throws when a later page fails for good: no checkpoint, the delivery is void", async () => {
    const pages = fullPulls(10);
    const server = await serve((seen, response, hit) => {
      if (seen.params.get("startIndex") === "4") sendJson(response, 503, { message: "backlog" });
      else pages(seen, response, hit);
    });
    const { adapter } = makeAdapter(settings(server.location));
    const outcome = await collect(adapter);
    expect(outcome.error).toBeInstanceOf(HttpError);
    expect(outcome.checkpoints).toEqual([]);
    expect(adapter.health().status).toBe("failed");
  });

  it("throws on a malformed page, naming the page", async () => {
    const server = await serve((seen, response) => {
      const startIndex = Number(seen.params.get("startIndex"));
      const records = range(10)
        .slice(startIndex, startIndex + 4)
        .map(syntheticCve);
      // The second page claims to be a different format version.
      sendJson(response, 200, {
        ...nvdPage(records, startIndex, 4, 10),
        version: startIndex === 4 ? "1.0" : "2.0",
      });
    });
    const { adapter } = makeAdapter(settings(server.location));
    const outcome = await collect(adapter);
    expect(outcome.error).toBeInstanceOf(PipelineError);
    const message = errorMessage(outcome.error);
    expect(message).toContain("malformed NVD response page");
    expect(message).toContain('version is "1.0", expected "2.0"');
    expect(message).toContain("startIndex=4");
    expect(outcome.checkpoints).toEqual([]);
    expect(adapter.health().error).toBe(message);
  });

  it("throws on a page that is not JSON, or that skips records, naming the page", async () => {
    const server = await serve((seen, response) => {
      if (seen.params.get("startIndex") === "0")
        sendJson(response, 200, nvdPage(range(4).map(syntheticCve), 4, 4, 10));
      else sendJson(response, 200, "{oops");
    });
    const { adapter } = makeAdapter(settings(server.location));
    const outcome = await collect(adapter);
    expect(errorMessage(outcome.error)).toMatch(/startIndex=0.*startIndex is 4, but 0 was asked for/);

    const broken = await serve((_seen, response) => sendJson(response, 200, "{oops"));
    const second = makeAdapter(settings(broken.location)).adapter;
    const failed = await collect(second);
    expect(failed.error).toBeInstanceOf(HttpError);
    expect(errorMessage(failed.error)).toMatch(/startIndex=0.*response is not valid JSON/);
  });
});

describe("the API key", () => {
  const key = "nvd-secret-0f1e2d3c-4b5a";

  it("goes in the apiKey header of every request and never in a URL, an error or the health", async () => {
    const pages = fullPulls(6);
    const server = await serve((seen, response, hit) => {
      if (seen.params.get("startIndex") === "4") sendJson(response, 503, { message: `echo ${key}` });
      else pages(seen, response, hit);
    });
    const { adapter } = makeAdapter(settings(server.location), key);
    const outcome = await collect(adapter);
    expect(outcome.error).toBeInstanceOf(HttpError);
    expect(server.seen.length).toBeGreaterThan(1);
    for (const seen of server.seen) {
      expect(seen.headers.apikey).toBe(key);
      expect(seen.params.toString()).not.toContain(key);
    }
    const shown = [
      errorMessage(outcome.error),
      inspect(outcome.error, { depth: 5 }),
      JSON.stringify(outcome.error),
      JSON.stringify(adapter.health()),
      JSON.stringify(outcome.items),
    ];
    for (const text of shown) expect(text).not.toContain(key);
  });

  it("is never sent outside NVD's API over https: no request reaches another server", async () => {
    const server = await serve(fullPulls(6));
    const { adapter } = makeAdapter(settings(server.location), key, { realKeyRule: true });
    const outcome = await collect(adapter);
    expect(outcome.error).toBeInstanceOf(PipelineError);
    expect(errorMessage(outcome.error)).toContain(
      `key sources.nvd.location: the API key was not sent to ${new URL(server.location).origin}: the NVD API key is sent only over https to services.nvd.nist.gov`,
    );
    expect(errorMessage(outcome.error)).not.toContain(key);
    expect(adapter.health()).toMatchObject({ status: "failed", requests: 0 });
    expect(server.seen).toHaveLength(0);

    // Without a key, the same server is a mirror like any other.
    const keyless = await collect(makeAdapter(settings(server.location)).adapter);
    expect(keyless.error).toBeUndefined();
    expect(keyless.observations).toHaveLength(6);
  });

  it("raises the default rate limit to 50 requests per 30 s", async () => {
    const server = await serve(fullPulls(40));
    const { adapter, sleeps } = makeAdapter(settings(server.location, { requests_per_30s: undefined }), key);
    const outcome = await collect(adapter);
    expect(outcome.observations).toHaveLength(40);
    expect(server.seen).toHaveLength(10);
    expect(sleeps).toEqual([]);
  });
});

describe("file and mock modes", () => {
  async function temporaryDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "nvd-adapter-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it.skipIf(!sharedPresent)(
    "reads the 170 real records in ../shared: rejected and disputed as the shared README counts them",
    async () => {
      const { adapter } = makeAdapter(settings(sharedNvd, { mode: "file" }));
      const outcome = await collect(adapter);
      expect(outcome.error).toBeUndefined();
      expect(outcome.rejections).toEqual([]);
      expect(outcome.observations).toHaveLength(170);
      expect(outcome.incremental).toBe(false);
      expect(outcome.checkpoints).toEqual([]);
      // README: no Rejected vulnStatus; 7 tagged disputed, and one more disputed in its description only.
      expect(tally(outcome.observations.map((o) => o.signal))).toEqual({ undetermined: 162, disputed: 8 });
      expect(outcome.observations.filter((o) => o.detail?.startsWith("cveTags disputed"))).toHaveLength(7);
      const ids = outcome.observations.map((o) => o.vuln_id);
      expect(ids).toEqual([...ids].sort());
      expect(adapter.health()).toMatchObject({ status: "ok", observations: 170, requests: 0 });
      expect(adapter.health().bytes).toBeGreaterThan(0);
    },
  );

  it("reads a directory of response pages, rejecting a malformed file with its path and going on", async () => {
    const dir = await temporaryDir();
    await writeFile(join(dir, "page-0.json"), JSON.stringify(nvdPage(range(4).map(syntheticCve), 0, 4, 10)));
    await writeFile(
      join(dir, "page-1.json"),
      JSON.stringify(nvdPage(range(4, 4).map(syntheticCve), 4, 4, 10)),
    );
    await writeFile(
      join(dir, "page-2.json"),
      JSON.stringify(nvdPage(range(2, 8).map(syntheticCve), 8, 4, 10)),
    );
    await writeFile(join(dir, "page-3.json"), "{ not json");
    await writeFile(
      join(dir, "page-4.json"),
      JSON.stringify({ ...nvdPage([], 0, 4, 0), format: "CVE_RECORD" }),
    );
    await writeFile(join(dir, "notes.txt"), "ignored");
    const { adapter } = makeAdapter(settings(dir, { mode: "file" }));
    const outcome = await collect(adapter);
    expect(outcome.error).toBeUndefined();
    expect(outcome.observations.map((o) => o.vuln_id)).toEqual(range(10).map(syntheticCveId));
    expect(outcome.observations[0]?.payload_ref).toBe(`${join(dir, "page-0.json")}#/vulnerabilities/0/cve`);
    expect(outcome.rejections.map((r) => [r.location.file, r.reason.split(":")[0]])).toEqual([
      [join(dir, "page-3.json"), "invalid JSON"],
      [join(dir, "page-4.json"), "malformed NVD response page"],
    ]);
    expect(outcome.incremental).toBe(false);
    expect(adapter.health()).toMatchObject({ status: "degraded", observations: 10, rejected: 2 });
    expect(adapter.progress()).toMatchObject({ pages: 3, recordsParsed: 10 });
  });

  it("reads a single page file, and filters it by vulnIds", async () => {
    const dir = await temporaryDir();
    const file = join(dir, "one.json");
    await writeFile(file, JSON.stringify(nvdPage(range(3).map(syntheticCve), 0, 3, 3)));
    const { adapter } = makeAdapter(settings(file, { mode: "file" }));
    const outcome = await collect(adapter, { vulnIds: new Set([syntheticCveId(1)]) });
    expect(outcome.observations.map((o) => o.vuln_id)).toEqual([syntheticCveId(1)]);
    // A record's facts are kept or dropped with its observation, and not counted as records.
    expect(factsOf(outcome.items).map((fact) => fact.vuln_id)).toEqual([syntheticCveId(1)]);
    expect(adapter.progress()).toMatchObject({ recordsParsed: 3, recordsKept: 1, recordsFiltered: 2 });
  });

  it("fails when the location is missing, empty or holds nothing usable", async () => {
    const dir = await temporaryDir();
    const missing = await collect(makeAdapter(settings(join(dir, "nope"), { mode: "file" })).adapter);
    expect(errorMessage(missing.error)).toBe(`${join(dir, "nope")}: file not found`);
    const empty = await collect(makeAdapter(settings(dir, { mode: "file" })).adapter);
    expect(errorMessage(empty.error)).toContain("no *.json file");
    await writeFile(join(dir, "bad.json"), "[");
    const unusable = await collect(makeAdapter(settings(dir, { mode: "file" })).adapter);
    expect(errorMessage(unusable.error)).toContain("none of the 1 file(s) is a usable NVD page or record");
    expect(unusable.rejections).toHaveLength(1);
  });

  it("reads the bundled sample in mock mode", async () => {
    const { adapter } = makeAdapter(settings(undefined, { mode: "mock" }));
    const outcome = await collect(adapter);
    expect(outcome.error).toBeUndefined();
    expect(outcome.observations.length).toBeGreaterThan(0);
    expect(outcome.observations.every((o) => o.payload_ref?.startsWith(sampleNvd))).toBe(true);
  });
});
