// The shapes of the data the site publishes for its pages (lib/advisories.ts writes them, the browser scripts
// read them); the published files' own shapes come from pipeline/formats. Only types: the browser scripts
// import them.
import type { KnownExploited, PublishedAdvisory } from "../../../pipeline/formats/advisory.ts";
import type { CveFactsItem } from "../../../pipeline/formats/cve-facts.ts";
import type { LedgerTransition } from "../../../pipeline/formats/ledger-transition.ts";

/** A CVE's facts as cve_facts.json publishes them (pipeline/formats/cve-facts.ts). */
export type CveFacts = CveFactsItem;
export type { KnownExploited };

/** An advisory as published; output written before known_exploited and unaffected_from_version may lack them. */
export type SiteAdvisory = Omit<PublishedAdvisory, "known_exploited" | "unaffected_from_version"> & {
  known_exploited?: KnownExploited | null;
  unaffected_from_version?: string | null;
};

/**
 * One advisory in a CVE's or a package's list: [package or CVE, state, fixed version, unaffected from,
 * known exploited (1) or not (0)]. Arrays keep the package files of 10,000 advisories small.
 */
export type AdvisoryRow = [string, string, string | null, string | null, 0 | 1];

/** A CVE's entry in data/cves/<shard>.json: its facts (null when the run has none) and its advisories. */
export interface CveEntry {
  facts: CveFacts | null;
  advisories: AdvisoryRow[];
}

/**
 * One advisory in data/packages/<shard>.json: the CVE's row as above (CVE first), then its severity score
 * times ten and its published day (days since 1970-01-01), each null when unknown.
 */
export type PackageRow = [string, string, string | null, string | null, 0 | 1, number | null, number | null];

/** What the advisory, CVE, package and search pages embed for their scripts (lib/page-data.ts). */
export interface PageData {
  advisoryBits: number;
  cveBits: number;
  packageBits: number;
  factsPublished: boolean;
  /** advisory_states: the label, description and customer_action template (what to do) of each state. */
  states: Record<string, { label: string; description: string; action: string; final: boolean }>;
  sources: Record<string, string>;
  /** Rule id → the catalogue's description of when it applies. */
  rules: Record<string, string>;
  /** Reason code → the deciding rule's customer_reason (rule_catalogue), in a customer's words. */
  reasons: Record<string, string>;
  /** Signal → its label (signal_catalogue). */
  signals: Record<string, string>;
  /** The research team's reasons in customers' words (override_reasons seed), as explanations quote them. */
  overrideReasons: string[];
}

/** The index's columns, in row order. Rows end early when their last values are empty (null or 0). */
export const indexColumns = [
  "advisory_id",
  "state",
  "reason_code",
  "sources",
  "fixed_version",
  "published_day",
  "severity_score10",
  "known_exploited",
  "unaffected_from_version",
] as const;

/**
 * The search index: one row per advisory, values dictionary- and number-coded so 40k advisories stay a few
 * hundred KB. Row: [advisory id, state index, reason index, bitmask of the sources with evidence, fixed
 * version, CVE published day (days since 1970-01-01), severity base score × 10, known exploited (1),
 * unaffected-from version]; from the sixth value on, trailing nulls and zeros are left out.
 */
export interface AdvisoryIndex {
  generated_at: string | null;
  columns: readonly string[];
  states: string[];
  reasons: string[];
  sources: string[];
  rows: IndexRow[];
}

export type IndexRow = [
  string,
  number,
  number,
  number,
  string | null,
  (number | null)?,
  (number | null)?,
  (0 | 1)?,
  (string | null)?,
];

export type TimelineEntry = Omit<
  LedgerTransition,
  "advisory_id" | "contributing_sources" | "dissenting_sources"
>;

export type AdvisoryDetail = SiteAdvisory & { timeline: TimelineEntry[] };
