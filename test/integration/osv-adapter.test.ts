import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpClient, HttpError } from "../../pipeline/sources/http/client.ts";
import type { UpstreamItem } from "../../pipeline/sources/osv/helpers.ts";
import { type OsvConfig, osvAdapter } from "../../pipeline/sources/osv/index.ts";
import type { FetchContext, Rejection } from "../../pipeline/sources/types.ts";
import { type UpstreamObservation, upstreamObservation } from "../../pipeline/sources/upstream.ts";
import { type OsvRecordSpec, osvRecord } from "../../tools/synthetic/osv.ts";
import { buildZip } from "../../tools/synthetic/zip.ts";
import { testFetchContext } from "../helpers/context.ts";

// ---------------------------------------------------------------------------------------------------------
// A real HTTP server on 127.0.0.1 per test, serving a small synthetic OSV: the Debian bucket (all.zip,
// modified_id.csv, with ETag/Last-Modified and 304s) and the API (/v1/querybatch, /v1/vulns/{id}). The HTTP
// client gets a temporary cache directory and a sleep that only moves a fake clock, so nothing waits.

/** The bucket's records: fixed in Debian:12, open, withdrawn, a DSA naming two CVEs, a package not ours. */
function baseRecords(): OsvRecordSpec[] {
  return [
    {
      id: "DEBIAN-CVE-2025-0001",
      modified: "2026-01-10T00:00:00Z",
      affected: [
        { name: "openssl", ecosystem: "Debian:12", fixed: "3.0.15-1~deb12u1" },
        { name: "openssl", ecosystem: "Debian:13" },
      ],
    },
    {
      id: "DEBIAN-CVE-2025-0002",
      modified: "2026-01-11T08:00:00.123456Z",
      affected: [
        { name: "curl", ecosystem: "Debian:12" },
        { name: "curl", ecosystem: "Debian:13" },
      ],
    },
    {
      id: "DEBIAN-CVE-2025-0003",
      modified: "2026-01-09T00:00:00Z",
      withdrawn: "2026-01-09T00:00:00Z",
      affected: [{ name: "zlib", ecosystem: "Debian:12" }],
    },
    {
      id: "DEBIAN-CVE-2025-0005",
      modified: "2026-01-08T00:00:00Z",
      affected: [{ name: "curl", ecosystem: "Debian:12", fixed: "7.88.1-10+deb12u9" }],
    },
    {
      id: "DSA-5999-1",
      modified: "2026-01-07T00:00:00Z",
      upstream: ["CVE-2025-0002", "CVE-2025-0006"],
      affected: [{ name: "curl", ecosystem: "Debian:12", fixed: "7.88.1-10+deb12u10" }],
    },
    {
      id: "DEBIAN-CVE-2025-0004",
      modified: "2026-01-12T06:30:00.654321Z",
      affected: [{ name: "gimp", ecosystem: "Debian:12", fixed: "2.10.34-1+deb12u3" }],
    },
  ];
}

const newestModified = "2026-01-12T06:30:00.654321Z";
const ourPackages: ReadonlySet<string> = new Set(["openssl", "curl", "zlib"]);

interface Bucket {
  records: Map<string, OsvRecordSpec>;
  /** Listed by querybatch but answered 404 by /v1/vulns/{id} (deleted in between). */
  ghosts: Map<string, string>;
  /** Extra zip entries (hostile names), placed after the first record. */
  extraEntries: { name: string; data: string }[];
  /** Status that every all.zip request gets instead of the archive (a 503 storm). */
  zipStatus: number | null;
  /** querybatch results per page. */
  pageSize: number;
}

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

function csvOf(records: Iterable<OsvRecordSpec>): string {
  return [...records]
    .sort((a, b) => (a.modified < b.modified ? 1 : -1))
    .map((record) => `${record.modified},${record.id}\n`)
    .join("");
}

function zipOf(bucket: Bucket): Buffer {
  const entries = [...bucket.records.values()].map((record) => ({
    name: `${record.id}.json`,
    data: JSON.stringify(osvRecord(record)),
  }));
  entries.splice(1, 0, ...bucket.extraEntries);
  return buildZip(entries);
}

