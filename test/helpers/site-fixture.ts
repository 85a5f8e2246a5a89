// Output folders for the site's advisory pages, written in the published formats without running the
// pipeline: advisory_current.json with the issue-19 advisory fields (unaffected_from_version,
// known_exploited), cve_facts.json (optional: older output has none) and a ledger. Deterministic, so a test
// can name what it expects; `generated` makes a dataset of any size with the real data's shape (many
// packages, a few CVEs shared by up to 24 of them, upstream evidence and NVD facts with references).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ListedDocument } from "../../pipeline/formats/listed-document.ts";
import type { CveFacts, KnownExploited, SiteAdvisory } from "../../site/src/lib/data-types.ts";

export const fixtureRunId = "20260301T060000Z";
const asOf = "2026-03-01T06:00:00Z";

export interface FixtureAdvisory {
  package: string;
  cve: string;
  state: "fixed" | "not_applicable" | "under_investigation" | "pending_upstream" | "wont_fix";
  fixed?: string;
  unaffectedFrom?: string;
  kev?: KnownExploited;
  debian?: { release: string; signal: string; version: string | null }[];
}

const rulesByState = {
  fixed: ["vendor_fixed_version", "fix_available", 0.9, "final"],
  not_applicable: ["distro_not_affected", "distro_not_affected", 0.9, "final"],
  under_investigation: ["no_signal", "awaiting_analysis", 0.5, "non_final"],
  pending_upstream: ["upstream_pending", "fix_pending_upstream", 0.7, "non_final"],
  wont_fix: ["upstream_wont_fix", "upstream_will_not_fix", 0.75, "final"],
} as const;

export function advisoryOf(item: FixtureAdvisory): SiteAdvisory {
  const id = `${item.package}:${item.cve}`;
  const [rule, reason, confidence, stateType] = rulesByState[item.state];
  const evidence: SiteAdvisory["evidence"] = [
    {
      source: "echo_data",
      signal: item.fixed ? "fixed" : "listed_without_fix",
      version: item.fixed ?? null,
      release: null,
      record: null,
      record_date: null,
      fetched_at: asOf,
      stale: false,
    },
    ...(item.debian ?? []).map((entry) => ({
      source: "debian_tracker",
      signal: entry.signal,
      version: entry.version,
      release: entry.release,
      record: item.cve,
      record_date: "2026-02-20T10:00:00Z",
      fetched_at: asOf,
      stale: false,
    })),
  ];
  return {
    advisory_id: id,
    cve_id: item.cve,
    package_name: item.package,
    state: item.state,
    state_type: stateType,
    fixed_version: item.state === "fixed" ? (item.fixed ?? null) : null,
    confidence,
    explanation: `${item.cve} in ${item.package}: decided by ${rule} for the fixture.`,
    reason_code: reason,
    rule_id: rule,
    contributing_sources: ["echo_data"],
    dissenting_sources: [],
    decided_at: asOf,
    first_seen: asOf,
    evidence,
    unaffected_from_version: item.state === "not_applicable" ? (item.unaffectedFrom ?? null) : null,
    known_exploited: item.kev ?? null,
    history_url: `advisory/?id=${encodeURIComponent(id)}`,
  };
}

/** NVD-shaped facts for a CVE: `scored` false gives a CVE NVD has not analysed. */
export function factsOf(
  cve: string,
  options: { scored?: number | null; references?: number; published?: string },
): CveFacts {
  const score = options.scored ?? null;
  const rating =
    score === null ? null : score >= 9 ? "CRITICAL" : score >= 7 ? "HIGH" : score >= 4 ? "MEDIUM" : "LOW";
  return {
    cve_id: cve,
    description: {
      text: `A flaw in the parser of ${cve} lets a remote attacker cause a denial of service or run code with crafted input; versions before the fix are affected.`,
      source: "nvd",
    },
    nvd: {
      status: score === null ? "Awaiting Analysis" : "Analyzed",
      published: options.published ?? "2024-03-29T17:15:21.000Z",
      last_modified: "2025-01-10T12:00:00.000Z",
      cvss:
        score === null
          ? []
          : [
              {
                version: "3.1",
                base_score: score,
                base_severity: rating,
                vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                source: "nvd@nist.gov",
                type: "Primary",
              },
            ],
      cwes: score === null ? [] : ["CWE-787"],
      references: Array.from({ length: options.references ?? 3 }, (_, index) => ({
        url: `https://security.example.org/advisories/${cve}/reference-${index}`,
        source: "cve@mitre.org",
        tags: index === 0 ? ["Patch", "Third Party Advisory"] : ["Mailing List"],
      })),
    },
    debian: {
      description: "parser flaw",
      urgency: "medium",
      tracker_url: `https://security-tracker.debian.org/tracker/${cve}`,
    },
    aliases: [`DEBIAN-${cve}`, `GHSA-${cve.slice(4, 8)}-abcd-efgh`],
    severity:
      score === null
        ? null
        : {
            base_score: score,
            rating: (rating as string).toLowerCase() as "critical" | "high" | "medium" | "low",
            version: "3.1",
            source: "nvd",
          },
    published: options.published ?? "2024-03-29T17:15:21.000Z",
  };
}

