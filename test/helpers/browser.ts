// Browser test harness: Debian's Chromium driven by playwright-core (no browser download), a static file
// server for a built site under a base path (as GitHub Pages serves it), and pages that record every
// console error or warning, uncaught page error and failed request, so a test can fail on any of them.
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { execa } from "execa";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { chromiumPath } from "../setup/chromium.ts";
import { repoRoot } from "./workspace.ts";

/** Without the background-networking flags, Chromium's own connections (updates, sync) are refused here. */
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** `npm run site:build` of the pipeline output in `outputDir` into `siteDir`, under the base path `base`. */
export async function buildSite(outputDir: string, siteDir: string, base: string): Promise<void> {
  await execa("npm", ["run", "site:build"], {
    cwd: repoRoot,
    // site/build.ts drops the BASE_URL and MODE that vitest sets, so ECHO_SITE_BASE decides the base path.
    env: { ECHO_OUTPUT_DIR: outputDir, ECHO_SITE_OUT_DIR: siteDir, ECHO_SITE_BASE: base },
  });
}

export const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".xml": "application/xml; charset=utf-8",
  ".woff2": "font/woff2",
};

export interface SiteServer {
  /** The site's root URL, ending in the base path, e.g. http://127.0.0.1:41234/echo-advisory/ */
  url: string;
  origin: string;
  base: string;
  /** Every request answered, as "<status> <path>". */
  log: string[];
  close(): Promise<void>;
}

/**
 * Serves the folder `root` at `base` (with leading and trailing slash) on 127.0.0.1, on a free port.
 * A directory serves its index.html (a directory asked without its trailing slash is redirected, as
 * GitHub Pages does); anything else, including paths outside the base, is a 404.
 */