async function serveOsv(bucket: Bucket) {
  const seen: Seen[] = [];
  /** 200 responses with a body, per path. */
  const bodies = new Map<string, number>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = new URL(request.url ?? "/", "http://localhost").pathname;
      const entry: Seen = {
        method: request.method ?? "GET",
        path,
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        status: 0,
      };
      seen.push(entry);
      const send = (
        status: number,
        body: string | Buffer,
        type: string,
        extra: Record<string, string> = {},
      ) => {
        entry.status = status;
        if (status === 200) bodies.set(path, (bodies.get(path) ?? 0) + 1);
        response.writeHead(status, {
          "content-type": type,
          "content-length": Buffer.byteLength(body),
          ...extra,
        });
        response.end(body);
      };
      const conditional = (body: string | Buffer, type: string) => {
        const etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
        const lastModified = new Date(Date.UTC(2026, 0, 12)).toUTCString();
        const validators = { etag, "last-modified": lastModified };
        const ifNoneMatch = request.headers["if-none-match"];
        const ifModifiedSince = request.headers["if-modified-since"];
        if (ifNoneMatch === etag || (ifNoneMatch === undefined && ifModifiedSince === lastModified)) {
          entry.status = 304;
          response.writeHead(304, validators);
          response.end();
          return;
        }
        send(200, body, type, validators);
      };
      if (entry.method === "GET" && path === "/Debian/modified_id.csv") {
        conditional(csvOf(bucket.records.values()), "text/csv");
      } else if (entry.method === "GET" && path === "/Debian/all.zip") {
        if (bucket.zipStatus !== null) send(bucket.zipStatus, "backend unavailable", "text/plain");
        else conditional(zipOf(bucket), "application/zip");
      } else if (entry.method === "GET" && path.startsWith("/v1/vulns/")) {
        const id = decodeURIComponent(path.slice("/v1/vulns/".length));
        const record = bucket.records.get(id);
        if (record) send(200, JSON.stringify(osvRecord(record)), "application/json");
        else send(404, JSON.stringify({ code: 5, message: "Bug not found." }), "application/json");
      } else if (entry.method === "POST" && path === "/v1/querybatch") {
        send(200, JSON.stringify(queryBatch(bucket, JSON.parse(entry.body))), "application/json");
      } else {
        send(404, "not found", "text/plain");
      }
    });
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
  const requests = (method: string, path: string) =>
    seen.filter((entry) => entry.method === method && entry.path === path);
  return { base: `http://127.0.0.1:${port}`, seen, bodies, requests };
}

interface Query {
  package: { name: string; ecosystem: string };
  page_token?: string;
}

/** OSV's querybatch: ids and modified only, `pageSize` per page, a next_page_token while more remain. */
function queryBatch(bucket: Bucket, body: { queries: Query[] }) {
  return {
    results: body.queries.map((query) => {
      const matching = [
        ...[...bucket.records.values()]
          .filter((record) =>
            (record.affected ?? []).some(
              (affected) =>
                affected.name === query.package.name && affected.ecosystem === query.package.ecosystem,
            ),
          )
          .map((record) => ({ id: record.id, modified: record.modified })),
        ...[...bucket.ghosts.entries()]
          .filter(([, name]) => name === query.package.name)
          .map(([id]) => ({ id, modified: "2026-01-01T00:00:00Z" })),
      ].sort((a, b) => (a.id < b.id ? -1 : 1));
      const start = Number(query.page_token ?? 0);
      const page = matching.slice(start, start + bucket.pageSize);
      const more = start + bucket.pageSize < matching.length;
      if (page.length === 0) return {};
      return { vulns: page, ...(more ? { next_page_token: String(start + bucket.pageSize) } : {}) };
    }),
  };
}

function newBucket(overrides: Partial<Bucket> = {}): Bucket {
  return {
    records: new Map(baseRecords().map((record) => [record.id, record])),
    ghosts: new Map(),
    extraEntries: [],
    zipStatus: null,
    pageSize: 2,
    ...overrides,
  };
}

