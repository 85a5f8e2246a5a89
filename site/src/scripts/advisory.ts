// Renders one advisory: its shard file (the record and timeline) and its CVE's shard file (the CVE's facts
// and the other packages it affects), about 10 KB together. A customer reads the first line (what to do),
// the facts and Debian's status; the codes, the raw evidence and the timeline sit in a collapsed section
// for analysts. Every value from the data goes in through textContent or an attribute, never as markup.
import type { AdvisoryDetail, CveEntry, PageData } from "../lib/data-types.ts";
import {
  advisoryHref,
  advisoryShardUrl,
  base,
  cveHref,
  cveShardUrl,
  day,
  element,
  fetchJson,
  link,
  packageHref,
  readPageData,
  sourceLabel,
  stateLabel,
  tableRow,
  versionText,
} from "./common.ts";
import { renderFacts, renderReferences } from "./facts.ts";

const signalText = (data: PageData, signal: string) => data.signals[signal] ?? signal.replaceAll("_", " ");

/**
 * The first line: what to do, in a customer's words. The words are the advisory_states seed's customer_action
 * template; a not-applicable advisory's reason is the research team's (override_reasons, as its explanation
 * quotes it) or the deciding rule's customer_reason (rule_catalogue).
 */
function verdict(data: PageData, advisory: AdvisoryDetail): string {
  const template = data.states[advisory.state]?.action;
  if (!template) return data.states[advisory.state]?.description ?? "";
  if (advisory.state === "fixed" && !advisory.fixed_version) {
    return `A fix exists; upgrade ${advisory.package_name} to its latest version.`;
  }
  const reason =
    (advisory.reason_code === "analyst_not_applicable"
      ? data.overrideReasons.find((text) => advisory.explanation.includes(text))
      : undefined) ??
    data.reasons[advisory.reason_code] ??
    advisory.reason_code.replaceAll("_", " ");
  const values: Record<string, string> = {
    package: advisory.package_name,
    fixed_version: advisory.fixed_version ?? "",
    reason,
  };
  return template.replace(/\{(\w+)\}/g, (placeholder, name: string) => values[name] ?? placeholder);
}

/** How sure the decision is, in words: the rule's confidence with what it rests on. */
function confidenceText(data: PageData, advisory: AdvisoryDetail): string {
  const level =
    advisory.confidence >= 0.9
      ? "High confidence"
      : advisory.confidence >= 0.8
        ? "Good confidence"
        : advisory.confidence >= 0.7
          ? "Moderate confidence"
          : "Low confidence";
  const agreeing = advisory.contributing_sources.map((source) => sourceLabel(data, source));
  const basis = agreeing.length > 0 ? `, based on ${agreeing.join(" and ")}` : "";
  const dissent =
    advisory.dissenting_sources.length > 0
      ? ` ${advisory.dissenting_sources.length === 1 ? "One source says" : "Some sources say"} otherwise (see the details for analysts).`
      : "";
  const finality =
    advisory.state_type === "final"
      ? " This is a final decision."
      : " This decision is provisional: it changes as soon as a source says more.";
  return `${level}${basis}.${dissent}${finality}`;
}

