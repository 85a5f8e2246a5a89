// Build-time shapes of the advisory data the browser loads on demand: a compact search index, the explanation
// texts for full-text search, and per-shard detail files with each advisory's timeline. All of it is read from
// advisory_current.json and the ledger; nothing here decides anything.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { AdvisoryDocument, PublishedAdvisory } from "../../../pipeline/export.ts";
import { type LedgerTransition, loadTimelines } from "./history.ts";
import { outputDir } from "./output.ts";
import { shardOf } from "./shards.ts";

let document: AdvisoryDocument | null | undefined;

/** advisory_current.json, or null before the first published run. */
export function readAdvisoryDocument(): AdvisoryDocument | null {
  if (document !== undefined) return document;
  const path = join(outputDir, "advisory_current.json");
  document = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as AdvisoryDocument) : null;
  return document;
}

/**
 * The search index: one row per advisory, values dictionary-coded so 40k advisories stay a few hundred KB
 * compressed. Row: [advisory id, state index, reason index, bitmask of the sources with evidence, fixed version].
 */
export interface AdvisoryIndex {
  generated_at: string | null;
  states: string[];
  reasons: string[];
  sources: string[];
  rows: [string, number, number, number, string | null][];
}

export function buildAdvisoryIndex(): AdvisoryIndex {
  const advisories = readAdvisoryDocument()?.advisories ?? [];
  const states = distinct(advisories.map((advisory) => advisory.state));
  const reasons = distinct(advisories.map((advisory) => advisory.reason_code));
  const sources = distinct(advisories.flatMap((advisory) => advisory.evidence.map((item) => item.source)));
  if (sources.length > 30) throw new Error(`too many sources for the index's bitmask: ${sources.length}`);
  return {
    generated_at: readAdvisoryDocument()?.generated_at ?? null,
    states,
    reasons,
    sources,
    rows: advisories.map((advisory) => [
      advisory.advisory_id,
      states.indexOf(advisory.state),
      reasons.indexOf(advisory.reason_code),
      advisory.evidence.reduce((mask, item) => mask | (1 << sources.indexOf(item.source)), 0),
      advisory.fixed_version,
    ]),
  };
}

/** Explanations in index order, loaded after the index so that typing a CVE never waits for them. */
export function buildAdvisoryTexts(): string[] {
  return (readAdvisoryDocument()?.advisories ?? []).map((advisory) => advisory.explanation);
}

export type TimelineEntry = Omit<
  LedgerTransition,
  "advisory_id" | "contributing_sources" | "dissenting_sources"
>;

export interface AdvisoryDetail extends PublishedAdvisory {
  timeline: TimelineEntry[];
}

let shards: Promise<Map<string, Record<string, AdvisoryDetail>>> | undefined;

/** Every advisory with its timeline, grouped by shard; computed once per build for all 256 shard files. */
export function loadAdvisoryShards(): Promise<Map<string, Record<string, AdvisoryDetail>>> {
  shards ??= loadTimelines().then((timelines) => {
    const grouped = new Map<string, Record<string, AdvisoryDetail>>();
    for (const advisory of readAdvisoryDocument()?.advisories ?? []) {
      const shard = shardOf(advisory.advisory_id);
      const timeline = (timelines.get(advisory.advisory_id) ?? []).map(
        ({ advisory_id: _id, contributing_sources: _agree, dissenting_sources: _dissent, ...entry }) => entry,
      );
      const details = grouped.get(shard) ?? {};
      details[advisory.advisory_id] = { ...advisory, timeline };
      grouped.set(shard, details);
    }
    return grouped;
  });
  return shards;
}

function distinct(values: string[]): string[] {
  return [...new Set(values)].sort();
}
