import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import {
  createHttpClient,
  type HttpClientOptions,
  HttpError,
  redirectRefusal,
} from "../../pipeline/sources/http/client.ts";
import { createRollingWindowLimiter } from "../../pipeline/sources/http/rate-limit.ts";
import { backoffDelay, parseRetryAfter } from "../../pipeline/sources/http/retry.ts";
import { nvdHostPolicy } from "../../pipeline/sources/nvd/hosts.ts";

// ---------------------------------------------------------------------------------------------------------
// A real HTTP server on 127.0.0.1 per test, a fake clock, and a client that never waits for real.

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The fake clock when the request arrived. */
  at: number;
}

interface TestServer {
  base: string;
  host: string;
  seen: Seen[];
}

const openServers: { close(): Promise<void> }[] = [];
const temporaryDirs: string[] = [];

afterEach(async () => {
  await Promise.all(openServers.splice(0).map((server) => server.close()));
  await Promise.all(temporaryDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const start = Date.UTC(2026, 0, 1, 0, 0, 0);
let fakeNow = start;

async function serve(
  handler: (request: Seen, response: ServerResponse, hit: number) => void,
): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const record = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: fakeNow,
      };
      seen.push(record);
      handler(record, response, seen.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  openServers.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { base: `http://${host}`, host, seen };
}

function fakeTime() {
  fakeNow = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: () => fakeNow,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      fakeNow += ms;
    },
  };
}

function testClient(options: HttpClientOptions = {}) {
  const time = fakeTime();
  const logs: string[] = [];
  const record = (message: string, fields?: Record<string, unknown>) =>
    logs.push(JSON.stringify({ message, fields }));
  const http = createHttpClient({
    clock: time.clock,
    sleep: time.sleep,
    random: () => 0.5,
    logger: { debug: record, warn: record },
    rateLimiting: false,
    ...options,
  });
  return { http, sleeps: time.sleeps, logs };
}

async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "http-client-"));
  temporaryDirs.push(dir);
  return dir;
}

async function failureOf(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

function json(response: ServerResponse, value: unknown, status = 200): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
}

/** Deterministic bytes, so that a file can be checked against what was sent. */
function patternBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let index = 0; index < size; index += 1) bytes[index] = (index * 31 + (index >> 12)) & 0xff;
  return bytes;
}

/** Sends `body` in 64 KiB chunks, with or without Content-Length. */
function sendInChunks(response: ServerResponse, body: Buffer, withLength: boolean): void {
  response.writeHead(200, withLength ? { "content-length": body.byteLength } : {});
  let offset = 0;
  const next = () => {
    while (offset < body.byteLength) {
      const chunk = body.subarray(offset, offset + 64 * 1024);
      offset += chunk.byteLength;
      if (!response.write(chunk)) {
        response.once("drain", next);
        return;
      }
    }
    response.end();
  };
  next();
}

// ---------------------------------------------------------------------------------------------------------

