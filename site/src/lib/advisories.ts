// Build-time shapes of the advisory data the browser loads on demand: a compact search index, the explanation
// texts for full-text search, and three kinds of small files: each advisory's record with its timeline (by
// advisory id), each CVE's facts with its package advisories (by CVE id), each package's advisories (by
// package name). All of it is read from advisory_current.json, cve_facts.json and the ledger in one streaming
// pass: at 25× the vendor's data the files are over a GB, more than one string holds, so items are read a
// line at a time and parked per shard in temporary files until their shard's file is written. Nothing here
// decides anything.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  ListedLayoutError,
  readListedItems,
  wholeFileLimitBytes,
} from "../../../pipeline/formats/listed-document.ts";
import {
  type AdvisoryIndex,
  type AdvisoryRow,
  type CveFacts,
  type IndexRow,
  indexColumns,
  type PackageRow,
  type SiteAdvisory,
} from "./data-types.ts";

export type { AdvisoryDetail, AdvisoryIndex, IndexRow, TimelineEntry } from "./data-types.ts";

import { cveFactsFileName, dataLayout } from "./data-layout.ts";
import { scanLedger } from "./history.ts";
import { outputDir } from "./output.ts";
import { ParkedShards } from "./parked-shards.ts";
import { shardOf } from "./shards.ts";

/** What one pass over the published files and the ledger gives the pages. */
export interface AdvisoryData {
  index: AdvisoryIndex;
  /** Explanations in index order. */
  texts: string[];
  /**
   * A shard's advisories with their timelines, in document order: the JSON of a Record<string,
   * AdvisoryDetail>, put together from the parked JSON texts without parsing them again.
   */
  readShard(shard: string): Promise<string>;
  /** A CVE shard: the JSON of a Record<CVE id, CveEntry>. */
  readCveShard(shard: string): Promise<string>;
  /** A package shard: the JSON of a Record<package name, PackageRow[]>. */
  readPackageShard(shard: string): Promise<string>;
}

let data: Promise<AdvisoryData> | undefined;

/** Computed once per build, for the index, the texts and all shard files. */
export function loadAdvisoryData(): Promise<AdvisoryData> {
  data ??= readAdvisoryData();
  return data;
}

interface ReadItem {
  item: unknown;
  /** Its JSON text: the line as published, or serialised from a file parsed whole. */
  text: string;
  /** Where it stands in the file, for errors: a line number or the index in the list. */
  at: string;
}

/**
 * A published document's items (advisory_current.json, cve_facts.json) in file order, none when the file is
 * absent. They are read a line at a time in the layout the pipeline writes (one item per line); a file in
 * another layout (written by hand, pretty-printed) is parsed whole when it is small enough for that, before
 * any item was taken.
 */
async function* readPublishedItems(
  path: string,
  listKey: string,
  onMember: (key: string, value: unknown) => void,
): AsyncGenerator<ReadItem> {
  if (!existsSync(path)) return;
  let taken = 0;
  try {
    for await (const { item, line, text } of readListedItems(path, listKey, onMember)) {
      taken += 1;
      yield { item, text: text.trimEnd(), at: `line ${line}` };
    }
    return;
  } catch (error) {
    if (!(error instanceof ListedLayoutError) || taken > 0 || statSync(path).size > wholeFileLimitBytes) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
  }
  const document = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  const list = document[listKey];
  if (!Array.isArray(list)) throw new Error(`${path}: no list "${listKey}"`);
  for (const [key, value] of Object.entries(document)) if (key !== listKey) onMember(key, value);
  for (const [position, item] of list.entries()) {
    yield { item, text: JSON.stringify(item), at: `${listKey}.${position}` };
  }
}

const dayOf = (timestamp: string | null | undefined): number | null => {
  const time = timestamp ? Date.parse(timestamp) : Number.NaN;
  return Number.isNaN(time) ? null : Math.floor(time / 86_400_000);
};

/** What the index and package rows need of a CVE, kept for every CVE during the pass. */
type CveSummary = [score10: number | null, day: number | null];

/** How many of a CVE's references its page data carries; the rest are a link to NVD's page of the CVE. */
export const pageReferenceLimit = 25;

