// What the advisory, CVE, package and search scripts share: the embedded page data, links between the pages,
// the data files' addresses, and the words shown for codes. Every value from the data is written with
// textContent or as an attribute, never as markup: upstream and analyst text reaches these pages.
import type { PageData } from "../lib/data-types.ts";
import { cveOfAdvisory, shardOf } from "../lib/shards.ts";

export const base = import.meta.env.BASE_URL.replace(/\/$/, "");

export function readPageData(): PageData {
  return JSON.parse(document.getElementById("page-data")?.textContent ?? "{}") as PageData;
}

export const advisoryHref = (advisoryId: string) => `${base}/advisory/?id=${encodeURIComponent(advisoryId)}`;
export const cveHref = (cveId: string) => `${base}/cve/?id=${encodeURIComponent(cveId)}`;
export const packageHref = (name: string) => `${base}/package/?name=${encodeURIComponent(name)}`;

export const advisoryShardUrl = (data: PageData, advisoryId: string) =>
  `${base}/data/advisories/${shardOf(advisoryId, data.advisoryBits)}.json`;
export const cveShardUrl = (data: PageData, cveId: string) =>
  `${base}/data/cves/${shardOf(cveId, data.cveBits)}.json`;
export const packageShardUrl = (data: PageData, name: string) =>
  `${base}/data/packages/${shardOf(name, data.packageBits)}.json`;
export { cveOfAdvisory };

export async function fetchJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()) as T;
}

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  content?: string | (string | Node)[],
  attributes: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (typeof content === "string") node.textContent = content;
  else if (content) node.append(...content);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

export const link = (text: string, href: string) => element("a", text, { href });

export const day = (timestamp: string | null | undefined) => (timestamp ? timestamp.slice(0, 10) : "—");

/** A day number (days since 1970-01-01) as YYYY-MM-DD. */
export const dayText = (days: number | null | undefined) =>
  typeof days === "number" ? new Date(days * 86_400_000).toISOString().slice(0, 10) : "—";

/** CVSS's qualitative rating of a base score (the same bands in v3 and v4). */
export function ratingOf(score: number): string {
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  if (score > 0) return "low";
  return "none";
}

/** "9.8 critical" for a score × 10 from the index, or "not scored". */
export const severityText = (score10: number | null | undefined) =>
  typeof score10 === "number" ? `${(score10 / 10).toFixed(1)} ${ratingOf(score10 / 10)}` : "not scored";

/** The severity as a table cell that does not wrap ("9.8 critical"). */
export const severityCell = (score10: number | null | undefined) =>
  element("span", severityText(score10), { class: "nowrap" });

export const stateLabel = (data: PageData, state: string | null | undefined) =>
  state ? (data.states[state]?.label ?? state) : "";

export const sourceLabel = (data: PageData, source: string | null | undefined) =>
  source ? (data.sources[source] ?? source) : "—";

/** What a reader should take from an advisory's version: "fixed in 1.2-3", "not affected in any version". */
export function versionText(state: string, fixed: string | null, unaffected: string | null): string {
  if (state === "not_applicable") {
    if (unaffected === "0") return "unaffected in every version";
    return unaffected ? `unaffected from ${unaffected}` : "not affected";
  }
  if (fixed) return `fixed in ${fixed}`;
  return state === "wont_fix" ? "no fix planned" : "no fixed version yet";
}

/** A state's words for a table cell, with its class for the colour. */
export function stateCell(data: PageData, state: string): HTMLTableCellElement {
  return element("td", [element("span", stateLabel(data, state), { class: `state-badge state-${state}` })]);
}

/** A table row of cells, each labelled with its column's header for the stacked (card) layout on phones. */
export function tableRow(headers: string[], cells: (string | Node)[]): HTMLTableRowElement {
  const row = element("tr");
  cells.forEach((cell, position) => {
    const td =
      cell instanceof HTMLTableCellElement ? cell : element("td", typeof cell === "string" ? cell : [cell]);
    td.dataset.label = headers[position] ?? "";
    row.append(td);
  });
  return row;
}

/** A CVE id's year and number as one figure (CVE-2024-13176 after CVE-2024-9143); 0 for other ids. */
export function cveNumber(id: string | undefined): number {
  const match = /(?:^|:)CVE-(\d{4})-(\d+)$/.exec(id ?? "");
  return match ? Number(match[1]) * 1e7 + Number(match[2]) : 0;
}

/**
 * The day a CVE sorts by when newest come first: NVD's published day, else 1 January of the year in its id
 * (when it was reserved). Without the fallback every undated CVE (most of them, until NVD is read live) would
 * sort after every dated one, a 2014 CVE above this year's.
 */
export function cveSortDay(id: string | undefined, publishedDay: number | null | undefined): number {
  if (publishedDay !== null && publishedDay !== undefined) return publishedDay;
  const year = Math.floor(cveNumber(id) / 1e7);
  return year > 0 ? Math.floor(Date.UTC(year, 0, 1) / 86_400_000) : -1;
}
