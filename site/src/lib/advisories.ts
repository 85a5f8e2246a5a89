// Build-time shapes of the advisory data the browser loads on demand: a compact search index, the explanation
// texts for full-text search, and per-shard detail files with each advisory's timeline. All of it is read from
// advisory_current.json and the ledger in one streaming pass: at 25× the vendor's data the file is over a GB,
// more than one string holds, so advisories are read a line at a time and parked per shard in temporary
// files until their shard's page is written. Nothing here decides anything.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { PublishedAdvisory } from "../../../pipeline/formats/advisory.ts";
import type { AdvisoryDocument } from "../../../pipeline/formats/advisory-current.ts";
import {
  ListedLayoutError,
  readListedItems,
  wholeFileLimitBytes,
} from "../../../pipeline/formats/listed-document.ts";
import { type LedgerTransition, scanLedger } from "./history.ts";
import { outputDir } from "./output.ts";
import { ParkedShards } from "./parked-shards.ts";
import { shardOf } from "./shards.ts";

/**
 * The search index: one row per advisory, values dictionary-coded so 40k advisories stay a few hundred KB
 * compressed. Row: [advisory id, state index, reason index, bitmask of the sources with evidence, fixed version].
 */
export interface AdvisoryIndex {
  generated_at: string | null;
  states: string[];
  reasons: string[];
  sources: string[];
  rows: IndexRow[];
}

type IndexRow = [string, number, number, number, string | null];

export type TimelineEntry = Omit<
  LedgerTransition,
  "advisory_id" | "contributing_sources" | "dissenting_sources"
>;

export interface AdvisoryDetail extends PublishedAdvisory {
  timeline: TimelineEntry[];
}

/** What one pass over the published advisories and the ledger gives the pages. */
export interface AdvisoryData {
  index: AdvisoryIndex;
  /** Explanations in index order. */
  texts: string[];
  /**
   * A shard's advisories with their timelines, in document order: the JSON of a Record<string,
   * AdvisoryDetail>, put together from the parked JSON texts without parsing them again.
   */
  readShard(shard: string): Promise<string>;
}

let data: Promise<AdvisoryData> | undefined;

/** Computed once per build, for the index, the texts and all 256 shard files. */
export function loadAdvisoryData(): Promise<AdvisoryData> {
  data ??= readAdvisoryData();
  return data;
}

interface ReadAdvisory {
  advisory: PublishedAdvisory;
  /** Its JSON text: the line as published, or serialised from a file parsed whole. */
  text: string;
  /** Where it stands in the file, for errors: a line number or the index in the list. */
  at: string;
}

/**
 * advisory_current.json's advisories in file order, none before the first published run. They are read a
 * line at a time in the layout the pipeline writes (one advisory per line); a file in another layout (written
 * by hand, pretty-printed) is parsed whole when it is small enough for that, before any advisory was taken.
 */
async function* readPublishedAdvisories(
  path: string,
  onGeneratedAt: (generatedAt: string | null) => void,
): AsyncGenerator<ReadAdvisory> {
  if (!existsSync(path)) return;
  let taken = 0;
  try {
    const items = readListedItems(path, "advisories", (key, value) => {
      if (key === "generated_at") onGeneratedAt(typeof value === "string" ? value : null);
    });
    for await (const { item, line, text } of items) {
      taken += 1;
      yield { advisory: item as PublishedAdvisory, text: text.trimEnd(), at: `line ${line}` };
    }
    return;
  } catch (error) {
    if (!(error instanceof ListedLayoutError) || taken > 0 || statSync(path).size > wholeFileLimitBytes) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
  }
  const document = JSON.parse(readFileSync(path, "utf8")) as AdvisoryDocument;
  onGeneratedAt(document.generated_at ?? null);
  for (const [position, advisory] of document.advisories.entries()) {
    yield { advisory, text: JSON.stringify(advisory), at: `advisories.${position}` };
  }
}

async function readAdvisoryData(): Promise<AdvisoryData> {
  const path = join(outputDir, "advisory_current.json");
  const parked = new ParkedShards();
  let generatedAt: string | null = null;
  const states = new Dictionary();
  const reasons = new Dictionary();
  const sources = new Dictionary();
  const rows: IndexRow[] = [];
  const texts: string[] = [];
  const seen = new Set<string>();
  for await (const { advisory, text, at } of readPublishedAdvisories(path, (value) => {
    generatedAt = value;
  })) {
    const id = advisory?.advisory_id;
    // The shard files are put together as text, so what they rely on is checked here.
    if (typeof id !== "string" || !text.startsWith("{") || !text.endsWith("}")) {
      throw new Error(`${path}: ${at}: not an advisory (an object with an advisory_id)`);
    }
    if (seen.has(id)) throw new Error(`${path}: ${at}: advisory ${id} is listed twice`);
    seen.add(id);
    let mask = 0;
    for (const item of advisory.evidence) {
      const bit = sources.code(item.source);
      if (bit >= 30) throw new Error(`too many sources for the index's bitmask: ${bit + 1}`);
      mask |= 1 << bit;
    }
    rows.push([
      id,
      states.code(advisory.state),
      reasons.code(advisory.reason_code),
      mask,
      advisory.fixed_version,
    ]);
    texts.push(advisory.explanation);
    await parked.add("advisories", shardOf(id), `${JSON.stringify(id)}\t${text}`);
  }
  seen.clear();
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
  return {
    index: {
      generated_at: generatedAt,
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
