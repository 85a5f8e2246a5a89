import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AdvisoryIndex, CveEntry, PackageRow, SiteAdvisory } from "../../site/src/lib/data-types.ts";
import { shardOf } from "../../site/src/lib/shards.ts";
import {
  type BrowserSession,
  buildSite,
  horizontalOverflow,
  launchBrowser,
  type SiteServer,
  serveSite,
} from "../helpers/browser.ts";
import { advisoryOf, factsOf, writeSiteOutput } from "../helpers/site-fixture.ts";

/**
 * The advisory, CVE, package and search pages on a site built from an output folder written in the issue-19
 * formats (cve_facts.json, known_exploited, unaffected_from_version): the data files the build writes, then
 * the pages in Chromium at 1280 and 390 px. A second build from output without cve_facts.json (written before
 * the file existed) must still show its advisories and say the facts are not available.
 */
const base = "/echo-advisory/";
const phone = { width: 390, height: 844 };
const kev = {
  date_added: "2024-02-01",
  due_date: "2024-02-22",
  ransomware_use: "known" as const,
  vulnerability_name: "OpenSSL Remote Code Execution",
  required_action: "Apply mitigations per vendor instructions.",
  catalog_version: "2025.08.25",
};
const shared = "CVE-2024-0001";
const advisories: SiteAdvisory[] = [
  advisoryOf({
    package: "openssl",
    cve: shared,
    state: "fixed",
    fixed: "3.0.13-1",
    kev,
    debian: [
      { release: "bookworm", signal: "fixed", version: "3.0.13-1~deb12u1" },
      { release: "sid", signal: "fixed", version: "3.0.13-1" },
    ],
  }),
  advisoryOf({ package: "curl", cve: shared, state: "fixed", fixed: "8.5.0-1", kev }),
  advisoryOf({
    package: "libxml2",
    cve: shared,
    state: "wont_fix",
    debian: [{ release: "bookworm", signal: "ignored", version: null }],
  }),
  advisoryOf({ package: "openssl", cve: "CVE-2023-0002", state: "not_applicable", unaffectedFrom: "0" }),
  advisoryOf({ package: "openssl", cve: "CVE-2022-0003", state: "under_investigation" }),
  // Enough others for a second page of search results.
  ...Array.from({ length: 150 }, (_, index) =>
    advisoryOf({
      package: `pkg${index % 40}`,
      cve: `CVE-2010-${1000 + index}`,
      state: "fixed",
      fixed: `1.${index}-1`,
    }),
  ),
];
const facts = [
  factsOf(shared, { scored: 9.8, references: 4, published: "2024-01-10T10:00:00.000Z" }),
  factsOf("CVE-2023-0002", { scored: 5.3, published: "2023-05-02T10:00:00.000Z" }),
  factsOf("CVE-2022-0003", { scored: null, published: "2022-07-01T10:00:00.000Z" }),
  ...Array.from({ length: 150 }, (_, index) =>
    factsOf(`CVE-2010-${1000 + index}`, { scored: (index % 70) / 10, published: "2010-06-01T10:00:00.000Z" }),
  ),
];

