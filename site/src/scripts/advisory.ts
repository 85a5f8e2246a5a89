// Renders one advisory from its shard file. Every value from the data goes in through textContent or an
// attribute, never as markup: explanations and evidence carry upstream and analyst text.
import type { PublishedAdvisory } from "../../../pipeline/formats/advisory.ts";
import type { LedgerTransition } from "../../../pipeline/formats/ledger-transition.ts";
import { shardOf } from "../lib/shards.ts";

/** What the advisory's shard file holds for it: the published record and its timeline from the ledger. */
type TimelineEntry = Omit<LedgerTransition, "advisory_id" | "contributing_sources" | "dissenting_sources">;
interface AdvisoryDetail extends PublishedAdvisory {
  timeline: TimelineEntry[];
}

const base = import.meta.env.BASE_URL.replace(/\/$/, "");

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  attributes: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

const day = (timestamp: string | null) => (timestamp ? timestamp.slice(0, 10) : "—");

export async function showAdvisory(): Promise<void> {
  const article = document.getElementById("advisory") as HTMLElement;
  const title = document.getElementById("advisory-title") as HTMLElement;
  const error = document.getElementById("advisory-error") as HTMLElement;
  const labels = JSON.parse(document.getElementById("advisory-labels")?.textContent ?? "{}") as {
    states: Record<string, string>;
    sources: Record<string, string>;
  };
  const stateLabel = (state: string | null) => (state ? (labels.states[state] ?? state) : "");
  const sourceLabel = (source: string | null) => (source ? (labels.sources[source] ?? source) : "—");

  const fail = (message: string) => {
    error.textContent = message;
    error.hidden = false;
    article.setAttribute("aria-busy", "false");
  };

  const id = new URLSearchParams(location.search).get("id")?.trim() ?? "";
  if (!id) {
    fail(
      "No advisory was named. Open an advisory from the search page; its address ends in ?id=<package>:<CVE>.",
    );
    return;
  }
  title.textContent = id;
  document.title = `${id} · echo-advisory`;

  let advisory: AdvisoryDetail | undefined;
  try {
    const response = await fetch(`${base}/data/advisories/${shardOf(id)}.json`);
    if (!response.ok) throw new Error(`the advisory data answered ${response.status}`);
    advisory = ((await response.json()) as Record<string, AdvisoryDetail>)[id];
  } catch (cause) {
    fail(`Could not load the advisory: ${cause instanceof Error ? cause.message : String(cause)}.`);
    return;
  }
  if (!advisory) {
    fail(`No advisory ${id} is published. It may be spelled differently (package:CVE) or no longer listed.`);
    return;
  }

  const stateLine = document.getElementById("advisory-state") as HTMLElement;
  stateLine.className = `state-${advisory.state}`;
  stateLine.replaceChildren(
    element("strong", stateLabel(advisory.state)),
    ` (${advisory.state_type === "final" ? "final" : "not final yet"}), confidence ${Math.round(advisory.confidence * 100)} %`,
  );
  (document.getElementById("advisory-explanation") as HTMLElement).textContent = advisory.explanation;

  const facts: [string, string | HTMLElement][] = [
    ["Package", advisory.package_name],
    ["Vulnerability", advisory.cve_id],
    ["Fixed version", advisory.fixed_version ?? "—"],
    ["Reason code", advisory.reason_code],
    ["Rule", advisory.rule_id],
    ["Decided", day(advisory.decided_at)],
    ["First seen", day(advisory.first_seen)],
  ];
  if (/^CVE-\d{4}-\d+$/.test(advisory.cve_id)) {
    const links = element("span");
    links.append(
      element("a", "NVD", { href: `https://nvd.nist.gov/vuln/detail/${advisory.cve_id}` }),
      " · ",
      element("a", "Debian Security Tracker", {
        href: `https://security-tracker.debian.org/tracker/${advisory.cve_id}`,
      }),
    );
    facts.push(["Upstream", links]);
  }
  (document.getElementById("advisory-facts") as HTMLElement).replaceChildren(
    ...facts.flatMap(([term, value]) => {
      const definition = element("dd");
      definition.append(value);
      return [element("dt", term), definition];
    }),
  );

  const evidenceRows = advisory.evidence.map((item) => {
    const row = element("tr");
    const says = item.stale ? `${item.signal} (stale: the last fetch failed)` : item.signal;
    for (const value of [
      sourceLabel(item.source),
      says,
      item.version ?? "—",
      item.release ?? "—",
      item.record ?? "—",
      day(item.record_date),
      day(item.fetched_at),
    ]) {
      row.append(element("td", value));
    }
    return row;
  });
  (document.querySelector("#advisory-evidence tbody") as HTMLElement).replaceChildren(...evidenceRows);

  const dissent = document.getElementById("advisory-dissent") as HTMLElement;
  const heading = dissent.querySelector("h2") as HTMLElement;
  const agreeing = element(
    "p",
    advisory.contributing_sources.length > 0
      ? `Agreeing: ${advisory.contributing_sources.map(sourceLabel).join(", ")}.`
      : "No source agrees explicitly.",
  );
  const disagreeing =
    advisory.dissenting_sources.length === 0
      ? element("p", "No source disagrees.")
      : (() => {
          const list = element("ul", undefined, { "aria-label": "Dissenting sources" });
          for (const source of advisory.dissenting_sources) list.append(element("li", source));
          return list;
        })();
  dissent.replaceChildren(heading, agreeing, disagreeing);

  const timeline = advisory.timeline.map((entry) => {
    const item = element("li", undefined, { "data-run-id": entry.run_id });
    const when = element("time", day(entry.as_of), { datetime: entry.as_of });
    const change = entry.from_state
      ? `${stateLabel(entry.from_state)} → ${entry.to_state ? stateLabel(entry.to_state) : "no longer listed"}`
      : `first listed: ${stateLabel(entry.to_state)}`;
    const details = [
      entry.rule_id && `rule ${entry.rule_id}`,
      entry.reason_code && `reason ${entry.reason_code}`,
      entry.fixed_version && `fixed in ${entry.fixed_version}`,
      entry.deciding_source && `decided by ${sourceLabel(entry.deciding_source)}`,
    ].filter(Boolean);
    const run = element("a", `run ${entry.run_id}`, { href: `${base}/runs/${entry.run_id}/` });
    item.append(
      when,
      " ",
      element("strong", change),
      details.length ? ` (${details.join(", ")}) ` : " ",
      run,
    );
    return item;
  });
  (document.getElementById("advisory-timeline") as HTMLElement).replaceChildren(...timeline);

  (document.getElementById("advisory-body") as HTMLElement).hidden = false;
  article.setAttribute("aria-busy", "false");
}