/** Tags of the references a customer wants first (NVD's tag vocabulary), most useful first. */
const referenceTagRank = [
  "Patch",
  "Vendor Advisory",
  "Mitigation",
  "Release Notes",
  "Exploit",
  "Issue Tracking",
];
const referenceRank = (tags: string[]) => {
  const ranks = tags.map((tag) => referenceTagRank.indexOf(tag)).filter((rank) => rank >= 0);
  return ranks.length > 0 ? Math.min(...ranks) : referenceTagRank.length;
};

/**
 * A CVE's facts as its page gets them. A much-cited CVE has hundreds of references (CVE-2014-3566: 487, 69 KB),
 * which would break the page's 30 KB budget for one mention: the page data keeps the most useful
 * pageReferenceLimit (patches and vendor advisories first, else NVD's order) and says how many there are.
 */
function withReferencesForPage(facts: CveFacts, text: string): string {
  const references = facts.nvd?.references ?? [];
  if (facts.nvd === null || references.length <= pageReferenceLimit) return text;
  const kept = references
    .map((reference, order) => ({ reference, order, rank: referenceRank(reference.tags) }))
    .sort((a, b) => a.rank - b.rank || a.order - b.order)
    .slice(0, pageReferenceLimit)
    .map((entry) => entry.reference);
  return JSON.stringify({
    ...facts,
    nvd: { ...facts.nvd, references: kept, references_total: references.length },
  });
}

