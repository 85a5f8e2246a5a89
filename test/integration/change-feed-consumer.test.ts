// A consumer of the change feed, as a customer would write one: over two runs on the sample (one advisory
// added, one removed, one changing state), it fetches the Atom feed and the change file from the built site
// on a 127.0.0.1 server, validates the change file against the JSON Schema the site publishes (ajv), parses the
// feed with a well-kept XML parser, applies the changes to the first run's advisory_current.json and gets the
// second's.
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { execa } from "execa";
import { XMLParser } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AdvisoryDocument } from "../../pipeline/formats/advisory-current.ts";
import { applyChanges, type ChangesDocument } from "../../pipeline/formats/changes.ts";
import {
  createWorkspace,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

type DataJson = Record<string, Record<string, { fixed_version?: string }>>;

const firstRunId = "20260601T000000Z";
const secondRunId = "20260602T000000Z";
const changed = "curl:CVE-2023-38545"; // fixed in run 1; its fix withdrawn in run 2
const removed = "389-ds-base:CVE-2019-34462";
const added = "curl:CVE-2026-99999";

/** A static server of the built site, as GitHub Pages would serve it. */
function serve(root: string): Promise<Server> {
  const types: Record<string, string> = {
    ".json": "application/json",
    ".atom": "application/atom+xml",
    ".html": "text/html",
  };
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname));
    let file = join(root, path);
    try {
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      await stat(file);
    } catch {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("a consumer of the change feed over two runs", () => {
  let workspace: Workspace;
  let server: Server;
  let origin: string;
  let firstDocument: AdvisoryDocument;
  let secondText: string;

  beforeAll(async () => {
    workspace = await createWorkspace();
    const data = JSON.parse(await readFile(sampleDataJson, "utf8")) as DataJson;
    const dataPath = await workspace.input("data.json", JSON.stringify(data));
    await workspace.writeConfig({ dataJson: dataPath, csv: sampleCsv });
    const first = await workspace.run(["--as-of", "2026-06-01T00:00:00Z"]);
    expect(first.exitCode, first.stderr).toBe(0);
    firstDocument = JSON.parse(
      await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8"),
    ) as AdvisoryDocument;

    // The vendor withdraws one fix, drops one advisory and lists a new one.
    delete (data.curl as DataJson[string])["CVE-2023-38545"]?.fixed_version;
    delete (data["389-ds-base"] as DataJson[string])["CVE-2019-34462"];
    (data.curl as DataJson[string])["CVE-2026-99999"] = { fixed_version: "7.88.1-10+deb12u9" };
    await writeFile(dataPath, JSON.stringify(data));
    const second = await workspace.run(["--as-of", "2026-06-02T00:00:00Z"]);
    expect(second.exitCode, second.stderr).toBe(0);
    secondText = await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8");
    // A dry run publishes nothing: no change file, the feed as it was.
    const feedBefore = await readFile(join(workspace.outputDir, "changes.atom"), "utf8");
    const dry = await workspace.run(["--as-of", "2026-06-03T00:00:00Z", "--dry-run"]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(await readdir(join(workspace.outputDir, "changes"))).toEqual([
      `${firstRunId}.json`,
      `${secondRunId}.json`,
    ]);
    expect(await readFile(join(workspace.outputDir, "changes.atom"), "utf8")).toBe(feedBefore);

    const site = join(workspace.dir, "site");
    await mkdir(site, { recursive: true });
    await execa("npm", ["run", "site:build"], {
      cwd: repoRoot,
      env: { ECHO_OUTPUT_DIR: workspace.outputDir, ECHO_SITE_OUT_DIR: site },
    });
    server = await serve(site);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 600_000);
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await workspace?.cleanup();
  });

  const fetchText = async (url: string | URL) => {
    const response = await fetch(url);
    expect(response.status, String(url)).toBe(200);
    return response.text();
  };

  it("finds the feed from any page's head, reads the newest run's entry and follows it to a valid change file that turns the first file into the second", async () => {
    const home = await fetchText(`${origin}/`);
    const feedHref = /<link rel="alternate" type="application\/atom\+xml"[^>]*href="([^"]+)"/.exec(home)?.[1];
    expect(feedHref).toBe("/changes.atom");
    const feedUrl = new URL(feedHref as string, `${origin}/`);
    const feed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(
      await fetchText(feedUrl),
    );
    const entries = [feed.feed.entry].flat() as {
      title: { "#text": string };
      updated: string;
      link: { rel: string; type: string; href: string }[];
    }[];
    // One entry per publishing run, newest first.
    expect(entries.map((entry) => entry.title["#text"])).toEqual([
      `Run ${secondRunId}: 1 added, 1 updated, 1 removed`,
      `Run ${firstRunId}: ${firstDocument.advisory_count} added`,
    ]);
    expect(entries[0]?.updated).toBe("2026-06-02T00:00:00.000Z");
    const changeLink = entries[0]?.link.find((link) => link.rel === "alternate");
    expect(entries[0]?.link.find((link) => link.rel === "related")?.href).toBe(`runs/${secondRunId}/`);
    expect(await fetch(new URL(`runs/${secondRunId}/`, feedUrl))).toHaveProperty("status", 200);

    const changeUrl = new URL(changeLink?.href as string, feedUrl);
    const changeText = await fetchText(changeUrl);
    // Published byte for byte.
    expect(changeText).toBe(await readFile(join(workspace.outputDir, `changes/${secondRunId}.json`), "utf8"));
    const changes = JSON.parse(changeText) as ChangesDocument;

    // Validated against the schema the file names, as the site publishes it.
    const schema = JSON.parse(await fetchText(new URL(changes.$schema, changeUrl)));
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    expect(validate(changes) ? [] : validate.errors).toEqual([]);

    expect(changes).toMatchObject({
      run_id: secondRunId,
      previous_run_id: firstRunId,
      change_count: 3,
    });
    expect(
      changes.changes.map((change) => [
        change.advisory_id,
        change.change,
        change.from_state,
        change.to_state,
      ]),
    ).toEqual(
      [
        [removed, "removed", "fixed", null],
        [added, "added", null, "fixed"],
        [changed, "updated", "fixed", "under_investigation"],
      ].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    );

    // The consumer's own copy of the first advisory_current.json, updated with the changes, is the second.
    const secondDocument = JSON.parse(await fetchText(`${origin}/advisory_current.json`)) as AdvisoryDocument;
    expect(secondDocument.run_id).toBe(changes.run_id);
    expect(firstDocument.run_id).toBe(changes.previous_run_id);
    expect(applyChanges(firstDocument.advisories, changes.changes)).toEqual(secondDocument.advisories);
    expect(JSON.parse(secondText)).toEqual(secondDocument);
  });

  it("the first run's change file adds every advisory, and the feeds page gives each file's address, size, hash, run and schema", async () => {
    const firstChanges = JSON.parse(
      await fetchText(`${origin}/changes/${firstRunId}.json`),
    ) as ChangesDocument;
    expect(firstChanges.previous_run_id).toBeNull();
    expect(applyChanges([], firstChanges.changes)).toEqual(firstDocument.advisories);

    const page = await fetchText(`${origin}/feeds/`);
    for (const file of [
      "data.json",
      "advisory_current.json",
      "openvex.json",
      `changes/${secondRunId}.json`,
      "changes.atom",
    ]) {
      const bytes = await readFile(join(workspace.outputDir, file));
      const { createHash } = await import("node:crypto");
      expect(page, file).toContain(createHash("sha256").update(bytes).digest("hex"));
      expect(page, file).toContain(`${bytes.length.toLocaleString("en")} bytes`);
      expect(page, file).toContain(`data-site-path="/${file}"`);
    }
    expect(page).toContain(`href="/schemas/changes.schema.json"`);
    expect(page).toContain(`href="/runs/${secondRunId}/"`);
  });
});