function settings(base: string, overrides: Partial<OsvConfig> = {}): OsvConfig {
  return {
    enabled: true,
    mode: "live",
    location: `${base}/Debian`,
    max_age_hours: 48,
    ecosystems: ["Debian:12", "Debian:13"],
    api_url: base,
    lookup_limit: 1000,
    ...overrides,
  };
}

async function makeClient() {
  const cacheDir = await mkdtemp(join(tmpdir(), "osv-adapter-"));
  cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
  let now = Date.UTC(2026, 0, 15);
  const sleeps: number[] = [];
  return {
    http: createHttpClient({
      cacheDir,
      clock: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
      random: () => 0.5,
      logger: { debug: () => undefined, warn: () => undefined },
      rateLimiting: false,
    }),
    sleeps,
  };
}

interface Outcome {
  items: UpstreamItem[];
  kinds: string[];
  observations: UpstreamObservation[];
  rejections: Rejection[];
  checkpoints: string[];
  error: unknown;
}

async function run(
  config: OsvConfig,
  http: ReturnType<typeof createHttpClient>,
  overrides: Partial<FetchContext> = {},
): Promise<Outcome> {
  const adapter = osvAdapter(config, { http, mockLocation: "/nonexistent" });
  const items: UpstreamItem[] = [];
  let error: unknown;
  try {
    for await (const item of adapter.fetch(testFetchContext({ packages: ourPackages, ...overrides }))) {
      items.push(item);
    }
  } catch (caught) {
    error = caught;
  }
  return {
    items,
    kinds: [...new Set(items.map((item) => item.kind))],
    observations: items.flatMap((item) => (item.kind === "observation" ? [item.observation] : [])),
    rejections: items.flatMap((item) => (item.kind === "rejected" ? [item.rejection] : [])),
    checkpoints: items.flatMap((item) => (item.kind === "checkpoint" ? [item.value] : [])),
    error,
  };
}

/** vuln_id / package / release / signal / fixed_version, sorted, for compact comparisons. */
function summary(observations: readonly UpstreamObservation[]): string[] {
  return observations
    .map((o) =>
      [o.vuln_id, o.record_id, o.package_name, o.release, o.signal, o.fixed_version ?? "-"].join(" "),
    )
    .sort();
}

const fullSummary = [
  "CVE-2025-0001 DEBIAN-CVE-2025-0001 openssl bookworm fixed 3.0.15-1~deb12u1",
  "CVE-2025-0001 DEBIAN-CVE-2025-0001 openssl trixie open -",
  "CVE-2025-0002 DEBIAN-CVE-2025-0002 curl bookworm open -",
  "CVE-2025-0002 DEBIAN-CVE-2025-0002 curl trixie open -",
  "CVE-2025-0002 DSA-5999-1 curl bookworm fixed 7.88.1-10+deb12u10",
  "CVE-2025-0003 DEBIAN-CVE-2025-0003 zlib bookworm withdrawn -",
  "CVE-2025-0005 DEBIAN-CVE-2025-0005 curl bookworm fixed 7.88.1-10+deb12u9",
  "CVE-2025-0006 DSA-5999-1 curl bookworm fixed 7.88.1-10+deb12u10",
];

// ---------------------------------------------------------------------------------------------------------

