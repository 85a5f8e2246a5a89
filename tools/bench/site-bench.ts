import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import { buildSite, launchBrowser, serveSite } from "../../test/helpers/browser.ts";
import { createWorkspace, writeRealDataConfig } from "../../test/helpers/workspace.ts";

/**
 * The site on the real data: the vendor's data.json and CSV with the real upstream records, one pipeline
 * run, then the Astro build, timed. Sizes are given raw and gzipped (GitHub Pages serves text gzipped); the
 * first load of each page is measured in Debian's Chromium, counting every response the page fetched.
 */
export interface PageLoad {
  page: string;
  requests: number;
  bytes: number;
  gzip_bytes: number;
  /** From navigation to the page showing its data (for the search page: the result count). */
  ready_ms: number;
}

export interface SiteBenchFigures {
  advisories: number;
  pipeline_seconds: number;
  build_seconds: number;
  files: number;
  total_bytes: number;
  total_gzip_bytes: number;
  largest: { path: string; bytes: number; gzip_bytes: number }[];
  first_loads: PageLoad[];
  /** Typing a CVE id into the search box until the count shows one match, over all advisories. */
  search_ms: number;
}

export async function runSiteBench(): Promise<SiteBenchFigures> {
  const workspace = await createWorkspace();
  const site = await mkdtemp(join(tmpdir(), "echo-site-bench-"));
  try {
    await writeRealDataConfig(workspace);
    const pipelineStart = performance.now();
    const run = await workspace.run(["--as-of", "2026-11-27T06:00:00Z"]);
    if (run.exitCode !== 0) throw new Error(`the real-data pipeline run failed: ${run.stderr.slice(-2000)}`);
    const pipelineSeconds = (performance.now() - pipelineStart) / 1000;
    const advisories = (await workspace.readAdvisoryCurrent()).advisory_count;

    const out = join(site, "site");
    const buildStart = performance.now();
    await buildSite(workspace.outputDir, out, "/echo-advisory/");
    const buildSeconds = (performance.now() - buildStart) / 1000;

    const files = await listFiles(out);
    const sized = await Promise.all(
      files.map(async (path) => {
        const content = await readFile(path);
        return { path: relative(out, path), bytes: content.length, gzip_bytes: gzipSync(content).length };
      }),
    );
    const largest = [...sized].sort((a, b) => b.bytes - a.bytes).slice(0, 5);

    const server = await serveSite(out, "/echo-advisory/");
    const browser = await launchBrowser();
    try {
      const firstId = (await workspace.readAdvisoryCurrent()).advisories[0]?.advisory_id ?? "";
      const loads: PageLoad[] = [];
      const measure = async (name: string, path: string, ready: (page: Page) => Promise<unknown>) => {
        const { page } = await browser.newPage();
        const responses: Promise<{ bytes: number; gzip: number }>[] = [];
        page.on("response", (response) =>
          responses.push(
            response
              .body()
              .then((body) => ({ bytes: body.length, gzip: gzipSync(body).length }))
              .catch(() => ({ bytes: 0, gzip: 0 })),
          ),
        );
        const start = performance.now();
        await page.goto(`${server.url}${path}`);
        await ready(page);
        const readyMs = performance.now() - start;
        await page.waitForLoadState("networkidle");
        const bodies = await Promise.all(responses);
        loads.push({
          page: name,
          requests: bodies.length,
          bytes: bodies.reduce((sum, body) => sum + body.bytes, 0),
          gzip_bytes: bodies.reduce((sum, body) => sum + body.gzip, 0),
          ready_ms: Math.round(readyMs),
        });
        return page;
      };
      await measure("dashboard", "", (page) => page.locator("h1").first().waitFor());
      const search = await measure("advisories (search)", "advisories/", (page) =>
        page.locator("#search-status", { hasText: /match/ }).waitFor(),
      );
      await measure("advisory page", `advisory/?id=${encodeURIComponent(firstId)}`, (page) =>
        // The timeline is filled in the analysts' collapsed section: attached, not visible, once loaded.
        page.locator("#advisory-timeline li").first().waitFor({ state: "attached" }),
      );
      const cve = firstId.split(":")[1] ?? "";
      const searchStart = performance.now();
      await search.fill("#search-q", `${firstId.split(":")[0]} ${cve}`);
      await search.locator("#search-status", { hasText: /^1 advisory matches/ }).waitFor();
      const searchMs = performance.now() - searchStart;
      return {
        advisories,
        pipeline_seconds: round(pipelineSeconds),
        build_seconds: round(buildSeconds),
        files: sized.length,
        total_bytes: sized.reduce((sum, file) => sum + file.bytes, 0),
        total_gzip_bytes: sized.reduce((sum, file) => sum + file.gzip_bytes, 0),
        largest,
        first_loads: loads,
        search_ms: Math.round(searchMs),
      };
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    await workspace.cleanup();
    await rm(site, { recursive: true, force: true });
  }
}

export function siteBenchTable(figures: SiteBenchFigures): string {
  const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  return [
    `Site on the real data (${figures.advisories.toLocaleString("en")} advisories)`,
    `  pipeline run ${figures.pipeline_seconds} s | site build ${figures.build_seconds} s`,
    `  site: ${figures.files} files, ${mb(figures.total_bytes)} (${mb(figures.total_gzip_bytes)} gzipped)`,
    `  largest: ${figures.largest.map((file) => `${file.path} ${mb(file.bytes)}`).join(", ")}`,
    "  first load          requests   transferred   gzipped   ready",
    ...figures.first_loads.map(
      (load) =>
        `  ${load.page.padEnd(20)}${String(load.requests).padStart(8)}${kb(load.bytes).padStart(14)}${kb(load.gzip_bytes).padStart(10)}${`${load.ready_ms} ms`.padStart(9)}`,
    ),
    `  search for one CVE over all advisories: ${figures.search_ms} ms until the count showed 1 match`,
  ].join("\n");
}

async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

const round = (value: number) => Math.round(value * 10) / 10;
