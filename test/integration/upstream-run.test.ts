import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectPublishedFilesValid } from "../helpers/published-formats.ts";
import {
  countStates,
  createWorkspace,
  decisions,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

const trackerFixture = join(repoRoot, "pipeline/sources/debian_tracker/mock/tracker.json");

function stateOf(document: Awaited<ReturnType<Workspace["readAdvisoryCurrent"]>>, id: string) {
  return document.advisories.find((advisory) => advisory.advisory_id === id);
}

describe("upstream signals from the bundled sample (mock mode)", () => {
  let workspace: Workspace;

  beforeAll(async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({
      dataJson: sampleDataJson,
      csv: sampleCsv,
      extra: ["  debian_tracker:", "    enabled: true", "  osv:", "    enabled: true"].join("\n"),
    });
  });
  afterAll(() => workspace.cleanup());

  it("moves open advisories to fixed, not_applicable, wont_fix and pending_upstream with upstream explanations", async () => {
    const run = await workspace.run(["--as-of", "2026-02-01T00:00:00Z"]);
    expect(run.exitCode).toBe(0);
    // Every state and every upstream source's evidence, in the shapes pipeline/formats defines.
    expect(await expectPublishedFilesValid(workspace.outputDir)).toBeGreaterThan(0);
    const document = await workspace.readAdvisoryCurrent();
    expect(stateOf(document, "apr-util:CVE-2022-27590")).toMatchObject({
      state: "fixed",
      fixed_version: "1.6.3-1+deb12u1",
      reason_code: "upstream_fix_available",
      contributing_sources: ["debian_tracker"],
    });
    expect(stateOf(document, "apr-util:CVE-2025-25074")).toMatchObject({
      state: "not_applicable",
      reason_code: "distro_not_affected",
    });
    expect(stateOf(document, "e2fsprogs:CVE-2019-28694")).toMatchObject({
      state: "wont_fix",
      state_type: "final",
    });
    expect(stateOf(document, "glib2.0:CVE-2020-39844")?.explanation).toContain(
      "security support for the package in that release has ended",
    );
    expect(stateOf(document, "dpkg:CVE-2025-27307")).toMatchObject({
      state: "pending_upstream",
      state_type: "non_final",
    });
    expect(stateOf(document, "dpkg:CVE-2024-42429")).toMatchObject({
      state: "fixed",
      fixed_version: "1.22.7",
    });
    expect(stateOf(document, "ncurses:CVE-2022-52775")).toMatchObject({
      state: "fixed",
      contributing_sources: ["osv"],
    });
    expect(stateOf(document, "zlib:CVE-2025-32886")?.explanation).toContain(
      "record DEBIAN-CVE-2025-32886 was withdrawn",
    );
    expect(stateOf(document, "krb5:CVE-2019-30949")).toMatchObject({ state: "under_investigation" });
    // Vendor decisions are untouched by upstream: overrides and vendor fixes stay as they were.
    expect(countStates(document)).toMatchObject({ not_applicable: 25, wont_fix: 2, pending_upstream: 4 });
  });

  it("with --source, fetches only the named sources; the others keep their data, skipped but not stale", async () => {
    const before = await workspace.readAdvisoryCurrent();
    const unknown = await workspace.run(["--as-of", "2026-02-02T00:00:00Z", "--source", "nope"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("--source nope: not an enabled source");
    const run = await workspace.run([
      "--as-of",
      "2026-02-02T00:00:00Z",
      "--source",
      "echo_data",
      "--source",
      "echo_csv",
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    const after = await workspace.readAdvisoryCurrent();
    expect(decisions(after)).toEqual(decisions(before));
    expect(
      after.advisories.filter((advisory) => advisory.explanation.includes("latest fetch failed")),
    ).toEqual([]);
    const summary = JSON.parse(await readFile(join(workspace.outputDir, "run_summary.json"), "utf8")) as {
      sources: { source: string; status: string }[];
    };
    expect(Object.fromEntries(summary.sources.map((source) => [source.source, source.status]))).toEqual({
      echo_data: "ok",
      echo_csv: "ok",
      debian_tracker: "skipped",
      osv: "skipped",
    });
    const report = await readFile(join(workspace.outputDir, "run_report_20260202T000000Z.md"), "utf8");
    expect(report).toMatch(
      /\| debian_tracker \| skipped \|.*not fetched \(--source\); last good data from 2026-02-01T00:00:00\.000Z kept in use/,
    );
  });
});

describe("a live Debian tracker served on 127.0.0.1", () => {
  let server: Server;
  let baseUrl: string;
  let mode: "ok" | "unavailable" = "ok";
  const requests: { conditional: boolean; status: number }[] = [];
  let workspace: Workspace;

  beforeAll(async () => {
    const body = await readFile(trackerFixture);
    const lastModified = "Mon, 26 Jan 2026 10:00:00 GMT";
    server = createServer((request, response) => {
      const conditional =
        request.headers["if-modified-since"] !== undefined || request.headers["if-none-match"] !== undefined;
      if (mode === "unavailable") {
        requests.push({ conditional, status: 503 });
        response.writeHead(503, { "retry-after": "0" }).end("busy");
        return;
      }
      if (
        request.headers["if-modified-since"] === lastModified ||
        request.headers["if-none-match"] === '"v1"'
      ) {
        requests.push({ conditional, status: 304 });
        response.writeHead(304).end();
        return;
      }
      requests.push({ conditional, status: 200 });
      response.writeHead(200, {
        "content-type": "application/json",
        "content-length": body.byteLength,
        "last-modified": lastModified,
        etag: '"v1"',
      });
      response.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    workspace = await createWorkspace();
    await workspace.writeConfig({
      dataJson: sampleDataJson,
      csv: sampleCsv,
      extra: [
        "  debian_tracker:",
        "    enabled: true",
        "    mode: live",
        `    location: ${baseUrl}/tracker/data/json`,
        "http:",
        "  cache_dir: http-cache",
        "  max_attempts: 2",
      ].join("\n"),
    });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await workspace.cleanup();
  });

  it("downloads the document once, then asks conditionally and gets no body when nothing changed", async () => {
    const first = await workspace.run(["--as-of", "2026-02-01T00:00:00Z"]);
    expect(first.exitCode).toBe(0);
    const before = await workspace.readAdvisoryCurrent();
    expect(stateOf(before, "e2fsprogs:CVE-2019-28694")?.state).toBe("wont_fix");
    const landed = await workspace.landingCounts();

    const second = await workspace.run(["--as-of", "2026-02-02T00:00:00Z"]);
    expect(second.exitCode).toBe(0);
    expect(requests).toEqual([
      { conditional: false, status: 200 },
      { conditional: true, status: 304 },
    ]);
    expect(await workspace.landingCounts()).toEqual(landed);
    const after = await workspace.readAdvisoryCurrent();
    expect(after.advisories).toEqual(before.advisories);
    const report = await readFile(join(workspace.outputDir, "run_report_20260202T000000Z.md"), "utf8");
    expect(report).toMatch(/\| debian_tracker \| ok \|.*not modified upstream/);
  });

  it("keeps every state when the tracker fails, and reports its data as stale with its age", async () => {
    const before = await workspace.readAdvisoryCurrent();
    mode = "unavailable";
    const run = await workspace.run(["--as-of", "2026-02-03T00:00:00Z"]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toContain("HTTP 503");
    const after = await workspace.readAdvisoryCurrent();
    expect(decisions(after)).toEqual(decisions(before));
    // The tracker's last good data still decides, named as stale and with less confidence.
    const wontFixBefore = stateOf(before, "e2fsprogs:CVE-2019-28694");
    const wontFixAfter = stateOf(after, "e2fsprogs:CVE-2019-28694");
    expect(wontFixAfter?.explanation).toBe(
      `${wontFixBefore?.explanation} The deciding data from the Debian Security Tracker was fetched on 2026-02-02, because its latest fetch failed.`,
    );
    expect(wontFixAfter?.confidence).toBeCloseTo((wontFixBefore?.confidence ?? 0) - 0.1, 5);
    const report = await readFile(join(workspace.outputDir, "run_report_20260203T000000Z.md"), "utf8");
    expect(report).toMatch(
      /\| debian_tracker \| stale \|.*\| 24\.0 h \| 2026-02-02T00:00:00\.000Z \| failed: .*HTTP 503.*kept in use \|/,
    );
    expect(requests.slice(2).every((request) => request.status === 503)).toBe(true);
  });
});
