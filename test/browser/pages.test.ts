import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListedDocument } from "../../pipeline/formats/listed-document.ts";
import {
  type BrowserSession,
  buildSite,
  launchBrowser,
  type SiteServer,
  serveSite,
} from "../helpers/browser.ts";
import {
  type AdvisoryCurrent,
  createWorkspace,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

/**
 * Every page of the published site, at a phone's width (390 px) and a laptop's (1280 px), in Debian's Chromium:
 * the page never scrolls sideways outside a labelled scroll container (role="region", aria-label, tabindex=0),
 * axe-core finds no serious or critical violation, and the Content-Security-Policy the layout sends blocks
 * nothing the page needs (no securitypolicyviolation event, no console error). The site is built once from two
 * pipeline runs over the sample data (the second changes one decision) and served under a base path as GitHub
 * Pages serves it; all pages are visited in one browser context.
 */
const base = "/echo-advisory/";
const days = ["2026-03-01T06:00:00Z", "2026-03-02T06:00:00Z"];
const runIds = ["20260301T060000Z", "20260302T060000Z"];
const viewports = [
  { name: "phone", width: 390, height: 844 },
  { name: "desktop", width: 1280, height: 900 },
] as const;
const axeSource = (createRequire(import.meta.url)("axe-core") as { source: string }).source;

interface Route {
  name: string;
  /** Relative to the site's base. */
  path: string;
  /** The built file that must exist for the route to be visited (pages another branch adds are skipped until merged). */
  file: string;
  /** A selector that appears once the page's own script has rendered its data. */
  ready?: string;
}

/** What a page reports back from inside the browser. */
interface PageFacts {
  documentScrolls: boolean;
  scrollWidth: number;
  clientWidth: number;
  height: number;
  /** Elements that scroll sideways without being a labelled scroll container. */
  unlabelledScrollers: string[];
  /** Elements reaching past the viewport's right edge outside any scroll container. */
  outside: string[];
  cspViolations: string[];
}

describe("every page of the site at 390 and 1280 px: no sideways scroll, no serious axe violation, no CSP violation", () => {
  let workspace: Workspace;
  let directory: string;
  let siteDir: string;
  let server: SiteServer;
  let browser: BrowserSession;
  let routes: Route[];
  const skipped: string[] = [];
  /** Page heights, for the report: "<route> <viewport>: <px>". */
  const heights: string[] = [];

  beforeAll(async () => {
    workspace = await createWorkspace();
    directory = await mkdtemp(join(tmpdir(), "echo-pages-"));
    siteDir = join(directory, "site");
    const dataJson = await workspace.input("data.json", await readFile(sampleDataJson));
    const csv = await workspace.input("advisory_not_applicable.csv", await readFile(sampleCsv));
    await workspace.writeConfig({ dataJson, csv });
    const run = async (n: number) => {
      const result = await workspace.run(["--as-of", days[n] as string]);
      if (result.exitCode !== 0) throw new Error(`run ${n + 1} exited ${result.exitCode}:\n${result.stderr}`);
      return workspace.readAdvisoryCurrent();
    };
    const first = await run(0);
    // Run 2: the research team marks one open advisory not applicable, so the run has a change to lead with.
    const target = first.advisories.find((advisory) => advisory.state === "under_investigation");
    if (!target) throw new Error("the sample has no advisory under investigation");
    await writeFile(
      csv,
      `${(await readFile(sampleCsv, "utf8")).trimEnd()}\n${target.cve_id},${target.package_name},not_applicable,,code_not_in_use\n`,
    );
    const published = await run(1);
    await writeCveFactsUnlessPublished(workspace.outputDir, published, runIds[1] as string);

    const subject =
      published.advisories.find((advisory) => advisory.state === "fixed") ?? published.advisories[0];
    if (!subject) throw new Error("no advisory was published");
    routes = [
      { name: "home", path: "", file: "index.html" },
      {
        name: "search",
        path: `advisories/?q=${encodeURIComponent(subject.package_name)}`,
        file: "advisories/index.html",
        ready: "#search-results tbody tr",
      },
      {
        name: "advisory",
        path: `advisory/?id=${encodeURIComponent(subject.advisory_id)}`,
        file: "advisory/index.html",
        ready: "#advisory-title",
      },
      {
        name: "package",
        path: `package/?name=${encodeURIComponent(subject.package_name)}`,
        file: "package/index.html",
      },
      { name: "cve", path: `cve/?id=${encodeURIComponent(subject.cve_id)}`, file: "cve/index.html" },
      { name: "operations", path: "operations/", file: "operations/index.html" },
      { name: "runs", path: "runs/", file: "runs/index.html" },
      { name: "run", path: `runs/${runIds[0]}/`, file: `runs/${runIds[0]}/index.html` },
      { name: "quality", path: "quality/", file: "quality/index.html" },
      { name: "about", path: "about/", file: "about/index.html" },
      { name: "feeds", path: "feeds/", file: "feeds/index.html" },
    ];

    await buildSite(workspace.outputDir, siteDir, base);
    for (const route of routes) {
      if (!existsSync(join(siteDir, route.file))) {
        skipped.push(
          `${route.name} (${route.path}): skipped, the build has no ${route.file} (its page is not on this branch yet)`,
        );
      }
    }
    for (const line of skipped) process.stderr.write(`${line}\n`);
    routes = routes.filter((route) => existsSync(join(siteDir, route.file)));
    server = await serveSite(siteDir, base);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    if (heights.length > 0) process.stderr.write(`page heights:\n${heights.join("\n")}\n`);
    await browser?.close();
    await server?.close();
    await workspace?.cleanup();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** Opens a route in a page of the shared context and waits for its data; CSP violations are collected. */
  async function visit(page: Page, route: Route): Promise<void> {
    const response = await page.goto(`${server.url}${route.path}`, { waitUntil: "load" });
    expect(response?.status(), `${route.path} answers 200`).toBe(200);
    await page.waitForLoadState("networkidle");
    if (route.ready) await page.locator(route.ready).first().waitFor({ timeout: 10_000 });
  }

  async function facts(page: Page): Promise<PageFacts> {
    return page.evaluate(() => {
      interface Box {
        left: number;
        right: number;
      }
      interface El {
        tagName: string;
        id: string;
        scrollWidth: number;
        clientWidth: number;
        parentElement: El | null;
        getAttribute(name: string): string | null;
        getBoundingClientRect(): Box;
        closest(selector: string): El | null;
        querySelectorAll(selector: string): ArrayLike<El>;
      }
      const g = globalThis as unknown as {
        document: {
          scrollingElement: El;
          body: El;
          querySelectorAll(selector: string): ArrayLike<El>;
          getElementById(id: string): { textContent: string | null } | null;
        };
        getComputedStyle(element: El): { overflowX: string; display: string };
        __cspViolations?: string[];
      };
      const { document } = g;
      const scroller = document.scrollingElement;
      const name = (element: El) =>
        `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ""}${
          element.getAttribute("aria-label") ? `[aria-label="${element.getAttribute("aria-label")}"]` : ""
        }`;
      const isScroller = (element: El) => ["auto", "scroll"].includes(g.getComputedStyle(element).overflowX);
      const unlabelledScrollers: string[] = [];
      const outside: string[] = [];
      const width = scroller.clientWidth;
      for (const element of Array.from(document.body.querySelectorAll("*"))) {
        if (isScroller(element) && element.scrollWidth > element.clientWidth + 1) {
          // Named by aria-label, or by aria-labelledby pointing at an element with text.
          const labelledBy = element.getAttribute("aria-labelledby");
          const named =
            (element.getAttribute("aria-label") ?? "").trim() !== "" ||
            labelledBy
              ?.split(/\s+/)
              .some((id) => (document.getElementById(id)?.textContent ?? "").trim() !== "");
          const labelled =
            element.getAttribute("role") === "region" && named && element.getAttribute("tabindex") === "0";
          if (!labelled)
            unlabelledScrollers.push(`${name(element)} ${element.scrollWidth}>${element.clientWidth}`);
        }
        if (element.getBoundingClientRect().right > width + 1) {
          // Inside a scroll container its overflow is that container's, checked above.
          let parent = element.parentElement;
          let contained = false;
          while (parent && !contained) {
            contained = isScroller(parent);
            parent = parent.parentElement;
          }
          if (!contained && outside.length < 10)
            outside.push(`${name(element)} right=${Math.round(element.getBoundingClientRect().right)}`);
        }
      }
      return {
        documentScrolls: scroller.scrollWidth > scroller.clientWidth,
        scrollWidth: scroller.scrollWidth,
        clientWidth: scroller.clientWidth,
        height: (scroller as unknown as { scrollHeight: number }).scrollHeight,
        unlabelledScrollers,
        outside,
        cspViolations: g.__cspViolations ?? [],
      };
    });
  }

  async function seriousAxeViolations(page: Page): Promise<string[]> {
    // Evaluated through the DevTools protocol: the page's CSP does not apply to the test's own script.
    await page.evaluate(axeSource);
    return page.evaluate(async () => {
      const { axe } = globalThis as unknown as {
        axe: {
          run(options: object): Promise<{
            violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
          }>;
        };
      };
      const result = await axe.run({ resultTypes: ["violations"] });
      return result.violations
        .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
        .map(
          (violation) =>
            `${violation.impact} ${violation.id}: ${violation.help} (${violation.nodes
              .slice(0, 5)
              .map((node) => JSON.stringify(node.target))
              .join(", ")})`,
        );
    });
  }

  for (const viewport of viewports) {
    it(`at ${viewport.width} px`, async () => {
      const { page } = await browser.newPage({
        viewport: { width: viewport.width, height: viewport.height },
      });
      await page.addInitScript(() => {
        const g = globalThis as unknown as {
          __cspViolations: string[];
          document: { addEventListener(type: string, listener: (event: unknown) => void): void };
        };
        g.__cspViolations = [];
        g.document.addEventListener("securitypolicyviolation", (event) => {
          const violation = event as {
            violatedDirective: string;
            blockedURI: string;
            sourceFile: string;
            lineNumber: number;
          };
          g.__cspViolations.push(
            `${violation.violatedDirective} blocked ${violation.blockedURI || "inline"} (${violation.sourceFile}:${violation.lineNumber})`,
          );
        });
      });
      const failures: string[] = [];
      for (const route of routes) {
        await visit(page, route);
        const pageFacts = await facts(page);
        heights.push(`${route.name} at ${viewport.width} px: ${pageFacts.height} px tall`);
        if (viewport.width === 390 && pageFacts.documentScrolls) {
          failures.push(
            `${route.name}: the page scrolls sideways (${pageFacts.scrollWidth} > ${pageFacts.clientWidth}): ${pageFacts.outside.join(", ")}`,
          );
        }
        if (viewport.width === 1280 && pageFacts.documentScrolls) {
          failures.push(
            `${route.name}: the page scrolls sideways at 1280 px: ${pageFacts.outside.join(", ")}`,
          );
        }
        for (const scroller of pageFacts.unlabelledScrollers)
          failures.push(`${route.name}: scrolls sideways in an unlabelled container: ${scroller}`);
        for (const violation of pageFacts.cspViolations) failures.push(`${route.name}: CSP: ${violation}`);
        for (const violation of await seriousAxeViolations(page))
          failures.push(`${route.name}: axe: ${violation}`);
      }
      const problems = browser.takeProblems();
      expect({ failures, problems }).toEqual({ failures: [], problems: [] });
    });
  }

  it("desktop: the run report's tables and the about page's rules fit at 1280 px, with the rules' When column in view", async () => {
    const { page } = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await visit(page, { name: "run", path: `runs/${runIds[0]}/`, file: "" });
    const reportTables = await page.evaluate(() => {
      const { document } = globalThis as unknown as {
        document: {
          querySelectorAll(selector: string): ArrayLike<{
            scrollWidth: number;
            clientWidth: number;
            getAttribute(name: string): string | null;
          }>;
        };
      };
      return Array.from(document.querySelectorAll("#run-report .table-scroll"))
        .filter((box) => box.scrollWidth > box.clientWidth + 1)
        .map((box) => box.getAttribute("aria-label"));
    });
    expect(reportTables, "report tables that scroll sideways at 1280 px").toEqual([]);
    await visit(page, { name: "about", path: "about/", file: "" });
    const when = await page.evaluate(() => {
      const { document, innerWidth } = globalThis as unknown as {
        innerWidth: number;
        document: {
          querySelector(
            selector: string,
          ): { getBoundingClientRect(): { right: number; width: number } } | null;
        };
      };
      const cell = document.querySelector(
        'table[aria-label="Decision rules by priority"] tbody tr td:last-child',
      );
      const box = cell?.getBoundingClientRect();
      return { right: box?.right ?? Number.POSITIVE_INFINITY, width: box?.width ?? 0, viewport: innerWidth };
    });
    expect(when.right).toBeLessThanOrEqual(when.viewport);
    expect(when.width).toBeGreaterThan(200);
    expect(browser.takeProblems()).toEqual([]);
  });

  it("the home page leads with a search that submits to the search page, and the operations page is apart in the navigation", async () => {
    const { page } = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await visit(page, { name: "home", path: "", file: "" });
    const form = page.getByRole("search", { name: "Search the advisories" });
    expect(await form.count()).toBe(1);
    await page.getByRole("searchbox", { name: /Search by CVE/ }).fill("curl");
    await form.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\/advisories\/\?q=curl$/);
    expect(new URL(page.url()).pathname).toBe(`${base}advisories/`);
    const siteNav = await page.getByRole("navigation", { name: "Site" }).textContent();
    expect(siteNav).not.toContain("Operations");
    expect(
      await page
        .getByRole("navigation", { name: "Security team" })
        .getByRole("link", { name: "Operations" })
        .count(),
    ).toBe(1);
    browser.takeProblems();
  });
});

/**
 * cve_facts.json for the published CVEs in the layout the FACTS contract gives (issue 19 plan), when the run
 * did not write one: a few CVEs rated, one without a rating, so the severity chart has each kind of bar.
 */
async function writeCveFactsUnlessPublished(
  outputDir: string,
  published: AdvisoryCurrent,
  runId: string,
): Promise<void> {
  const path = join(outputDir, "cve_facts.json");
  if (existsSync(path)) return;
  const ratings = [["critical", 9.8], ["high", 7.5], ["medium", 5.3], ["low", 3.1], null] as const;
  const cves = [...new Set(published.advisories.map((advisory) => advisory.cve_id))].sort();
  const lines = cves.map((cveId, index) => {
    const rating = ratings[index % ratings.length] ?? null;
    return JSON.stringify({
      cve_id: cveId,
      description: null,
      nvd: null,
      debian: null,
      aliases: [],
      severity:
        rating === null ? null : { base_score: rating[1], rating: rating[0], version: "3.1", source: "nvd" },
      published: null,
    });
  });
  await writeFile(
    path,
    ListedDocument.serialise(
      [
        ["$schema", "schemas/cve_facts.schema.json"],
        ["schema_version", 1],
        ["run_id", runId],
        ["generated_at", published.generated_at],
        ["cve_count", lines.length],
      ],
      "cves",
      lines,
    ),
  );
}
