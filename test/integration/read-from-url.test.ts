import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../pipeline/lib/db.ts";
import { echoDataAdapter } from "../../pipeline/sources/echo_data/index.ts";
import { createHttpClient, HttpError } from "../../pipeline/sources/http/client.ts";
import { registry } from "../../pipeline/sources/registry.ts";
import { testFetchContext } from "../helpers/context.ts";
import { createWorkspace, repoRoot, sampleDataJson } from "../helpers/workspace.ts";

describe("reading data.json from a URL", () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    const sample = await readFile(sampleDataJson);
    server = createServer((request, response) => {
      if (request.url === "/data.json") {
        response.writeHead(200, { "content-type": "application/json", "content-length": sample.byteLength });
        response.end(sample);
      } else if (request.url?.startsWith("/big-")) {
        // Over a 1 MB limit: declared up front, or only found out while streaming.
        const big = Buffer.alloc(2 * 1024 * 1024, 0x20);
        response.writeHead(200, request.url.endsWith("declared") ? { "content-length": big.byteLength } : {});
        response.end(big);
      } else if (request.url === "/truncated.json") {
        // Promise more bytes than are sent, then close: a body cut off in transit.
        response.writeHead(200, { "content-length": sample.byteLength });
        response.write(sample.subarray(0, 100), () => response.socket?.destroy());
      } else {
        response.writeHead(404).end("not found");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function fetchAll(url: string) {
    const adapter = echoDataAdapter(url, createHttpClient({ maxAttempts: 1 }));
    const items = [];
    for await (const item of adapter.fetch(testFetchContext())) items.push(item);
    return { items, health: adapter.health() };
  }

  it("reads the same observations as from the file", async () => {
    const { items, health } = await fetchAll(`${baseUrl}/data.json`);
    expect(items.filter((item) => item.kind === "observation")).toHaveLength(177);
    expect(health).toMatchObject({
      status: "ok",
      observations: 177,
      bytes: (await readFile(sampleDataJson)).byteLength,
    });
  });

  it("fails the source with the URL and status when the server answers 404", async () => {
    await expect(fetchAll(`${baseUrl}/missing.json`)).rejects.toThrow(/HTTP 404/);
  });

  it("fails the source rather than parse a body cut off in transit", async () => {
    await expect(fetchAll(`${baseUrl}/truncated.json`)).rejects.toThrow(/truncated|terminated|closed/i);
  });

  it("never reads a URL without a client built from the config", async () => {
    const adapter = echoDataAdapter(`${baseUrl}/data.json`);
    await expect(adapter.fetch(testFetchContext()).next()).rejects.toThrow(/configured HTTP client/);
  });

  it("holds data.json and the CSV, as the registry builds them, to http.max_response_mb", async () => {
    const http = { cache_dir: "unused", timeout_ms: 10_000, max_attempts: 3, max_response_mb: 1 };
    for (const path of ["/big-declared", "/big-chunked"]) {
      const adapters = registry.enabledAdapters(
        {
          sources: {
            echo_data: { enabled: true, location: `${baseUrl}${path}` },
            echo_csv: { enabled: true, location: `${baseUrl}${path}` },
          },
          http,
          dbt: { project_dir: join(repoRoot, "dbt_project") },
        },
        {},
      );
      expect(adapters.map((adapter) => adapter.name)).toEqual(["echo_data", "echo_csv"]);
      for (const adapter of adapters) {
        const failure = await adapter
          .fetch(testFetchContext())
          .next()
          .catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(HttpError);
        expect(failure).toMatchObject({ kind: "too_large", attempts: 1 });
        expect((failure as HttpError).message).toMatch(/larger than the 1048576-byte limit/);
        expect(adapter.health()).toMatchObject({ status: "failed" });
      }
    }
  });
});

describe("the pipeline's DuckDB connection", () => {
  it("never downloads extensions", async () => {
    const workspace = await createWorkspace();
    const db = await openDatabase(workspace.database);
    try {
      const setting = await db.one<{ value: string }>(
        "select current_setting('autoinstall_known_extensions')::varchar as value",
      );
      expect(setting?.value).toBe("false");
    } finally {
      db.close();
      await workspace.cleanup();
    }
  });
});