describe("advisory, CVE, package and search pages", () => {
  let directory: string;
  let site: string;
  let server: SiteServer;
  let browser: BrowserSession;
  const opened: Page[] = [];

  const readSiteJson = async <T>(path: string) => JSON.parse(await readFile(join(site, path), "utf8")) as T;
  const pageData = async (page: string) => {
    const html = await readFile(join(site, page, "index.html"), "utf8");
    const match = /<script type="application\/json" id="page-data">(.*?)<\/script>/s.exec(html);
    return JSON.parse(match?.[1] ?? "{}") as { advisoryBits: number; cveBits: number; packageBits: number };
  };

  async function open(path: string, viewport?: { width: number; height: number }) {
    const checked = await browser.newPage(viewport ? { viewport } : {});
    opened.push(checked.page);
    const response = await checked.page.goto(`${server.url}${path}`, { waitUntil: "load" });
    expect(response?.status(), `${path} answers 200`).toBe(200);
    return checked.page;
  }
  const poll = <T>(value: () => T | Promise<T>) => expect.poll(value, { timeout: 10_000, interval: 50 });
  const text = async (page: Page, selector: string) =>
    (
      (await page
        .locator(selector)
        .first()
        .textContent({ timeout: 5_000 })
        .catch(() => null)) ?? ""
    ).trim();

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "echo-advisory-pages-"));
    await writeSiteOutput(join(directory, "output"), advisories, facts);
    site = join(directory, "site");
    await buildSite(join(directory, "output"), site, base);
    server = await serveSite(site, base);
    browser = await launchBrowser();
  });
  afterEach(async () => {
    const problems = browser?.takeProblems() ?? [];
    await Promise.all(opened.splice(0).map((page) => page.close()));
    expect(problems, "console errors or warnings, page errors or failed requests").toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it("writes a search index with dates, severity scores and exploited marks as numbers, and CVE and package files", async () => {
    const index = await readSiteJson<AdvisoryIndex>("data/advisory-index.json");
    expect(index.columns).toEqual([
      "advisory_id",
      "state",
      "reason_code",
      "sources",
      "fixed_version",
      "published_day",
      "severity_score10",
      "known_exploited",
      "unaffected_from_version",
    ]);
    const row = (id: string) => index.rows.find((candidate) => candidate[0] === id);
    expect(row(`openssl:${shared}`)?.slice(4)).toEqual([
      "3.0.13-1",
      Date.UTC(2024, 0, 10) / 86_400_000,
      98,
      1,
    ]);
    expect(row("openssl:CVE-2023-0002")?.slice(4)).toEqual([
      null,
      Date.UTC(2023, 4, 2) / 86_400_000,
      53,
      0,
      "0",
    ]);
    // A CVE NVD has not scored: the row ends after its date.
    expect(row("openssl:CVE-2022-0003")?.slice(4)).toEqual([null, Date.UTC(2022, 6, 1) / 86_400_000]);

    const layout = await pageData("advisory");
    expect(layout).toEqual(await pageData("advisories"));
    const cves = await readSiteJson<Record<string, CveEntry>>(
      `data/cves/${shardOf(shared, layout.cveBits)}.json`,
    );
    expect(cves[shared]?.facts?.severity?.base_score).toBe(9.8);
    expect(cves[shared]?.advisories.map((entry) => entry.slice(0, 2)).sort()).toEqual([
      ["curl", "fixed"],
      ["libxml2", "wont_fix"],
      ["openssl", "fixed"],
    ]);
    const packages = await readSiteJson<Record<string, PackageRow[]>>(
      `data/packages/${shardOf("openssl", layout.packageBits)}.json`,
    );
    expect(packages.openssl?.map((entry) => entry[0]).sort()).toEqual([
      "CVE-2022-0003",
      "CVE-2023-0002",
      shared,
    ]);
    expect(packages.openssl?.find((entry) => entry[0] === shared)).toEqual([
      shared,
      "fixed",
      "3.0.13-1",
      null,
      1,
      98,
      Date.UTC(2024, 0, 10) / 86_400_000,
    ]);
    // Every shard file of each kind exists, so a fetch never meets a 404.
    expect((await readdir(join(site, "data/advisories"))).length).toBe(2 ** layout.advisoryBits);
    expect((await readdir(join(site, "data/cves"))).length).toBe(2 ** layout.cveBits);
    expect((await readdir(join(site, "data/packages"))).length).toBe(2 ** layout.packageBits);
  });

  it("an advisory page leads with what to do, shows the NVD facts with sources, the known-exploited badge, Debian per release and the other packages; its data stays under 30 KB", async () => {
    // What the page fetches besides itself: its data files, by their Content-Length.
    const checked = await browser.newPage();
    const page = checked.page;
    opened.push(page);
    const loaded: number[] = [];
    page.on("response", (response) => {
      if (response.url().includes("/data/")) loaded.push(Number(response.headers()["content-length"]));
    });
    await page.goto(`${server.url}advisory/?id=${encodeURIComponent(`openssl:${shared}`)}`, {
      waitUntil: "load",
    });
    await poll(() => text(page, "#advisory-state")).toMatch(
      /^fixed\s+Upgrade openssl to 3\.0\.13-1 or later\.$/,
    );
    expect(await text(page, "#advisory-confidence")).toMatch(
      /^High confidence, based on our advisory data\. This is a final decision\.$/,
    );
    const badge = await text(page, "#advisory-kev");
    expect(badge).toContain("Known exploited");
    expect(badge).toContain("added to CISA's catalogue on 2024-02-01");
    expect(badge).toContain("federal agencies must act by 2024-02-22");
    expect(badge).toContain("known to be used in ransomware campaigns");
    expect(await page.locator("#advisory-kev a").getAttribute("href")).toBe(
      "https://www.cisa.gov/known-exploited-vulnerabilities-catalog",
    );
    const factsText = await text(page, "#advisory-facts");
    expect(factsText).toContain(`A flaw in the parser of ${shared}`);
    expect(factsText).toContain("(source: NVD)");
    expect(factsText).toMatch(
      /9\.8 critical CVSS 3\.1 CVSS:3\.1\/AV:N\/AC:L\/PR:N\/UI:N\/S:U\/C:H\/I:H\/A:H \(source: nvd@nist\.gov\)/,
    );
    expect(factsText).toContain("medium (source: the Debian Security Tracker)");
    expect(factsText).toContain("CWE-787");
    expect(factsText).toContain("2024-01-10 (source: NVD)");
    expect(await page.locator('#advisory-facts a[href^="https://github.com/advisories/GHSA-"]').count()).toBe(
      1,
    );
    expect(
      await page
        .locator(`#advisory-facts a[href="https://security-tracker.debian.org/tracker/${shared}"]`)
        .count(),
    ).toBe(1);
    expect(await page.locator("#advisory-references li").count()).toBe(4);
    const debian = await page.locator("#advisory-debian tbody tr").allTextContents();
    expect(debian.map((row) => row.replace(/\s+/g, " ").trim())).toEqual([
      "bookwormfixed3.0.13-1~deb12u1medium",
      "sidfixed3.0.13-1medium",
    ]);
    const others = await page
      .locator("#advisory-others a")
      .evaluateAll((links) => links.map((link) => [link.textContent, link.getAttribute("href")]));
    expect(others).toEqual([
      ["curl", `${base}advisory/?id=${encodeURIComponent(`curl:${shared}`)}`],
      ["libxml2", `${base}advisory/?id=${encodeURIComponent(`libxml2:${shared}`)}`],
    ]);
    // The codes are for analysts, in a collapsed section.
    expect(await page.locator("#advisory-analysts").getAttribute("open")).toBeNull();
    expect(await text(page, "#advisory-codes")).toContain("vendor_fixed_version");
    expect(loaded.length).toBe(2);
    expect(loaded.reduce((sum, size) => sum + size, 0)).toBeLessThan(30 * 1024);
  });

  it("a not-applicable advisory says it needs no action and is unaffected in every version; an unscored CVE says NVD has not analysed it", async () => {
    const page = await open(`advisory/?id=${encodeURIComponent("openssl:CVE-2023-0002")}`);
    await poll(() => text(page, "#advisory-state")).toMatch(
      /No action needed: openssl is not affected, because Debian found/,
    );
    expect(await text(page, "#advisory-summary")).toContain("Unaffectedevery version");
    expect(await text(page, "#advisory-summary")).not.toContain("Fixed version");
    const open2 = await open(`advisory/?id=${encodeURIComponent("openssl:CVE-2022-0003")}`);
    await poll(() => text(open2, "#advisory-state")).toMatch(/^under investigation\s+No fix yet/);
    expect(await text(open2, "#advisory-facts")).toContain(
      "NVD has not analysed this CVE yet (status: Awaiting Analysis)",
    );
    expect(await text(open2, "#advisory-confidence")).toMatch(/^Low confidence.*provisional/);
  });

  it("the package page lists the package's advisories newest first with counts by state; the CVE page lists every package", async () => {
    const page = await open("package/?name=openssl");
    await poll(() => page.locator("#package-advisories tbody tr").count()).toBe(3);
    expect(
      await page
        .locator("#package-advisories tbody tr")
        .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-cve"))),
    ).toEqual([shared, "CVE-2023-0002", "CVE-2022-0003"]);
    const first = (await page.locator("#package-advisories tbody tr").first().textContent()) ?? "";
    expect(first).toContain("9.8 critical");
    expect(first).toContain("Known exploited");
    expect(first).toContain("fixed in 3.0.13-1");
    expect(first).toContain("2024-01-10");
    const counts = (await text(page, "#package-counts")).replace(/\s+/g, " ");
    expect(counts).toContain("3 advisories in all");
    expect(counts).toContain("fixed 1");
    expect(counts).toContain("not applicable 1");

    const cve = await open(`cve/?id=${shared}`);
    await poll(() => cve.locator("#cve-advisories tbody tr").count()).toBe(3);
    expect(await cve.locator("#cve-kev").isVisible()).toBe(true);
    expect(await text(cve, "#cve-facts")).toContain("9.8 critical");
  });

  it("search sorts by severity, pages beyond 100, keeps everything in the URL, and jumps to a package or CVE on Enter", async () => {
    const page = await open("advisories/");
    await poll(() => text(page, "#search-status")).toBe(
      `${advisories.length} advisories match; showing 1–100.`,
    );
    await page.locator("#search-sort").selectOption("severity");
    // The three advisories of the 9.8 CVE, then ties at 6.9 in id order: CVE-2010-1139 (pkg19) before
    // CVE-2010-1069 (pkg29). In id order curl's advisory is first too, so the first four are compared.
    await poll(() =>
      page
        .locator("#search-results tbody tr")
        .evaluateAll((rows) => rows.slice(0, 5).map((row) => row.getAttribute("data-advisory-id"))),
    ).toEqual([
      `curl:${shared}`,
      `libxml2:${shared}`,
      `openssl:${shared}`,
      "pkg19:CVE-2010-1139",
      "pkg29:CVE-2010-1069",
    ]);
    expect(await text(page, "#search-results tbody tr td:nth-child(3)")).toBe("9.8 critical");
    expect(new URL(page.url()).searchParams.get("sort")).toBe("severity");
    await page.getByRole("button", { name: "Next 100" }).click();
    await poll(() => new URL(page.url()).searchParams.get("page")).toBe("2");
    await poll(() => text(page, "#search-status")).toBe(
      `${advisories.length} advisories match; showing 101–${advisories.length}.`,
    );
    // Reopened from its URL, the search comes back as it was.
    const again = await open(`advisories/${new URL(page.url()).search}`);
    await poll(() => text(again, "#search-status")).toBe(
      `${advisories.length} advisories match; showing 101–${advisories.length}.`,
    );
    expect(await again.locator("#search-sort").inputValue()).toBe("severity");

    await again.locator("#search-q").fill("openssl");
    await again.locator("#search-q").press("Enter");
    await again.waitForURL(/\/package\/\?name=openssl$/);
    await poll(() => again.locator("#package-advisories tbody tr").count()).toBe(3);
    const search = await open("advisories/");
    await poll(() => text(search, "#search-status")).toMatch(/advisories match/);
    await search.locator("#search-q").fill(shared.toLowerCase());
    await search.locator("#search-q").press("Enter");
    await search.waitForURL(/\/cve\/\?id=CVE-2024-0001$/);
    await poll(() => search.locator("#cve-advisories tbody tr").count()).toBe(3);
  });

  it("search fetches the explanations only for a query the ids do not answer", async () => {
    const page = await open("advisories/");
    const fetched: string[] = [];
    page.on("request", (request) => fetched.push(new URL(request.url()).pathname));
    await poll(() => text(page, "#search-status")).toMatch(/advisories match/);
    await page.locator("#search-q").fill("openssl");
    await poll(() => text(page, "#search-status")).toBe("3 advisories match.");
    await page.locator("#search-q").fill(shared);
    await poll(() => text(page, "#search-status")).toBe("3 advisories match.");
    expect(fetched.filter((path) => path.endsWith("/data/advisory-text.json"))).toEqual([]);
    await page.locator("#search-q").fill("fixture");
    await poll(() => fetched.filter((path) => path.endsWith("/data/advisory-text.json")).length).toBe(1);
  });

  it("on a phone (390 px) the advisory, package, CVE and search pages need no sideways scrolling; rows become cards", async () => {
    const pages = [
      [`advisory/?id=${encodeURIComponent(`openssl:${shared}`)}`, "#advisory-body:not([hidden])"],
      ["package/?name=openssl", "#package-advisories tbody tr"],
      [`cve/?id=${shared}`, "#cve-advisories tbody tr"],
      ["advisories/?sort=severity", "#search-results tbody tr"],
    ] as const;
    for (const [path, ready] of pages) {
      const page = await open(path, phone);
      await page.locator(ready).first().waitFor({ timeout: 10_000 });
      expect(await horizontalOverflow(page), path).toEqual({ overflows: false, culprits: [] });
    }
    const search = opened.at(-1) as Page;
    const cell = search.locator("#search-results tbody tr td").first();
    expect(await cell.evaluate((element) => getComputedStyle(element).display)).toBe("block");
  });

  it("output without cve_facts.json still builds: an advisory says the facts are not available in this run", async () => {
    const older = join(directory, "older");
    await writeSiteOutput(join(older, "output"), advisories.slice(0, 5), undefined);
    await buildSite(join(older, "output"), join(older, "site"), base);
    expect((await stat(join(older, "site/data/advisory-index.json"))).isFile()).toBe(true);
    const olderServer = await serveSite(join(older, "site"), base);
    try {
      const checked = await browser.newPage();
      opened.push(checked.page);
      await checked.page.goto(`${olderServer.url}advisory/?id=${encodeURIComponent(`openssl:${shared}`)}`);
      await poll(() => text(checked.page, "#advisory-facts")).toContain("Not available in this run");
      expect(await text(checked.page, "#advisory-state")).toMatch(/Upgrade openssl to 3\.0\.13-1 or later/);
    } finally {
      await olderServer.close();
    }
  });
});