async function readAdvisoryData(): Promise<AdvisoryData> {
  const layout = dataLayout();
  const parked = new ParkedShards();

  // The CVE facts first: their rows go to the CVE shards as they are, their score and date to a summary.
  const factsPath = join(outputDir, cveFactsFileName);
  const summaries = new Map<string, CveSummary>();
  for await (const { item, text, at } of readPublishedItems(factsPath, "cves", () => {})) {
    const facts = item as CveFacts;
    if (typeof facts?.cve_id !== "string" || !text.startsWith("{")) {
      throw new Error(`${factsPath}: ${at}: not a CVE's facts (an object with a cve_id)`);
    }
    if (summaries.has(facts.cve_id)) throw new Error(`${factsPath}: ${at}: ${facts.cve_id} is listed twice`);
    const score = facts.severity?.base_score;
    summaries.set(facts.cve_id, [
      typeof score === "number" ? Math.round(score * 10) : null,
      dayOf(facts.published),
    ]);
    await parked.add(
      "facts",
      shardOf(facts.cve_id, layout.cveBits),
      `${JSON.stringify(facts.cve_id)}\t${withReferencesForPage(facts, text)}`,
    );
  }

  const path = join(outputDir, "advisory_current.json");
  let generatedAt: string | null = null;
  const states = new Dictionary();
  const reasons = new Dictionary();
  const sources = new Dictionary();
  const rows: IndexRow[] = [];
  const texts: string[] = [];
  const seen = new Set<string>();
  const onMember = (key: string, value: unknown) => {
    if (key === "generated_at") generatedAt = typeof value === "string" ? value : null;
  };
  for await (const { item, text, at } of readPublishedItems(path, "advisories", onMember)) {
    const advisory = item as SiteAdvisory;
    const id = advisory?.advisory_id;
    // The shard files are put together as text, so what they rely on is checked here.
    if (typeof id !== "string" || !text.startsWith("{") || !text.endsWith("}")) {
      throw new Error(`${path}: ${at}: not an advisory (an object with an advisory_id)`);
    }
    if (seen.has(id)) throw new Error(`${path}: ${at}: advisory ${id} is listed twice`);
    seen.add(id);
    let mask = 0;
    for (const evidence of advisory.evidence) {
      const bit = sources.code(evidence.source);
      if (bit >= 30) throw new Error(`too many sources for the index's bitmask: ${bit + 1}`);
      mask |= 1 << bit;
    }
    const [score, day] = summaries.get(advisory.cve_id) ?? [null, null];
    const exploited = advisory.known_exploited ? 1 : 0;
    const unaffected = advisory.unaffected_from_version ?? null;
    const row: IndexRow = [
      id,
      states.code(advisory.state),
      reasons.code(advisory.reason_code),
      mask,
      advisory.fixed_version,
      day,
      score,
      exploited,
      unaffected,
    ];
    while (row.length > 5 && (row.at(-1) === null || row.at(-1) === 0)) row.pop();
    rows.push(row);
    texts.push(advisory.explanation);
    await parked.add("advisories", shardOf(id, layout.advisoryBits), `${JSON.stringify(id)}\t${text}`);
    const short = (first: string): AdvisoryRow => [
      first,
      advisory.state,
      advisory.fixed_version,
      unaffected,
      exploited,
    ];
    await parked.add(
      "cve-rows",
      shardOf(advisory.cve_id, layout.cveBits),
      `${JSON.stringify(advisory.cve_id)}\t${JSON.stringify(short(advisory.package_name))}`,
    );
    const packageRow: PackageRow = [...short(advisory.cve_id), score, day];
    await parked.add(
      "package-rows",
      shardOf(advisory.package_name, layout.packageBits),
      `${JSON.stringify(advisory.package_name)}\t${JSON.stringify(packageRow)}`,
    );
  }
  seen.clear();
  summaries.clear();
  await parked.flush();
  const { timelines } = await scanLedger();

  // Codes were handed out in order of appearance; the index lists each dictionary sorted.
  const stateOrder = states.sortedCodes();
  const reasonOrder = reasons.sortedCodes();
  const sourceOrder = sources.sortedCodes();
  for (const row of rows) {
    row[1] = stateOrder[row[1]] as number;
    row[2] = reasonOrder[row[2]] as number;
    let mask = 0;
    for (let bit = 0; 1 << bit <= row[3]; bit += 1) {
      if (row[3] & (1 << bit)) mask |= 1 << (sourceOrder[bit] as number);
    }
    row[3] = mask;
  }

  /** Lines of `kind` in `shard` grouped by key, keys in order of first appearance. */
  const grouped = async (kind: string, shard: string) => {
    const byKey = new Map<string, string[]>();
    for (const [key, line] of await parked.keyedLines(kind, shard)) {
      const list = byKey.get(key);
      if (list) list.push(line);
      else byKey.set(key, [line]);
    }
    return byKey;
  };
  return {
    index: {
      generated_at: generatedAt,
      columns: indexColumns,
      states: states.sorted(),
      reasons: reasons.sorted(),
      sources: sources.sorted(),
      rows,
    },
    texts,
    readShard: async (shard) => {
      // Both kinds of line are the id's JSON, a tab (never raw inside JSON text), then JSON; keyed by the former.
      const byAdvisory = new Map<string, string[]>();
      for (const [key, entry] of await timelines.keyedLines("timelines", shard)) {
        const timeline = byAdvisory.get(key);
        if (timeline) timeline.push(entry);
        else byAdvisory.set(key, [entry]);
      }
      // Exactly JSON.stringify of { [id]: { ...advisory, timeline } } for each advisory in order.
      const details = (await parked.keyedLines("advisories", shard)).map(([key, advisory]) => {
        const timeline = (byAdvisory.get(key) ?? []).join(",");
        return `${key}:${advisory.slice(0, -1)},"timeline":[${timeline}]}`;
      });
      return `{${details.join(",")}}`;
    },
    readCveShard: async (shard) => {
      const facts = await grouped("facts", shard);
      const entries = [...(await grouped("cve-rows", shard))].map(
        ([key, advisories]) =>
          `${key}:{"facts":${facts.get(key)?.[0] ?? "null"},"advisories":[${advisories.join(",")}]}`,
      );
      return `{${entries.join(",")}}`;
    },
    readPackageShard: async (shard) => {
      const entries = [...(await grouped("package-rows", shard))].map(
        ([key, advisories]) => `${key}:[${advisories.join(",")}]`,
      );
      return `{${entries.join(",")}}`;
    },
  };
}

/** Values coded by order of first appearance, then sorted for the index. */
class Dictionary {
  private readonly codes = new Map<string, number>();

  code(value: string): number {
    let code = this.codes.get(value);
    if (code === undefined) {
      code = this.codes.size;
      this.codes.set(value, code);
    }
    return code;
  }

  sorted(): string[] {
    return [...this.codes.keys()].sort();
  }

  /** For each first-appearance code, its position in sorted(). */
  sortedCodes(): number[] {
    const sorted = this.sorted();
    const order: number[] = [];
    for (const [value, code] of this.codes) order[code] = sorted.indexOf(value);
    return order;
  }
}