describe("retry arithmetic", () => {
  it("backs off exponentially with full jitter below a cap", () => {
    const policy = { baseDelayMs: 1000, maxDelayMs: 5000 };
    expect([1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, policy, () => 1))).toEqual([
      1000, 2000, 4000, 5000, 5000,
    ]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.25)).toBe(1000);
  });

  it("reads Retry-After as seconds or as an HTTP-date", () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseRetryAfter("30", now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
    expect(parseRetryAfter(new Date(now - 90_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe("the shared HTTP client", () => {
  it("pages through sequential requests", async () => {
    const items = ["CVE-2026-0001", "CVE-2026-0002", "CVE-2026-0003", "CVE-2026-0004", "CVE-2026-0005"];
    const server = await serve((request, response) => {
      const params = new URL(request.url, "http://x").searchParams;
      const startIndex = Number(params.get("startIndex"));
      const perPage = Number(params.get("resultsPerPage"));
      json(response, {
        startIndex,
        resultsPerPage: perPage,
        totalResults: items.length,
        vulnerabilities: items.slice(startIndex, startIndex + perPage).map((id) => ({ cve: { id } })),
      });
    });
    const { http } = testClient();
    type Page = { totalResults: number; vulnerabilities: { cve: { id: string } }[] };
    const received: string[] = [];
    let startIndex = 0;
    let totalResults = Number.POSITIVE_INFINITY;
    for (let page = 0; page < 10 && startIndex < totalResults; page += 1) {
      const { data } = await http.getJson<Page>(
        `${server.base}/cves?startIndex=${startIndex}&resultsPerPage=2`,
      );
      totalResults = data.totalResults;
      received.push(...data.vulnerabilities.map((item) => item.cve.id));
      startIndex += data.vulnerabilities.length;
    }
    expect(received).toEqual(items);
    expect(server.seen.map((request) => request.url)).toEqual([
      "/cves?startIndex=0&resultsPerPage=2",
      "/cves?startIndex=2&resultsPerPage=2",
      "/cves?startIndex=4&resultsPerPage=2",
    ]);
    expect(server.seen[0]?.headers.accept).toBe("application/json");
    expect(http.stats()).toMatchObject({ requests: 3, retries: 0, failures: 0, notModified: 0 });
  });

  it("retries a 403 storm on a host that throttles with 403, and not on other hosts", async () => {
    const stormThenOk = (_request: Seen, response: ServerResponse, hit: number) => {
      if (hit <= 3) response.writeHead(403, { "content-length": 9 }).end("Forbidden");
      else response.writeHead(200, { "content-length": 2 }).end("ok");
    };
    const nvdLike = await serve(stormThenOk);
    const plain = await serve(stormThenOk);
    const { http, sleeps } = testClient({ hosts: { [nvdLike.host]: { throttle403: true, maxAttempts: 5 } } });

    const result = await http.getBytes(`${nvdLike.base}/rest/json/cves/2.0`);
    expect(Buffer.from(result.body).toString()).toBe("ok");
    expect(result.attempts).toBe(4);
    expect(nvdLike.seen).toHaveLength(4);
    expect(sleeps).toHaveLength(3);

    const error = await failureOf(http.getBytes(`${plain.base}/resource`));
    expect(error).toBeInstanceOf(PipelineError);
    expect(error).toMatchObject({ kind: "status", status: 403, attempts: 1, transient: false });
    expect(error.message).toBe("HTTP 403 Forbidden");
    expect(plain.seen).toHaveLength(1);
    expect(http.stats().byHost[plain.host]).toMatchObject({ requests: 1, retries: 0, failures: 1 });
    expect(http.stats().byHost[nvdLike.host]).toMatchObject({ requests: 4, retries: 3, failures: 0 });
  });

  it("gives up on a 503 storm when the host's retry budget is spent", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(503, { "content-length": 11 }).end("Unavailable");
    });
    const { http, sleeps } = testClient({
      random: () => 1, // the top of the jitter range, so the waits are exactly the exponential ceilings
      hosts: {
        [server.host]: { maxAttempts: 50, retryBudgetMs: 10_000, baseDelayMs: 1000, maxDelayMs: 4000 },
      },
    });
    const error = await failureOf(http.getJson(`${server.base}/cves`));
    // Waits 1 s, 2 s, 4 s; the next 4 s wait would end at 11 s, past the 10 s budget.
    expect(sleeps).toEqual([1000, 2000, 4000]);
    expect(server.seen).toHaveLength(4);
    expect(error).toMatchObject({ kind: "status", status: 503, attempts: 4, transient: true });
    expect(error.url).toBe(`${server.base}/cves`);
    expect(error.message).toMatch(/^HTTP 503 Service Unavailable \(gave up after 4 attempts: .*budget/);
    expect(http.stats()).toMatchObject({ requests: 4, retries: 3, failures: 1, waitMs: 7000 });

    const capped = testClient({ hosts: { [server.host]: { maxAttempts: 3 } } });
    const second = await failureOf(capped.http.getBytes(`${server.base}/cves`));
    expect(second).toMatchObject({ status: 503, attempts: 3 });
    expect(second.message).toMatch(/gave up after 3 attempts/);
  });

  it("waits as long as Retry-After says, in seconds or as a date, capped by maxDelayMs", async () => {
    const retryAfter: (string | undefined)[] = [];
    const server = await serve((_request, response, hit) => {
      const value = retryAfter[hit - 1];
      if (value === undefined) json(response, { ok: true });
      else response.writeHead(429, { "retry-after": value }).end();
    });
    const check = async (values: (string | undefined)[], expected: number[]) => {
      server.seen.length = 0;
      const { http, sleeps } = testClient({ maxDelayMs: 30_000 });
      retryAfter.splice(0, retryAfter.length, ...values);
      const result = await http.getJson<{ ok: boolean }>(`${server.base}/limited`);
      expect(result.data).toEqual({ ok: true });
      expect(sleeps).toEqual(expected);
      expect(http.stats().waitMs).toBe(expected.reduce((sum, ms) => sum + ms, 0));
    };
    await check(["7", undefined], [7000]);
    await check([new Date(start + 12_000).toUTCString(), undefined], [12_000]);
    await check(["3600", undefined], [30_000]);
  });

  it("retries a request that times out, then fails with a timeout", async () => {
    const server = await serve(() => {
      // Never answers.
    });
    const { http } = testClient({ connectTimeoutMs: 100, maxAttempts: 2 });
    const began = performance.now();
    const error = await failureOf(http.getBytes(`${server.base}/slow`));
    expect(performance.now() - began).toBeLessThan(3000);
    expect(error).toMatchObject({ kind: "timeout", status: undefined, attempts: 2, transient: true });
    expect(error.message).toMatch(/timed out: no response headers within 100 ms/);
    expect(server.seen).toHaveLength(2);
  });

  it("retries a body that stalls past the total timeout", async () => {
    const server = await serve((_request, response, hit) => {
      if (hit === 1) {
        response.writeHead(200, { "content-length": 10 });
        response.write("12345"); // and never the rest
      } else {
        response.writeHead(200, { "content-length": 10 }).end("1234567890");
      }
    });
    const { http } = testClient({ timeoutMs: 150 });
    const result = await http.getBytes(`${server.base}/stall`);
    expect(Buffer.from(result.body).toString()).toBe("1234567890");
    expect(result.attempts).toBe(2);
  });

  it("retries a truncated body: Content-Length not reached, or the stream cut", async () => {
    const full = Buffer.from("x".repeat(1000));
    const server = await serve((request, response, hit) => {
      if (hit % 2 === 0) {
        response.writeHead(200, { "content-length": full.byteLength }).end(full);
      } else if (request.url === "/with-length") {
        response.writeHead(200, { "content-length": full.byteLength });
        response.write(full.subarray(0, 100), () => response.socket?.destroy());
      } else {
        response.writeHead(200); // chunked: only the stream breaking shows the cut
        response.write(full.subarray(0, 100), () => response.socket?.destroy());
      }
    });
    const { http, logs } = testClient();
    for (const path of ["/with-length", "/chunked"]) {
      const result = await http.getBytes(`${server.base}${path}`);
      expect(result.body.byteLength).toBe(full.byteLength);
      expect(result.attempts).toBe(2);
    }
    expect(http.stats()).toMatchObject({ requests: 4, retries: 2, failures: 0 });
    expect(logs.filter((line) => line.includes("truncated body"))).toHaveLength(2);
  });

  it("returns an empty 200 body as empty bytes, and refuses it as JSON without retrying", async () => {
    const server = await serve((request, response) => {
      if (request.url === "/chunked") response.writeHead(200).end();
      else response.writeHead(200, { "content-length": 0 }).end();
    });
    const { http } = testClient();
    for (const path of ["/empty", "/chunked"]) {
      const result = await http.getBytes(`${server.base}${path}`);
      expect(result).toMatchObject({ status: 200, size: 0, notModified: false, sha256: sha256("") });
      expect(result.body.byteLength).toBe(0);
    }
    const error = await failureOf(http.getJson(`${server.base}/empty`));
    expect(error).toMatchObject({ kind: "invalid_json", status: 200, attempts: 1, transient: false });
    expect(server.seen).toHaveLength(3);
  });

  it("sends If-None-Match/If-Modified-Since and returns the cached body on 304", async () => {
    const lastModified = "Wed, 31 Dec 2025 23:00:00 GMT";
    const body = JSON.stringify({ openssl: { "CVE-2026-0001": { releases: {} } } });
    const server = await serve((request, response) => {
      if (request.headers["if-none-match"] === '"v1"') {
        response.writeHead(304, { etag: '"v1"' }).end();
        return;
      }
      response.writeHead(200, {
        etag: '"v1"',
        "last-modified": lastModified,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      response.end(body);
    });
    const cacheDir = await temporaryDir();
    const { http } = testClient({ cacheDir });
    const url = `${server.base}/tracker/data/json`;

    const first = await http.getJson(url);
    expect(first).toMatchObject({
      status: 200,
      notModified: false,
      fetchedAt: new Date(start).toISOString(),
    });
    expect(server.seen[0]?.headers["if-none-match"]).toBeUndefined();

    const second = await http.getJson(url);
    expect(second).toMatchObject({ status: 304, notModified: true, data: first.data, sha256: first.sha256 });
    expect(server.seen[1]?.headers["if-none-match"]).toBe('"v1"');
    expect(server.seen[1]?.headers["if-modified-since"]).toBe(lastModified);
    expect(http.stats()).toMatchObject({ requests: 2, notModified: 1 });

    const files = (await readdir(cacheDir)).sort();
    expect(files).toHaveLength(2);
    expect(files.some((name) => name.endsWith(".tmp"))).toBe(false);
    const metaFile = files.find((name) => name.endsWith(".meta.json")) as string;
    expect(JSON.parse(await readFile(join(cacheDir, metaFile), "utf8"))).toEqual({
      url,
      etag: '"v1"',
      lastModified,
      contentType: "application/json",
      fetchedAt: new Date(start).toISOString(),
      size: Buffer.byteLength(body),
      sha256: sha256(body),
    });

    // A damaged cached body is not served: the client asks again without validators.
    const bodyFile = files.find((name) => name.endsWith(".body")) as string;
    await writeFile(join(cacheDir, bodyFile), body.replace("openssl", "openss1"));
    const third = await http.getBytes(url);
    expect(third.notModified).toBe(false);
    expect(Buffer.from(third.body).toString()).toBe(body);
    expect(server.seen.map((request) => request.headers["if-none-match"])).toEqual([
      undefined,
      '"v1"',
      '"v1"',
      undefined,
    ]);

    // cache: false neither sends validators nor reads the cache.
    await http.getBytes(url, { cache: false });
    expect(server.seen[4]?.headers["if-none-match"]).toBeUndefined();
  });

  it("fails at once, without retrying, when the body exceeds the size cap", async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    const server = await serve((request, response) => {
      sendInChunks(response, big, request.url === "/declared");
    });
    const { http } = testClient({ maxBytes: 1024 * 1024 });
    for (const path of ["/declared", "/chunked"]) {
      const error = await failureOf(http.getBytes(`${server.base}${path}`));
      expect(error).toMatchObject({ kind: "too_large", attempts: 1, transient: false });
      expect(error.message).toMatch(/larger than the 1048576-byte limit/);
    }
    expect(server.seen).toHaveLength(2);
    expect(http.stats()).toMatchObject({ requests: 2, retries: 0, failures: 2 });
  });

  it("streams a multi-megabyte body to a file in the cache, within the cap, conditionally", async () => {
    const payload = patternBytes(8 * 1024 * 1024 + 123);
    const server = await serve((request, response) => {
      if (request.headers["if-modified-since"] === "Thu, 01 Jan 2026 00:00:00 GMT") {
        response.writeHead(304).end();
        return;
      }
      response.setHeader("last-modified", "Thu, 01 Jan 2026 00:00:00 GMT");
      sendInChunks(response, payload, request.url === "/all.zip"); // the others without Content-Length
    });
    const cacheDir = await temporaryDir();
    const { http } = testClient({ cacheDir, maxBytes: 16 * 1024 * 1024 });

    const first = await http.getToFile(`${server.base}/all.zip`);
    expect(first).toMatchObject({
      status: 200,
      notModified: false,
      size: payload.byteLength,
      sha256: sha256(payload),
    });
    expect(first.path.startsWith(cacheDir)).toBe(true);
    expect(sha256(await readFile(first.path))).toBe(sha256(payload));
    expect(first).not.toHaveProperty("body");

    const second = await http.getToFile(`${server.base}/all.zip`);
    expect(second).toMatchObject({
      status: 304,
      notModified: true,
      path: first.path,
      sha256: sha256(payload),
    });

    const chunked = await http.getToFile(`${server.base}/all-chunked.zip`);
    expect(chunked.size).toBe(payload.byteLength);

    const capped = await failureOf(
      http.getToFile(`${server.base}/over-cap.zip`, { maxBytes: 4 * 1024 * 1024 }),
    );
    expect(capped).toMatchObject({ kind: "too_large", attempts: 1 });
    const files = await readdir(cacheDir);
    expect(files.some((name) => name.endsWith(".tmp"))).toBe(false);
    expect(files).toHaveLength(4); // body + meta for all.zip and all-chunked.zip; nothing for over-cap.zip
    expect(http.stats().bytesReceived).toBeGreaterThanOrEqual(2 * payload.byteLength);
  });

  it("posts JSON through the same retries", async () => {
    const server = await serve((request, response, hit) => {
      if (hit === 1) {
        response.writeHead(503).end();
        return;
      }
      const { queries } = JSON.parse(request.body) as { queries: unknown[] };
      json(response, { results: queries.map(() => ({ vulns: [{ id: "DEBIAN-CVE-2026-0001" }] })) });
    });
    const cacheDir = await temporaryDir();
    const { http } = testClient({ cacheDir });
    const query = { queries: [{ package: { name: "openssl", ecosystem: "Debian" } }, { commit: "abc" }] };
    const result = await http.postJson<{ results: unknown[] }>(`${server.base}/v1/querybatch`, query);
    expect(result.data.results).toHaveLength(2);
    expect(result.attempts).toBe(2);
    expect(server.seen.map((request) => [request.method, request.body])).toEqual([
      ["POST", JSON.stringify(query)],
      ["POST", JSON.stringify(query)],
    ]);
    expect(server.seen[0]?.headers["content-type"]).toBe("application/json");
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it("spaces requests in a rolling window, and can be switched off", async () => {
    const server = await serve((_request, response) => response.writeHead(200).end("ok"));
    const { http } = testClient({
      rateLimiting: true,
      hosts: { [server.host]: { rateLimit: { requests: 2, windowMs: 1000 } } },
    });
    const url = `${server.base}/cves`;
    await http.getBytes(url); // t = 0
    fakeNow += 900; // the caller works for 900 ms
    await http.getBytes(url); // t = 900: second slot of the window that began at 0
    await http.getBytes(url); // waits until 1000, when the request at 0 leaves the window
    await http.getBytes(url); // waits until 1900 (a fixed 1 s bucket would have let it go at 1000)
    expect(server.seen.map((request) => request.at - start)).toEqual([0, 900, 1000, 1900]);
    expect(http.stats().waitMs).toBe(1000);

    // Concurrent callers take turns: never more than 2 starts in any 1000 ms.
    server.seen.length = 0;
    const concurrent = testClient({
      rateLimiting: true,
      hosts: { [server.host]: { rateLimit: { requests: 2, windowMs: 1000 } } },
    });
    await Promise.all([1, 2, 3, 4, 5].map(() => concurrent.http.getBytes(url)));
    expect(server.seen).toHaveLength(5);
    expect(concurrent.sleeps).toEqual([1000, 1000]); // the 3rd waits for the 1st to age out, the 5th for the 3rd
    expect(fakeNow - start).toBe(2000);

    server.seen.length = 0;
    const unlimited = testClient({
      rateLimiting: false,
      hosts: { [server.host]: { rateLimit: { requests: 2, windowMs: 1000 } } },
    });
    for (let index = 0; index < 5; index += 1) await unlimited.http.getBytes(url);
    expect(unlimited.sleeps).toEqual([]);
    expect(server.seen.map((request) => request.at - start)).toEqual([0, 0, 0, 0, 0]);
  });

  it("keeps NVD's limit at 5 per 30 s without a key and 50 with one", async () => {
    expect(nvdHostPolicy().rateLimit).toEqual({ requests: 5, windowMs: 30_000 });
    expect(nvdHostPolicy("k").rateLimit).toEqual({ requests: 50, windowMs: 30_000 });
    const time = fakeTime();
    const limiter = createRollingWindowLimiter({ requests: 5, windowMs: 30_000 }, time.clock, time.sleep);
    const starts: number[] = [];
    for (let index = 0; index < 12; index += 1) {
      await limiter.acquire();
      starts.push(fakeNow - start);
    }
    expect(starts).toEqual([0, 0, 0, 0, 0, 30_000, 30_000, 30_000, 30_000, 30_000, 60_000, 60_000]);
  });

  it("never lets the API key out: not in errors, logs, stats, results or the cache", async () => {
    const apiKey = "nvd-key-3f9a1c2e-7b4d-4e8f-a1b2-c3d4e5f6a7b8";
    const server = await serve((request, response) => {
      const path = new URL(request.url, "http://x").pathname;
      switch (path) {
        case "/ok":
          response.setHeader("x-echoed-key", String(request.headers.apikey));
          json(response, { ok: true });
          return;
        case "/403":
          response.writeHead(403).end(`denied for ${request.headers.apikey}`);
          return;
        case "/503":
          response.writeHead(503, { "retry-after": "1" }).end();
          return;
        case "/404":
          response.writeHead(404).end();
          return;
        case "/big":
          sendInChunks(response, Buffer.alloc(4096, 0x61), true);
          return;
        case "/cut":
          response.writeHead(200, { "content-length": 1000 });
          response.write("partial", () => response.socket?.destroy());
          return;
        case "/not-json":
          response.writeHead(200).end(`apiKey=${request.headers.apikey} is not JSON`);
          return;
        case "/redirect":
          response.writeHead(302, { location: "http://127.0.0.2:9/elsewhere" }).end();
          return;
        default:
          // /hang: never answers
          return;
      }
    });
    const closed = await serve(() => undefined);
    await openServers.pop()?.close(); // a port where nothing listens any more: connection refused
    const cacheDir = await temporaryDir();
    // NVD's policy with the key as a host header (the NVD adapter sends it per request instead).
    const nvd = { ...nvdHostPolicy(apiKey), headers: { apiKey } };
    const policy = { ...nvd, rateLimit: undefined, maxAttempts: 2, connectTimeoutMs: 100, maxBytes: 1024 };
    const { http, logs } = testClient({
      cacheDir,
      hosts: { [server.host]: policy, [closed.host]: policy },
    });

    const ok = await http.getJson(`${server.base}/ok?startIndex=0`);
    expect(server.seen[0]?.headers.apikey).toBe(apiKey); // it was sent
    const withQueryKey = await http.getJson(`${server.base}/ok?apiKey=${apiKey}&startIndex=0`);
    expect(withQueryKey.url).toBe(`${server.base}/ok?apiKey=REDACTED&startIndex=0`);

    const failing = [
      () => http.getBytes(`${server.base}/403`),
      () => http.getBytes(`${server.base}/503`),
      () => http.getBytes(`${server.base}/404?apiKey=${apiKey}`),
      () => http.getBytes(`${server.base}/big`),
      () => http.getBytes(`${server.base}/cut`),
      () => http.getToFile(`${server.base}/cut`),
      () => http.getJson(`${server.base}/not-json`),
      () => http.getBytes(`${server.base}/redirect`),
      () => http.getBytes(`${server.base}/hang`),
      () => http.postJson(`${server.base}/503`, { apiKey }),
      () => http.getBytes(`http://user:${apiKey}@${server.host}/404`),
      () => http.getBytes(`${closed.base}/refused`),
    ];
    const errors: HttpError[] = [];
    for (const request of failing) errors.push(await failureOf(request()));
    expect(errors.map((error) => error.kind)).toEqual([
      "status",
      "status",
      "status",
      "too_large",
      "truncated",
      "truncated",
      "invalid_json",
      "redirect",
      "timeout",
      "status",
      "status",
      "network",
    ]);
    expect(errors[0]).toMatchObject({ status: 403, attempts: 2, transient: true });

    // Cached metadata, not bodies: a body is the server's content, kept byte for byte (here /not-json echoes
    // the key in its body, which is the server's doing).
    const cacheFiles = await Promise.all(
      (await readdir(cacheDir))
        .filter((name) => name.endsWith(".meta.json"))
        .map(async (name) => `${name}\n${await readFile(join(cacheDir, name), "utf8")}`),
    );
    expect(cacheFiles.length).toBeGreaterThanOrEqual(2);
    const haystack = [
      ...errors.flatMap((error) => [
        String(error),
        error.stack ?? "",
        error.describe(),
        JSON.stringify(error),
        inspect(error, { showHidden: true, depth: null }),
      ]),
      ...logs,
      JSON.stringify(http.stats()),
      JSON.stringify(ok),
      JSON.stringify(withQueryKey),
      ...cacheFiles,
    ].join("\n");
    expect(logs.length).toBeGreaterThan(0);
    expect(ok.headers["x-echoed-key"]).toBe("[redacted]");
    expect(haystack).not.toContain(apiKey);
    expect(haystack).not.toContain(encodeURIComponent(apiKey));
    expect(haystack).toContain("[redacted]");
  });
});

describe("redirects", () => {
  it("follows one within the same http origin, keeping the cache, the size limit and the timeouts", async () => {
    const body = JSON.stringify({ moved: true });
    const server = await serve((request, response) => {
      const path = new URL(request.url, "http://x").pathname;
      if (path.startsWith("/old/")) {
        // Relative and absolute Location headers alike.
        const target = path === "/old/json" ? "/new/json" : `${server.base}${path.replace("/old/", "/new/")}`;
        response.writeHead(path === "/old/json" ? 301 : 307, { location: target }).end();
      } else if (path === "/new/json") {
        if (request.headers["if-none-match"] === '"m1"') {
          response.writeHead(304, { etag: '"m1"' }).end();
          return;
        }
        response.writeHead(200, { etag: '"m1"', "content-length": Buffer.byteLength(body) }).end(body);
      } else if (path === "/new/big") {
        sendInChunks(response, Buffer.alloc(4096, 0x61), false);
      }
      // /new/hang: never answers
    });
    const { http } = testClient({ cacheDir: await temporaryDir(), connectTimeoutMs: 100, maxAttempts: 1 });

    const first = await http.getJson(`${server.base}/old/json`);
    expect(first).toMatchObject({ status: 200, notModified: false, data: { moved: true } });
    expect(first.url).toBe(`${server.base}/old/json`);
    const second = await http.getJson(`${server.base}/old/json`);
    expect(second).toMatchObject({ status: 304, notModified: true, data: { moved: true } });
    // The validators went on to the redirect's target, which answered 304.
    expect(server.seen.map((seen) => [seen.url, seen.headers["if-none-match"]])).toEqual([
      ["/old/json", undefined],
      ["/new/json", undefined],
      ["/old/json", '"m1"'],
      ["/new/json", '"m1"'],
    ]);
    expect(http.stats()).toMatchObject({ requests: 4, notModified: 1, failures: 0 });

    const big = await failureOf(http.getBytes(`${server.base}/old/big`, { maxBytes: 1024, cache: false }));
    expect(big).toMatchObject({ kind: "too_large", attempts: 1 });
    const hang = await failureOf(http.getBytes(`${server.base}/old/hang`, { cache: false }));
    expect(hang).toMatchObject({ kind: "timeout" });
    expect(hang.message).toMatch(/no response headers within 100 ms/);
  });

  it("refuses one to another host or port, naming both, without retrying or reaching the other host", async () => {
    const other = await serve((_request, response) => json(response, { stolen: true }));
    const otherPort = other.host.split(":")[1];
    const server = await serve((request, response) => {
      const targets: Record<string, string> = {
        "/to-other-port": `${other.base}/data.json`,
        "/to-localhost": `http://localhost:${server.host.split(":")[1]}/data.json`,
        "/to-https-elsewhere": `https://localhost:${otherPort}/data.json`,
      };
      const target = targets[request.url];
      if (target) response.writeHead(302, { location: target }).end();
      else json(response, { ok: true });
    });
    const { http } = testClient({ maxAttempts: 4 });
    const refusals = [
      ["/to-other-port", other.base],
      ["/to-localhost", `http://localhost:${server.host.split(":")[1]}`],
      ["/to-https-elsewhere", `https://localhost:${otherPort}`],
    ] as const;
    for (const [path, target] of refusals) {
      const error = await failureOf(http.getBytes(`${server.base}${path}`));
      expect(error).toMatchObject({ kind: "redirect", status: 302, attempts: 1, transient: false });
      expect(error.message).toContain(`redirect from ${server.base} to ${target} refused`);
      expect(error.message).toMatch(/only to the request's own host/);
    }
    expect(server.seen.map((seen) => seen.url)).toEqual(refusals.map(([path]) => path));
    expect(other.seen).toHaveLength(0);
  });

  it("stops a chain longer than five hops, and turns a POST into a GET on 303", async () => {
    const server = await serve((request, response) => {
      const loop = /^\/loop\/(\d+)$/.exec(request.url);
      if (loop) response.writeHead(302, { location: `/loop/${Number(loop[1]) + 1}` }).end();
      else if (request.url === "/submit") response.writeHead(303, { location: "/result" }).end();
      else json(response, { method: request.method, body: request.body });
    });
    const { http } = testClient();
    const error = await failureOf(http.getBytes(`${server.base}/loop/0`));
    expect(error).toMatchObject({ kind: "redirect", attempts: 1 });
    expect(error.message).toMatch(/more than 5 redirects/);
    expect(server.seen.map((seen) => seen.url)).toEqual([0, 1, 2, 3, 4, 5].map((hop) => `/loop/${hop}`));

    const posted = await http.postJson<{ method: string; body: string }>(`${server.base}/submit`, { a: 1 });
    expect(posted.data).toEqual({ method: "GET", body: "" });
    expect(server.seen.at(-2)).toMatchObject({ method: "POST", body: '{"a":1}' });
  });

  it("sends secret headers along only to the same host over https, never over plain http", async () => {
    const server = await serve((request, response) => {
      if (request.url === "/moved") response.writeHead(301, { location: "/here" }).end();
      else json(response, { ok: true });
    });
    const { http } = testClient({
      hosts: { [server.host]: { headers: { "x-api-key": "s3cret-value-1234" } } },
    });
    const error = await failureOf(http.getBytes(`${server.base}/moved`));
    expect(error).toMatchObject({ kind: "redirect", status: 301, attempts: 1 });
    expect(error.message).toMatch(
      /carrying secret headers follows redirects only to its own host over https/,
    );
    expect(server.seen.map((seen) => seen.url)).toEqual(["/moved"]);
  });

  it("allows the same host over https, refuses a downgrade to http, another port or credentials", () => {
    const check = (from: string, to: string, secrets = false, requested = from) =>
      redirectRefusal(new URL(requested), new URL(from), new URL(to), secrets);
    expect(check("https://a.example/x", "https://a.example/y")).toBeUndefined();
    expect(check("https://a.example/x", "https://a.example:443/y", true)).toBeUndefined();
    expect(check("http://a.example/x", "https://a.example/y", true)).toBeUndefined();
    expect(check("http://a.example/x", "http://a.example/y")).toBeUndefined();
    expect(check("https://a.example/x", "http://a.example/y")).toMatch(
      /^redirect from https:\/\/a\.example to http:\/\/a\.example refused/,
    );
    expect(check("http://a.example/x", "http://a.example/y", true)).toMatch(/carrying secret headers/);
    // Back to http after an upgrade is a downgrade too.
    expect(check("https://a.example/y", "http://a.example/z", false, "http://a.example/x")).toMatch(
      /refused/,
    );
    expect(check("https://a.example/x", "https://a.example:8443/y")).toMatch(/a\.example:8443 refused/);
    expect(check("https://a.example/x", "https://b.example/y")).toMatch(/to https:\/\/b\.example refused/);
    expect(check("https://a.example/x", "https://user:pw@a.example/y")).toMatch(/refused/);
    expect(check("https://a.example/x", "https://user:pw@a.example/y")).not.toContain("pw");
    expect(check("https://a.example/x", "ftp://a.example/y")).toMatch(/to ftp:\/\/a\.example refused/);
  });
});

describe("the client's size limit", () => {
  it("is a ceiling that neither a host policy nor a request raises", async () => {
    const server = await serve((_request, response) =>
      sendInChunks(response, Buffer.alloc(8192, 0x61), true),
    );
    const { http } = testClient({ maxBytes: 4096, hosts: { [server.host]: { maxBytes: 64 * 1024 * 1024 } } });
    const byHost = await failureOf(http.getBytes(`${server.base}/a`));
    expect(byHost).toMatchObject({ kind: "too_large" });
    expect(byHost.message).toMatch(/4096-byte limit/);
    const byRequest = await failureOf(http.getBytes(`${server.base}/b`, { maxBytes: 1024 * 1024 }));
    expect(byRequest.message).toMatch(/4096-byte limit/);
    // Below the ceiling, the smaller limit holds.
    const smaller = await failureOf(http.getBytes(`${server.base}/c`, { maxBytes: 1024 }));
    expect(smaller.message).toMatch(/1024-byte limit/);
  });
});