describe("live mode: the bucket (all.zip, then modified_id.csv)", () => {
  it("downloads all.zip on the first run: a full delivery filtered to our packages, checkpointed at the newest modified_id time", async () => {
    const server = await serveOsv(newBucket());
    const { http } = await makeClient();
    const outcome = await run(settings(server.base), http);
    expect(outcome.error).toBeUndefined();
    expect(outcome.kinds).toEqual(["observation", "checkpoint"]);
    expect(summary(outcome.observations)).toEqual(fullSummary);
    for (const observation of outcome.observations) upstreamObservation.parse(observation);
    expect(outcome.observations.some((o) => o.package_name === "gimp")).toBe(false);
    expect(outcome.checkpoints).toEqual([newestModified]);
    expect(outcome.items.at(-1)).toEqual({ kind: "checkpoint", value: newestModified });
    expect(outcome.observations[0]?.payload_ref).toBe(
      `${server.base}/Debian/all.zip!DEBIAN-CVE-2025-0001.json`,
    );
    expect(server.bodies.get("/Debian/all.zip")).toBe(1);
    expect(server.bodies.get("/Debian/modified_id.csv")).toBe(1);
    expect(server.requests("POST", "/v1/querybatch")).toHaveLength(0);
    expect(server.seen.filter((entry) => entry.path.startsWith("/v1/vulns/"))).toHaveLength(0);
  });

  it("rejects a zip entry named ../evil.json and reads the others", async () => {
    const evil = JSON.stringify(
      osvRecord({
        id: "DEBIAN-CVE-2025-0666",
        modified: "2026-01-01T00:00:00Z",
        affected: [{ name: "curl", ecosystem: "Debian:12" }],
      }),
    );
    const server = await serveOsv(newBucket({ extraEntries: [{ name: "../evil.json", data: evil }] }));
    const { http } = await makeClient();
    const outcome = await run(settings(server.base), http);
    expect(outcome.error).toBeUndefined();
    expect(outcome.rejections).toHaveLength(1);
    expect(outcome.rejections[0]?.location).toEqual({
      file: `${server.base}/Debian/all.zip`,
      key: "../evil.json",
    });
    expect(outcome.rejections[0]?.reason).toMatch(/climbs out of the archive/);
    expect(summary(outcome.observations)).toEqual(fullSummary);
    expect(outcome.checkpoints).toEqual([newestModified]);
  });

  it("yields only 'unchanged' on the next run when modified_id.csv answers 304, downloading no body", async () => {
    const server = await serveOsv(newBucket());
    const { http } = await makeClient();
    const first = await run(settings(server.base), http);
    const checkpoint = first.checkpoints[0] ?? null;
    const second = await run(settings(server.base), http, { checkpoint });
    expect(second.error).toBeUndefined();
    expect(second.items).toEqual([{ kind: "unchanged" }]);
    const csvRequests = server.requests("GET", "/Debian/modified_id.csv");
    expect(csvRequests.map((entry) => entry.status)).toEqual([200, 304]);
    expect(csvRequests[1]?.headers["if-none-match"]).toBeDefined();
    expect(csvRequests[1]?.headers["if-modified-since"]).toBeDefined();
    expect(server.bodies.get("/Debian/modified_id.csv")).toBe(1);
    expect(server.bodies.get("/Debian/all.zip")).toBe(1);
    expect(server.requests("GET", "/Debian/all.zip")).toHaveLength(1);
  });

  it("fetches only the record a new modified_id.csv line names, via /v1/vulns/{id}: incremental, new checkpoint", async () => {
    const bucket = newBucket();
    const server = await serveOsv(bucket);
    const { http } = await makeClient();
    const first = await run(settings(server.base), http);
    bucket.records.set("DEBIAN-CVE-2025-0007", {
      id: "DEBIAN-CVE-2025-0007",
      modified: "2026-01-14T09:00:00Z",
      affected: [
        { name: "openssl", ecosystem: "Debian:12" },
        { name: "openssl", ecosystem: "Debian:13", fixed: "3.5.1-1" },
      ],
    });
    const third = await run(settings(server.base), http, { checkpoint: first.checkpoints[0] ?? null });
    expect(third.error).toBeUndefined();
    expect(third.items[0]).toEqual({ kind: "incremental" });
    expect(summary(third.observations)).toEqual([
      "CVE-2025-0007 DEBIAN-CVE-2025-0007 openssl bookworm open -",
      "CVE-2025-0007 DEBIAN-CVE-2025-0007 openssl trixie fixed 3.5.1-1",
    ]);
    expect(third.observations[0]?.payload_ref).toBe("osv:DEBIAN-CVE-2025-0007");
    expect(third.checkpoints).toEqual(["2026-01-14T09:00:00Z"]);
    expect(third.items.at(-1)).toEqual({ kind: "checkpoint", value: "2026-01-14T09:00:00Z" });
    expect(
      server.seen.filter((entry) => entry.path.startsWith("/v1/vulns/")).map((entry) => entry.path),
    ).toEqual(["/v1/vulns/DEBIAN-CVE-2025-0007"]);
    expect(server.requests("GET", "/Debian/all.zip")).toHaveLength(1);
    expect(server.bodies.get("/Debian/modified_id.csv")).toBe(2);
  });

  it("ignores the checkpoint with revalidate: all.zip asked for again and read in full, even on a 304", async () => {
    const server = await serveOsv(newBucket());
    const { http } = await makeClient();
    const first = await run(settings(server.base), http);
    const again = await run(settings(server.base), http, {
      checkpoint: first.checkpoints[0] ?? null,
      revalidate: true,
      // Even with few open advisories: revalidate re-reads everything.
      openVulnIds: ["CVE-2025-0002"],
      openAdvisories: [{ package_name: "curl", vuln_id: "CVE-2025-0002" }],
    });
    expect(again.error).toBeUndefined();
    expect(again.kinds).toEqual(["observation", "checkpoint"]);
    expect(summary(again.observations)).toEqual(fullSummary);
    expect(again.checkpoints).toEqual([newestModified]);
    const zipRequests = server.requests("GET", "/Debian/all.zip");
    // getToFile is always conditional: the 304 proves the cached archive current, and it is re-read.
    expect(zipRequests.map((entry) => entry.status)).toEqual([200, 304]);
    // modified_id.csv is asked for unconditionally.
    const csvRequests = server.requests("GET", "/Debian/modified_id.csv");
    expect(csvRequests.map((entry) => entry.status)).toEqual([200, 200]);
    expect(csvRequests[1]?.headers["if-none-match"]).toBeUndefined();
    expect(server.requests("POST", "/v1/querybatch")).toHaveLength(0);
  });

  it("throws after a 503 storm on all.zip, yielding no checkpoint (the orchestrator keeps the last good data)", async () => {
    const server = await serveOsv(newBucket({ zipStatus: 503 }));
    const { http, sleeps } = await makeClient();
    const outcome = await run(settings(server.base), http);
    expect(outcome.error).toBeInstanceOf(HttpError);
    expect((outcome.error as HttpError).status).toBe(503);
    expect(outcome.checkpoints).toEqual([]);
    expect(outcome.observations).toEqual([]);
    expect(server.requests("GET", "/Debian/all.zip").length).toBeGreaterThan(1);
    expect(sleeps.length).toBeGreaterThan(0);
  });
});

