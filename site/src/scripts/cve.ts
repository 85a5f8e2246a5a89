// The CVE page (cve/?id=): the CVE's facts and every package advisory for it, from one small CVE shard.
import type { CveEntry } from "../lib/data-types.ts";
import {
  advisoryHref,
  cveShardUrl,
  fetchJson,
  link,
  readPageData,
  stateCell,
  tableRow,
  versionText,
} from "./common.ts";
import { renderFacts, renderReferences } from "./facts.ts";

export async function showCve(): Promise<void> {
  const data = readPageData();
  const article = document.getElementById("cve") as HTMLElement;
  const error = document.getElementById("cve-error") as HTMLElement;
  const fail = (message: string) => {
    error.textContent = message;
    error.hidden = false;
    article.setAttribute("aria-busy", "false");
  };
  const id = new URLSearchParams(location.search).get("id")?.trim() ?? "";
  if (!id) {
    fail("No vulnerability was named: the address ends in ?id=<CVE id>, e.g. ?id=CVE-2024-3094.");
    return;
  }
  (document.getElementById("cve-title") as HTMLElement).textContent = id;
  document.title = `${id} · echo-advisory`;
  let entry: CveEntry | undefined;
  try {
    entry = (await fetchJson<Record<string, CveEntry>>(cveShardUrl(data, id)))[id];
  } catch (cause) {
    fail(`Could not load the vulnerability: ${cause instanceof Error ? cause.message : String(cause)}.`);
    return;
  }
  if (!entry) {
    fail(`No advisory of ours names ${id}. Vulnerability ids are spelled like CVE-2024-3094.`);
    return;
  }
  renderFacts(document.getElementById("cve-facts") as HTMLElement, id, entry.facts, data);
  renderReferences(document.getElementById("cve-references") as HTMLElement, entry.facts);
  const exploited = entry.advisories.some((row) => row[4] === 1);
  (document.getElementById("cve-kev") as HTMLElement).hidden = !exploited;

  const headers = ["Package", "State", "Version", "Known exploited"];
  const rows = entry.advisories.map(([name, state, fixed, unaffected, kev]) => {
    const row = tableRow(headers, [
      link(name, advisoryHref(`${name}:${id}`)),
      stateCell(data, state),
      versionText(state, fixed, unaffected),
      kev ? "yes" : "no",
    ]);
    row.dataset.package = name;
    return row;
  });
  (document.querySelector("#cve-advisories tbody") as HTMLElement).replaceChildren(...rows);
  (document.getElementById("cve-count") as HTMLElement).textContent =
    `${entry.advisories.length} ${entry.advisories.length === 1 ? "package" : "packages"} of ours ${entry.advisories.length === 1 ? "is" : "are"} affected or assessed.`;
  (document.getElementById("cve-body") as HTMLElement).hidden = false;
  article.setAttribute("aria-busy", "false");
}
