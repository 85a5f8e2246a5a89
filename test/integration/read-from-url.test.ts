import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../pipeline/lib/db.ts";
import { echoDataAdapter } from "../../pipeline/sources/echo_data/index.ts";
import { testFetchContext } from "../helpers/context.ts";
import { createWorkspace, sampleDataJson } from "../helpers/workspace.ts";

describe("reading data.json from a URL", () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    const sample = await readFile(sampleDataJson);
    server = createServer((request, response) => {
      if (request.url === "/data.json") {
        response.writeHead(200, { "content-type": "application/json", "content-length": sample.byteLength });
        response.end(sample);
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
    const adapter = echoDataAdapter(url);
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
