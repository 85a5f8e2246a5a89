// The package page (package/?name=): the package's advisories with state, severity, known-exploited mark,
// version and CVE date, and its counts by state, from one package shard. Newest CVEs first; a package with
// thousands of advisories (linux has 10,000) shows them 200 at a time.
import type { PackageRow } from "../lib/data-types.ts";
import {
  advisoryHref,
  cveNumber,
  cveSortDay,
  dayText,
  element,
  fetchJson,
  link,
  packageShardUrl,
  readPageData,
  severityCell,
  stateCell,
  stateLabel,
  tableRow,
  versionText,
} from "./common.ts";

const pageSize = 200;

export async function showPackage(): Promise<void> {
  const data = readPageData();
  const article = document.getElementById("package") as HTMLElement;
  const error = document.getElementById("package-error") as HTMLElement;
  const fail = (message: string) => {
    error.textContent = message;
    error.hidden = false;
    article.setAttribute("aria-busy", "false");
  };
  const name = new URLSearchParams(location.search).get("name")?.trim() ?? "";
  if (!name) {
    fail("No package was named: the address ends in ?name=<source package>, e.g. ?name=openssl.");
    return;
  }
  (document.getElementById("package-title") as HTMLElement).textContent = name;
  document.title = `${name} · echo-advisory`;
  let rows: PackageRow[] | undefined;
  try {
    rows = (await fetchJson<Record<string, PackageRow[]>>(packageShardUrl(data, name)))[name];
  } catch (cause) {
    fail(`Could not load the package: ${cause instanceof Error ? cause.message : String(cause)}.`);
    return;
  }
  if (!rows) {
    fail(`No advisory names the package ${name}. Package names are Debian source packages, e.g. openssl.`);
    return;
  }
  // Newest CVE first: by published day (else the year in its id), then by id.
  const sorted = [...rows].sort(
    (a, b) => cveSortDay(b[0], b[6]) - cveSortDay(a[0], a[6]) || cveNumber(b[0]) - cveNumber(a[0]),
  );

  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row[1], (counts.get(row[1]) ?? 0) + 1);
  const exploited = rows.filter((row) => row[4] === 1).length;
  const countList = document.getElementById("package-counts") as HTMLElement;
  countList.replaceChildren(
    element("li", `${rows.length.toLocaleString("en")} advisories in all`),
    ...Object.keys(data.states)
      .filter((state) => counts.has(state))
      .map((state) =>
        element("li", [
          element("span", stateLabel(data, state), { class: `state-badge state-${state}` }),
          ` ${(counts.get(state) ?? 0).toLocaleString("en")}`,
        ]),
      ),
    ...(exploited > 0
      ? [element("li", [element("span", "Known exploited", { class: "kev-badge" }), ` ${exploited}`])]
      : []),
  );

  const headers = ["Vulnerability", "State", "Severity", "Known exploited", "Version", "CVE date"];
  const body = document.querySelector("#package-advisories tbody") as HTMLElement;
  const more = document.getElementById("package-more") as HTMLButtonElement;
  const status = document.getElementById("package-status") as HTMLElement;
  let shown = 0;
  const showMore = () => {
    const next = sorted
      .slice(shown, shown + pageSize)
      .map(([cve, state, fixed, unaffected, kev, score, published]) => {
        const row = tableRow(headers, [
          link(cve, advisoryHref(`${name}:${cve}`)),
          stateCell(data, state),
          severityCell(score),
          kev ? element("span", "Known exploited", { class: "kev-badge" }) : "no",
          versionText(state, fixed, unaffected),
          element("span", dayText(published), { class: "nowrap" }),
        ]);
        row.dataset.cve = cve;
        return row;
      });
    body.append(...next);
    shown += next.length;
    more.hidden = shown >= sorted.length;
    status.textContent = `Showing ${shown.toLocaleString("en")} of ${sorted.length.toLocaleString("en")}, newest CVE first.`;
  };
  more.addEventListener("click", showMore);
  showMore();
  (document.getElementById("package-body") as HTMLElement).hidden = false;
  article.setAttribute("aria-busy", "false");
}