const ledgerLine = (advisory: SiteAdvisory) =>
  JSON.stringify({
    run_id: fixtureRunId,
    as_of: "2026-03-01T06:00:00.000Z",
    advisory_id: advisory.advisory_id,
    from_state: null,
    to_state: advisory.state,
    state_type: advisory.state_type,
    rule_id: advisory.rule_id,
    reason_code: advisory.reason_code,
    fixed_version: advisory.fixed_version,
    unaffected_from_version: advisory.unaffected_from_version ?? null,
    confidence: advisory.confidence,
    deciding_source: "echo_data",
    evidence: {
      signal: advisory.evidence[0]?.signal ?? null,
      version: advisory.fixed_version,
      reason: null,
      release: null,
      record: null,
      date: null,
      fetched_at: "2026-03-01T06:00:00.000Z",
      stale: false,
    },
    contributing_sources: advisory.contributing_sources,
    dissenting_sources: [],
  });

/** Writes the output folder: advisory_current.json, cve_facts.json unless `facts` is undefined, a ledger. */
export async function writeSiteOutput(
  outputDir: string,
  advisories: SiteAdvisory[],
  facts: CveFacts[] | undefined,
): Promise<void> {
  await mkdir(join(outputDir, "history/transitions"), { recursive: true });
  const sorted = [...advisories].sort((a, b) => (a.advisory_id < b.advisory_id ? -1 : 1));
  await writeFile(
    join(outputDir, "advisory_current.json"),
    ListedDocument.serialise(
      [
        ["generated_at", "2026-03-01T06:00:00.000Z"],
        ["advisory_count", sorted.length],
      ],
      "advisories",
      sorted.map((advisory) => JSON.stringify(advisory)),
    ),
  );
  if (facts) {
    const byId = [...facts].sort((a, b) => (a.cve_id < b.cve_id ? -1 : 1));
    await writeFile(
      join(outputDir, "cve_facts.json"),
      ListedDocument.serialise(
        [
          ["schema_version", 1],
          ["run_id", fixtureRunId],
          ["generated_at", "2026-03-01T06:00:00.000Z"],
          ["cve_count", byId.length],
        ],
        "cves",
        byId.map((item) => JSON.stringify(item)),
      ),
    );
  }
  await writeFile(
    join(outputDir, "history/transitions", `${fixtureRunId}.jsonl`),
    sorted.map((advisory) => `${ledgerLine(advisory)}\n`).join(""),
  );
}

/**
 * A dataset shaped like the vendor's: `count` advisories over count/11 packages (one package holds a quarter,
 * as linux does), CVEs shared by up to 24 packages, Debian evidence for two releases, NVD facts with ten
 * references for every CVE but a few much-cited ones with 500.
 */
export function generated(count: number): { advisories: SiteAdvisory[]; facts: CveFacts[] } {
  const advisories: SiteAdvisory[] = [];
  const cves = new Set<string>();
  const ids = new Set<string>();
  const packages = Math.max(2, Math.floor(count / 11));
  const states = [
    "fixed",
    "fixed",
    "fixed",
    "fixed",
    "fixed",
    "fixed",
    "fixed",
    "fixed",
    "not_applicable",
    "under_investigation",
  ] as const;
  for (let index = 0; index < count; index++) {
    const pkg = index % 4 === 0 ? "linux" : `package-${(index * 7919) % packages}`;
    // Every 500th CVE is shared by 24 packages; the others are mostly one package's.
    const shared = index % 500 < 24;
    const cve = shared
      ? `CVE-2023-${40000 + Math.floor(index / 500)}`
      : `CVE-${2000 + (index % 26)}-${10000 + Math.floor(index / 3)}`;
    const name = shared ? `shared-${index % 500}` : pkg;
    const id = `${name}:${cve}`;
    if (ids.has(id)) continue;
    ids.add(id);
    const state = states[index % states.length] as FixtureAdvisory["state"];
    advisories.push(
      advisoryOf({
        package: name,
        cve,
        state,
        fixed:
          state === "fixed"
            ? `${1 + (index % 9)}.${index % 31}.${index % 7}-${1 + (index % 3)}+deb12u1`
            : undefined,
        unaffectedFrom: state === "not_applicable" ? "0" : undefined,
        debian: [
          {
            release: "bookworm",
            signal: state === "fixed" ? "fixed" : "open",
            version: state === "fixed" ? "1.0-1" : null,
          },
          { release: "sid", signal: "fixed", version: "1.0-2" },
        ],
      }),
    );
    cves.add(cve);
  }
  const facts = [...cves].map((cve, index) =>
    // A few much-cited CVEs, like CVE-2014-3566's 487 references on the real data.
    factsOf(cve, {
      scored: index % 5 === 0 ? null : (index % 100) / 10,
      references: index % 5000 === 7 ? 500 : 10,
    }),
  );
  return { advisories, facts };
}
