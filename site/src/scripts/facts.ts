// A CVE's facts as the run landed them (cve_facts.json), each naming its source; a fact nobody gave is said
// in words. Shared by the advisory page and the CVE page.
import type { CveFacts, PageData } from "../lib/data-types.ts";
import { day, element, link, ratingOf } from "./common.ts";

const sourceNames: Record<string, string> = { nvd: "NVD", debian_tracker: "the Debian Security Tracker" };

/** An alias's page: GHSA ids on GitHub, the others (OSV, DEBIAN-CVE-…) on OSV.dev. */
const aliasHref = (alias: string) =>
  alias.startsWith("GHSA-")
    ? `https://github.com/advisories/${encodeURIComponent(alias)}`
    : `https://osv.dev/vulnerability/${encodeURIComponent(alias)}`;

const isCve = (id: string) => /^CVE-\d{4}-\d+$/.test(id);

/** The facts as a definition list: [term, value] pairs rendered into `list`. */
export function renderFacts(list: HTMLElement, cveId: string, facts: CveFacts | null, data: PageData): void {
  const rows: [string, string | Node][] = [];
  const nvd = facts?.nvd ?? null;
  const nvdLink = isCve(cveId) ? link("NVD", `https://nvd.nist.gov/vuln/detail/${cveId}`) : "NVD";
  const trackerHref =
    facts?.debian?.tracker_url ??
    (isCve(cveId) ? `https://security-tracker.debian.org/tracker/${cveId}` : undefined);

  if (!data.factsPublished) {
    rows.push([
      "Facts",
      "Not available in this run: it published no CVE facts (cve_facts.json). The upstream pages are linked below.",
    ]);
  } else if (!facts) {
    rows.push(["Facts", "No source the run fetched has a record of this vulnerability."]);
  }

  if (facts) {
    rows.push([
      "Description",
      facts.description
        ? element("span", [
            element("span", facts.description.text, { class: "description" }),
            element(
              "span",
              ` (source: ${sourceNames[facts.description.source] ?? facts.description.source})`,
              {
                class: "muted",
              },
            ),
          ])
        : "No description: neither NVD nor Debian has one for this run.",
    ]);
    if (!nvd) {
      rows.push(["Severity", "NVD has no record of this CVE in this run, so there is no CVSS score."]);
    } else if (nvd.cvss.length === 0) {
      rows.push([
        "Severity",
        `NVD has not analysed this CVE yet${nvd.status ? ` (status: ${nvd.status})` : ""}: no CVSS score.`,
      ]);
    } else {
      const scores = element("ul", undefined, { class: "plain", id: "cve-cvss" });
      // NVD's own assessment (Primary) first, as the headline severity takes it; then the CNAs', each newest
      // version first as cve_facts.json lists them.
      const ordered = [...nvd.cvss].sort(
        (a, b) => Number(b.type === "Primary") - Number(a.type === "Primary"),
      );
      for (const score of ordered) {
        const rating = (score.base_severity ?? ratingOf(score.base_score)).toLowerCase();
        scores.append(
          element("li", [
            element("strong", `${score.base_score.toFixed(1)} ${rating}`),
            ` CVSS ${score.version}`,
            score.vector ? " " : "",
            score.vector ? element("code", score.vector) : "",
            element(
              "span",
              ` (${score.type === "Secondary" ? "secondary, " : ""}source: ${score.source ?? "NVD"})`,
              { class: "muted" },
            ),
          ]),
        );
      }
      rows.push(["Severity", scores]);
    }
    rows.push([
      "Debian urgency",
      facts.debian?.urgency
        ? `${facts.debian.urgency} (source: the Debian Security Tracker)`
        : facts.debian
          ? "Debian has not set an urgency."
          : "The Debian Security Tracker has no record of this CVE in this run.",
    ]);
    if (nvd) {
      rows.push(["Weakness (CWE)", nvd.cwes.length > 0 ? nvd.cwes.join(", ") : "NVD names no weakness yet."]);
      rows.push(["Published", `${day(nvd.published)} (source: NVD)`]);
      rows.push(["Last modified", `${day(nvd.last_modified)} (source: NVD)`]);
    }
    if (facts.aliases.length > 0) {
      const aliases = element("span");
      facts.aliases.forEach((alias, position) => {
        if (position > 0) aliases.append(", ");
        aliases.append(link(alias, aliasHref(alias)));
      });
      rows.push(["Also known as", aliases]);
    }
  }

  const upstream = element("span");
  upstream.append(nvdLink);
  if (trackerHref) upstream.append(" · ", link("Debian Security Tracker", trackerHref));
  if (isCve(cveId)) upstream.append(" · ", link("OSV.dev", `https://osv.dev/vulnerability/${cveId}`));
  rows.push(["Upstream pages", upstream]);

  list.replaceChildren(...rows.flatMap(([term, value]) => [element("dt", term), element("dd", [value])]));
}

/** NVD's references as a list of links with their tags, or a sentence when there are none. */
export function renderReferences(section: HTMLElement, facts: CveFacts | null): void {
  const references = facts?.nvd?.references ?? [];
  const heading = section.querySelector("h2") as HTMLElement;
  if (references.length === 0) {
    section.replaceChildren(heading, element("p", "NVD lists no references for this CVE in this run."));
    return;
  }
  const item = (reference: (typeof references)[number]) => {
    const tags = reference.tags.length > 0 ? ` (${reference.tags.join(", ")})` : "";
    return element("li", [link(reference.url, reference.url), element("span", tags, { class: "muted" })]);
  };
  const list = element("ul", references.slice(0, referencesShown).map(item), { class: "references" });
  // A much-cited CVE has hundreds of references (CVE-2014-3566: about 500, a page 13,000 px tall): the rest wait
  // in a collapsed list.
  const rest =
    references.length > referencesShown
      ? [
          element("details", [
            element(
              "summary",
              `${(references.length - referencesShown).toLocaleString("en")} more references`,
            ),
            element("ul", references.slice(referencesShown).map(item), { class: "references" }),
          ]),
        ]
      : [];
  // The page data keeps a much-cited CVE's most useful references (lib/advisories.ts); NVD has them all.
  const total = (facts?.nvd as { references_total?: number } | null | undefined)?.references_total;
  const all =
    total !== undefined && total > references.length
      ? [
          element("p", [
            `${references.length} of ${total.toLocaleString("en")} references are listed here, patches and vendor advisories first; `,
            link(
              "NVD lists them all",
              `https://nvd.nist.gov/vuln/detail/${encodeURIComponent(facts?.cve_id ?? "")}`,
            ),
            ".",
          ]),
        ]
      : [];
  section.replaceChildren(heading, element("p", "Source: NVD.", { class: "muted" }), list, ...rest, ...all);
}

/** References listed before the rest are collapsed. */
const referencesShown = 10;