describe("live mode: targeted look-ups on the first run", () => {
  const open = {
    openVulnIds: ["CVE-2025-0002", "CVE-2025-0003"],
    openAdvisories: [
      { package_name: "curl", vuln_id: "CVE-2025-0002" },
      { package_name: "zlib", vuln_id: "CVE-2025-0003" },
    ],
  };

  it("queries querybatch per (package, ecosystem), follows page tokens, fetches each id, never all.zip", async () => {
    const bucket = newBucket({ ghosts: new Map([["DLA-4000-1", "zlib"]]) });
    const server = await serveOsv(bucket);
    const { http } = await makeClient();
    const outcome = await run(settings(server.base), http, open);
    expect(outcome.error).toBeUndefined();
    expect(outcome.items[0]).toEqual({ kind: "incremental" });
    expect(outcome.items.at(-1)).toEqual({ kind: "checkpoint", value: newestModified });
    // Only the open vulnerabilities: the DSA's CVE-2025-0006 and curl's fixed CVE-2025-0005 are left out.
    expect(summary(outcome.observations)).toEqual([
      "CVE-2025-0002 DEBIAN-CVE-2025-0002 curl bookworm open -",
      "CVE-2025-0002 DEBIAN-CVE-2025-0002 curl trixie open -",
      "CVE-2025-0002 DSA-5999-1 curl bookworm fixed 7.88.1-10+deb12u10",
      "CVE-2025-0003 DEBIAN-CVE-2025-0003 zlib bookworm withdrawn -",
    ]);
    expect(outcome.observations.find((o) => o.record_id === "DSA-5999-1")?.payload_ref).toBe(
      "osv:DSA-5999-1",
    );
    // The record deleted between querybatch and the look-up is rejected alone.
    expect(outcome.rejections).toHaveLength(1);
    expect(outcome.rejections[0]?.location.file).toMatch(/\/v1\/vulns\/DLA-4000-1$/);

    const batches = server.requests("POST", "/v1/querybatch").map((entry) => JSON.parse(entry.body));
    expect(batches[0]).toEqual({
      queries: [
        { package: { name: "curl", ecosystem: "Debian:12" } },
        { package: { name: "curl", ecosystem: "Debian:13" } },
        { package: { name: "zlib", ecosystem: "Debian:12" } },
        { package: { name: "zlib", ecosystem: "Debian:13" } },
      ],
    });
    // curl in Debian:12 matches three records, two a page: its second page is asked for alone.
    expect(batches.slice(1)).toEqual([
      { queries: [{ package: { name: "curl", ecosystem: "Debian:12" }, page_token: "2" }] },
    ]);
    const lookedUp = server.seen
      .filter((entry) => entry.path.startsWith("/v1/vulns/"))
      .map((entry) => entry.path);
    expect(lookedUp.sort()).toEqual([
      "/v1/vulns/DEBIAN-CVE-2025-0002",
      "/v1/vulns/DEBIAN-CVE-2025-0003",
      "/v1/vulns/DLA-4000-1",
      "/v1/vulns/DSA-5999-1",
    ]);
    expect(server.requests("GET", "/Debian/all.zip")).toHaveLength(0);
    expect(server.bodies.get("/Debian/modified_id.csv")).toBe(1);

    // The next run goes on from the modified_id.csv checkpoint: unchanged, nothing downloaded.
    const next = await run(settings(server.base), http, { ...open, checkpoint: newestModified });
    expect(next.items).toEqual([{ kind: "unchanged" }]);
    expect(server.requests("GET", "/Debian/all.zip")).toHaveLength(0);
  });

  it("sends at most 1000 queries per querybatch request", async () => {
    const server = await serveOsv(newBucket());
    const { http } = await makeClient();
    const names = Array.from({ length: 600 }, (_, index) => `pkg${String(index).padStart(3, "0")}`);
    const outcome = await run(settings(server.base), http, {
      packages: new Set(names),
      openVulnIds: names.map((_, index) => `CVE-2025-${String(1000 + index)}`),
      openAdvisories: names.map((name, index) => ({
        package_name: name,
        vuln_id: `CVE-2025-${String(1000 + index)}`,
      })),
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.items).toEqual([{ kind: "incremental" }, { kind: "checkpoint", value: newestModified }]);
    const sizes = server
      .requests("POST", "/v1/querybatch")
      .map((entry) => (JSON.parse(entry.body) as { queries: unknown[] }).queries.length);
    expect(sizes).toEqual([1000, 200]);
    expect(server.requests("GET", "/Debian/all.zip")).toHaveLength(0);
  });

  it("takes the bulk path past lookup_limit, without the open advisories' packages, or without a package list", async () => {
    const cases: [Partial<OsvConfig>, Partial<FetchContext>][] = [
      [{ lookup_limit: 1 }, open],
      [{}, { openVulnIds: open.openVulnIds, openAdvisories: undefined }],
      [{}, { ...open, packages: null }],
    ];
    for (const [configOverrides, contextOverrides] of cases) {
      const server = await serveOsv(newBucket());
      const { http } = await makeClient();
      const outcome = await run(settings(server.base, configOverrides), http, contextOverrides);
      expect(outcome.error).toBeUndefined();
      expect(outcome.kinds).toEqual(["observation", "checkpoint"]);
      expect(server.requests("GET", "/Debian/all.zip")).toHaveLength(1);
      expect(server.requests("POST", "/v1/querybatch")).toHaveLength(0);
    }
  });
});