export async function showAdvisory(): Promise<void> {
  const data = readPageData();
  const article = document.getElementById("advisory") as HTMLElement;
  const title = document.getElementById("advisory-title") as HTMLElement;
  const error = document.getElementById("advisory-error") as HTMLElement;
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
  let cve: CveEntry | undefined;
  const cveId = id.slice(id.indexOf(":") + 1);
  try {
    const [details, cves] = await Promise.all([
      fetchJson<Record<string, AdvisoryDetail>>(advisoryShardUrl(data, id)),
      fetchJson<Record<string, CveEntry>>(cveShardUrl(data, cveId)),
    ]);
    advisory = details[id];
    cve = cves[advisory?.cve_id ?? cveId];
  } catch (cause) {
    fail(`Could not load the advisory: ${cause instanceof Error ? cause.message : String(cause)}.`);
    return;
  }
  if (!advisory) {
    fail(`No advisory ${id} is published. It may be spelled differently (package:CVE) or no longer listed.`);
    return;
  }

  const stateLine = document.getElementById("advisory-state") as HTMLElement;
  stateLine.className = `verdict state-${advisory.state}`;
  stateLine.replaceChildren(
    element("span", stateLabel(data, advisory.state), { class: `state-badge state-${advisory.state}` }),
    " ",
    element("strong", verdict(data, advisory)),
  );
  (document.getElementById("advisory-confidence") as HTMLElement).textContent = confidenceText(
    data,
    advisory,
  );
  (document.getElementById("advisory-explanation") as HTMLElement).textContent = advisory.explanation;

  const kev = advisory.known_exploited;
  const kevBox = document.getElementById("advisory-kev") as HTMLElement;
  if (kev) {
    const details = [
      `added to CISA's catalogue on ${kev.date_added}`,
      kev.due_date ? `federal agencies must act by ${kev.due_date}` : "",
      kev.ransomware_use === "known"
        ? "known to be used in ransomware campaigns"
        : "use in ransomware campaigns not known",
    ].filter(Boolean);
    kevBox.replaceChildren(
      element("strong", "Known exploited", { class: "kev-badge" }),
      ` ${details.join("; ")}. `,
      ...(kev.required_action ? [element("span", `Required action: ${kev.required_action} `)] : []),
      link(
        "CISA's Known Exploited Vulnerabilities catalogue",
        "https://www.cisa.gov/known-exploited-vulnerabilities-catalog",
      ),
    );
    kevBox.hidden = false;
  }

  const summary: [string, string | Node][] = [
    ["Package", link(advisory.package_name, packageHref(advisory.package_name))],
    ["Vulnerability", link(advisory.cve_id, cveHref(advisory.cve_id))],
    advisory.state === "not_applicable"
      ? [
          "Unaffected",
          advisory.unaffected_from_version === "0"
            ? "every version"
            : advisory.unaffected_from_version
              ? `from ${advisory.unaffected_from_version}`
              : "not affected (no version given)",
        ]
      : ["Fixed version", advisory.fixed_version ?? "none yet"],
    ["Decided", day(advisory.decided_at)],
    ["First seen", day(advisory.first_seen)],
  ];
  (document.getElementById("advisory-summary") as HTMLElement).replaceChildren(
    ...summary.flatMap(([term, value]) => [element("dt", term), element("dd", [value])]),
  );

  renderFacts(
    document.getElementById("advisory-facts") as HTMLElement,
    advisory.cve_id,
    cve?.facts ?? null,
    data,
  );
  renderReferences(document.getElementById("advisory-references") as HTMLElement, cve?.facts ?? null);

  // Debian's status per release, as the tracker's evidence rows give it.
  const debianHeaders = ["Release", "Status", "Fixed version", "Urgency"];
  const debianRows = advisory.evidence
    .filter((item) => item.source === "debian_tracker")
    .map((item) =>
      tableRow(debianHeaders, [
        item.release ?? "—",
        signalText(data, item.signal),
        item.version === "0" ? "not affected" : (item.version ?? "—"),
        cve?.facts?.debian?.urgency ?? "—",
      ]),
    );
  const debian = document.getElementById("advisory-debian") as HTMLElement;
  if (debianRows.length > 0) {
    (debian.querySelector("tbody") as HTMLElement).replaceChildren(...debianRows);
  } else {
    (debian.querySelector(".table-scroll") as HTMLElement).replaceChildren(
      element("p", "This run has no Debian Security Tracker data for this advisory."),
    );
  }

  // The other packages this CVE affects.
  const others = (cve?.advisories ?? []).filter(([name]) => name !== advisory.package_name);
  const otherList = document.getElementById("advisory-others") as HTMLElement;
  otherList.replaceChildren(
    ...(others.length === 0
      ? [element("li", "No other package of ours is affected.")]
      : others.map(([name, state, fixed, unaffected]) =>
          element("li", [
            link(name, advisoryHref(`${name}:${advisory.cve_id}`)),
            // "fixed in 1.2-3" says the state already; other states keep their label ("under investigation, …").
            state === "fixed" && fixed
              ? `: ${versionText(state, fixed, unaffected)}`
              : `: ${stateLabel(data, state)}, ${versionText(state, fixed, unaffected)}`,
          ]),
        )),
  );

  // For analysts: the codes, the evidence as the sources gave it and the timeline.
  const codes: [string, string][] = [
    ["State", `${advisory.state} (${advisory.state_type})`],
    ["Rule", `${advisory.rule_id}: ${data.rules[advisory.rule_id] ?? ""}`],
    ["Reason code", advisory.reason_code],
    ["Confidence", String(advisory.confidence)],
  ];
  (document.getElementById("advisory-codes") as HTMLElement).replaceChildren(
    ...codes.flatMap(([term, value]) => [element("dt", term), element("dd", value)]),
  );
  const evidenceHeaders = ["Source", "Says", "Version", "Release", "Record", "Record date", "First fetched"];
  const evidenceRows = advisory.evidence.map((item) =>
    tableRow(evidenceHeaders, [
      sourceLabel(data, item.source),
      `${signalText(data, item.signal)} (${item.signal})${item.stale ? ", stale: the last fetch failed" : ""}`,
      item.version ?? "—",
      item.release ?? "—",
      item.record ?? "—",
      day(item.record_date),
      day(item.fetched_at),
    ]),
  );
  (document.querySelector("#advisory-evidence tbody") as HTMLElement).replaceChildren(...evidenceRows);

  const dissent = document.getElementById("advisory-dissent") as HTMLElement;
  const heading = dissent.querySelector("h3") as HTMLElement;
  const agreeing = element(
    "p",
    advisory.contributing_sources.length > 0
      ? `Agreeing: ${advisory.contributing_sources.map((source) => sourceLabel(data, source)).join(", ")}.`
      : "No source agrees explicitly.",
  );
  const disagreeing =
    advisory.dissenting_sources.length === 0
      ? element("p", "No source disagrees.")
      : element(
          "ul",
          advisory.dissenting_sources.map((source) => element("li", source)),
          { "aria-label": "Dissenting sources" },
        );
  dissent.replaceChildren(heading, agreeing, disagreeing);

  const timeline = advisory.timeline.map((entry) => {
    const change = entry.from_state
      ? `${stateLabel(data, entry.from_state)} → ${entry.to_state ? stateLabel(data, entry.to_state) : "no longer listed"}`
      : `first listed: ${stateLabel(data, entry.to_state)}`;
    const details = [
      entry.rule_id && `rule ${entry.rule_id}`,
      entry.reason_code && `reason ${entry.reason_code}`,
      entry.fixed_version && `fixed in ${entry.fixed_version}`,
      entry.deciding_source && `decided by ${sourceLabel(data, entry.deciding_source)}`,
    ].filter(Boolean);
    return element(
      "li",
      [
        element("time", day(entry.as_of), { datetime: entry.as_of }),
        " ",
        element("strong", change),
        details.length ? ` (${details.join(", ")}) ` : " ",
        link(`run ${entry.run_id}`, `${base}/runs/${entry.run_id}/`),
      ],
      { "data-run-id": entry.run_id },
    );
  });
  (document.getElementById("advisory-timeline") as HTMLElement).replaceChildren(...timeline);

  (document.getElementById("advisory-body") as HTMLElement).hidden = false;
  article.setAttribute("aria-busy", "false");
}