export async function serveSite(root: string, base = "/"): Promise<SiteServer> {
  const prefix = `/${base.replace(/^\/+|\/+$/g, "")}/`.replace(/^\/\/$/, "/");
  const log: string[] = [];
  const server = createServer(async (request, response) => {
    const answer = (status: number, headers: Record<string, string> = {}, body = "") => {
      log.push(`${status} ${request.url}`);
      response.writeHead(status, headers).end(body);
    };
    try {
      const url = new URL(request.url ?? "/", "http://localhost");
      if (request.method !== "GET" && request.method !== "HEAD") return answer(405, { allow: "GET, HEAD" });
      if (!url.pathname.startsWith(prefix) && `${url.pathname}/` !== prefix) {
        return answer(404, { "content-type": "text/plain" }, "not found");
      }
      const relative = decodeURIComponent(url.pathname.slice(prefix.length));
      const path = normalize(join(root, relative));
      if (path !== root && !path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`)) {
        return answer(404, { "content-type": "text/plain" }, "not found");
      }
      let file = path;
      let info = await stat(file).catch(() => undefined);
      if (info?.isDirectory()) {
        if (!url.pathname.endsWith("/")) return answer(301, { location: `${url.pathname}/${url.search}` });
        file = join(path, "index.html");
        info = await stat(file).catch(() => undefined);
      }
      if (!info?.isFile()) return answer(404, { "content-type": "text/plain" }, "not found");
      log.push(`200 ${request.url}`);
      response.writeHead(200, {
        "content-type": contentTypes[extname(file).toLowerCase()] ?? "application/octet-stream",
        "content-length": String(info.size),
        "cache-control": "no-store",
      });
      if (request.method === "HEAD") return response.end();
      createReadStream(file).pipe(response);
    } catch (error) {
      answer(500, { "content-type": "text/plain" }, String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}${prefix}`,
    origin,
    base: prefix,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface CheckedPage {
  page: Page;
  /** Console errors and warnings, page errors and failed requests seen on this page so far. */
  problems: string[];
}

export interface BrowserSession {
  context: BrowserContext;
  /** A new page (tab) whose problems are recorded; a viewport such as { width: 390, height: 844 } for a phone. */
  newPage(options?: { viewport?: { width: number; height: number } }): Promise<CheckedPage>;
  /** The problems recorded on every page since the last call, emptied: `expect(session.takeProblems()).toEqual([])`. */
  takeProblems(): string[];
  close(): Promise<void>;
}

/**
 * Chromium asks for /favicon.ico at the origin's root by itself when a page names no icon; under a base path
 * (GitHub Pages) that is outside the site, so its 404 is not the site's fault.
 */
const isAutomaticFavicon = (url: string) => new URL(url).pathname === "/favicon.ico";

/** Records what a page reports: console errors and warnings, uncaught errors, failed requests and HTTP errors. */
export function watchPage(page: Page, record: (problem: string) => void): void {
  page.on("console", (message) => {
    const type = message.type();
    if (isAutomaticFavicon(message.location().url || "http://x/")) return;
    if (type === "error" || type === "warning") {
      const where = message.location();
      record(`console ${type} on ${page.url()}: ${message.text()} (${where.url}:${where.lineNumber})`);
    }
  });
  page.on("pageerror", (error) => record(`page error on ${page.url()}: ${error.stack ?? error.message}`));
  page.on("requestfailed", (request) =>
    record(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
  );
  page.on("response", (response) => {
    if (response.status() >= 400 && !isAutomaticFavicon(response.url()))
      record(`HTTP ${response.status()} for ${response.url()}`);
  });
}

/** Launches Debian's Chromium, headless, with a fresh temporary profile (--user-data-dir). */
export async function launchBrowser(): Promise<BrowserSession> {
  const userDataDir = await mkdtemp(join(tmpdir(), "echo-chromium-"));
  // launchPersistentContext is how Playwright takes an explicit --user-data-dir (launch() refuses the flag).
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1280, height: 900 },
    locale: "en-GB",
    timezoneId: "UTC",
  });
  // The persistent context opens with one blank tab; it stays unused.
  const all: string[] = [];
  return {
    context,
    async newPage(options = {}) {
      const page = await context.newPage();
      if (options.viewport) await page.setViewportSize(options.viewport);
      const problems: string[] = [];
      watchPage(page, (problem) => {
        problems.push(problem);
        all.push(problem);
      });
      return { page, problems };
    },
    takeProblems() {
      return all.splice(0, all.length);
    },
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The few DOM shapes the tests read inside page.evaluate: the project compiles without the DOM library. */
export interface DomElement {
  id: string;
  tagName: string;
  textContent: string | null;
  parentElement: DomElement | null;
  closest(selector: string): DomElement | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { left: number; right: number; width: number };
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}

export interface DomGlobals {
  document: {
    documentElement: DomElement & { clientWidth: number; scrollWidth: number };
    body: DomElement;
    activeElement: DomElement | null;
    scripts: ArrayLike<DomElement>;
    querySelectorAll(selector: string): ArrayLike<DomElement>;
  };
  /** Set only if the hostile string from the test data ever ran. */
  __pwned?: unknown;
}

/** True when the page is wider than its viewport (a horizontal scrollbar), with the widest elements named. */
export async function horizontalOverflow(page: Page): Promise<{ overflows: boolean; culprits: string[] }> {
  return page.evaluate(() => {
    const { document } = globalThis as unknown as DomGlobals;
    const width = document.documentElement.clientWidth;
    const overflows = document.documentElement.scrollWidth > width;
    const culprits: string[] = [];
    if (overflows) {
      for (const element of Array.from(document.body.querySelectorAll("*"))) {
        const box = element.getBoundingClientRect();
        if (box.right > width + 1 && !element.parentElement?.closest("table, pre")) {
          const name = `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ""}${
            element.getAttribute("aria-label") ? `[aria-label="${element.getAttribute("aria-label")}"]` : ""
          }`;
          culprits.push(`${name} right=${Math.round(box.right)}`);
          if (culprits.length >= 10) break;
        }
      }
    }
    return { overflows, culprits };
  });
}
