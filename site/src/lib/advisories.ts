// Build-time shapes of the advisory data the browser loads on demand: a compact search index, the explanation
// texts for full-text search, and per-shard detail files with each advisory's timeline. All of it is read from
// advisory_current.json and the ledger in one streaming pass: at 25× the vendor's data the file is over a GB,
// more than one string holds, so advisories are read a line at a time and parked per shard in temporary
// files until their shard's page is written. Nothing here decides anything.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AdvisoryDocument, PublishedAdvisory } from "../../../pipeline/export.ts";
import { ListedLayoutError, readListedItems } from "../../../pipeline/lib/listed-document.ts";
import { wholeFileLimitBytes } from "../../../pipeline/published-evidence.ts";
import { type LedgerTransition, listLedger, readTransitions } from "./history.ts";
import { outputDir } from "./output.ts";
import { allShards, shardOf } from "./shards.ts";

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
  /** Each shard's advisories with their timelines, in document order; read one shard at a time. */
  readShard(shard: string): Promise<Record<string, AdvisoryDetail>>;
}

let data: Promise<AdvisoryData> | undefined;

/** Computed once per build, for the index, the texts and all 256 shard files. */
export function loadAdvisoryData(): Promise<AdvisoryData> {
  data ??= readAdvisoryData();
  return data;
}

/**
 * advisory_current.json's advisories in file order, none before the first published run. They are read a
 * line at a time in the layout the pipeline writes (one advisory per line); a file in another layout (written
 * by hand, pretty-printed) is parsed whole when it is small enough for that, before any advisory was taken.
 */
async function* readPublishedAdvisories(
  onGeneratedAt: (generatedAt: string | null) => void,
): AsyncGenerator<PublishedAdvisory> {
  const path = join(outputDir, "advisory_current.json");
  if (!existsSync(path)) return;
  let taken = 0;
  try {
    const items = readListedItems(path, "advisories", (key, value) => {
      if (key === "generated_at") onGeneratedAt(typeof value === "string" ? value : null);
    });
    for await (const { item } of items) {
      taken += 1;
      yield item as PublishedAdvisory;
    }
    return;
  } catch (error) {
    if (!(error instanceof ListedLayoutError) || taken > 0 || statSync(path).size > wholeFileLimitBytes) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
  }
  const document = JSON.parse(readFileSync(path, "utf8")) as AdvisoryDocument;
  onGeneratedAt(document.generated_at ?? null);
  yield* document.advisories;
}

async function readAdvisoryData(): Promise<AdvisoryData> {
  const parked = new ShardFiles();
  let generatedAt: string | null = null;
  const states = new Dictionary();
  const reasons = new Dictionary();
  const sources = new Dictionary();
  const rows: IndexRow[] = [];
  const texts: string[] = [];
  for await (const advisory of readPublishedAdvisories((value) => {
    generatedAt = value;
  })) {
    let mask = 0;
    for (const item of advisory.evidence) {
      const bit = sources.code(item.source);
      if (bit >= 30) throw new Error(`too many sources for the index's bitmask: ${bit + 1}`);
      mask |= 1 << bit;
    }
    rows.push([
      advisory.advisory_id,
      states.code(advisory.state),
      reasons.code(advisory.reason_code),
      mask,
      advisory.fixed_version,
    ]);
    texts.push(advisory.explanation);
    await parked.add("advisories", shardOf(advisory.advisory_id), JSON.stringify(advisory));
  }
  for (const file of await listLedger()) {
    for await (const transition of readTransitions(file)) {
      const { contributing_sources: _agree, dissenting_sources: _dissent, ...entry } = transition;
      await parked.add("timelines", shardOf(transition.advisory_id), JSON.stringify(entry));
    }
  }
  await parked.flush();

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
      const timelines = new Map<string, TimelineEntry[]>();
      for (const line of await parked.lines("timelines", shard)) {
        const { advisory_id: advisoryId, ...entry } = JSON.parse(line) as Omit<
          LedgerTransition,
          "contributing_sources" | "dissenting_sources"
        >;
        const timeline = timelines.get(advisoryId);
        if (timeline) timeline.push(entry);
        else timelines.set(advisoryId, [entry]);
      }
      const details: Record<string, AdvisoryDetail> = {};
      for (const line of await parked.lines("advisories", shard)) {
        const advisory = JSON.parse(line) as PublishedAdvisory;
        details[advisory.advisory_id] = { ...advisory, timeline: timelines.get(advisory.advisory_id) ?? [] };
      }
      return details;
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

/**
 * JSON lines parked per shard in a temporary folder, buffered so that a million advisories make a few
 * thousand writes. The folder goes when the build process ends.
 */
class ShardFiles {
  private readonly directory = mkdtempSync(join(tmpdir(), "echo-site-shards-"));
  private readonly pending = new Map<string, string[]>();
  private pendingLength = 0;

  constructor() {
    const directory = this.directory;
    process.once("exit", () => rmSync(directory, { recursive: true, force: true }));
  }

  async add(kind: string, shard: string, line: string): Promise<void> {
    const name = `${kind}-${shard}.jsonl`;
    const lines = this.pending.get(name);
    if (lines) lines.push(line);
    else this.pending.set(name, [line]);
    this.pendingLength += line.length;
    if (this.pendingLength > 32 * 1024 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    for (const [name, lines] of this.pending) {
      await appendFile(join(this.directory, name), `${lines.join("\n")}\n`);
    }
    this.pending.clear();
    this.pendingLength = 0;
  }

  async lines(kind: string, shard: string): Promise<string[]> {
    const path = join(this.directory, `${kind}-${shard}.jsonl`);
    if (!allShards().includes(shard) || !existsSync(path)) return [];
    return (await readFile(path, "utf8")).split("\n").filter((line) => line !== "");
  }
}
