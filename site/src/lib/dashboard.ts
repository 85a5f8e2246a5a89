// Build-time figures for the home and operations pages' charts, read from the published files: the open
// advisories by their CVE's severity (advisory_current.json with cve_facts.json) and the time each final
// advisory took from first seen to its decision. One streaming pass over each file: at 25× the vendor's data
// advisory_current.json is over a GB. Nothing here decides anything; the severity is the one cve_facts.json
// gives (NVD's own CVSS rating, else a CNA's), the state the one advisory_current.json gives.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { cveFactsItemSchema, cveFactsPath } from "../../../pipeline/formats/cve-facts.ts";
import {
  ListedLayoutError,
  readListedItems,
  wholeFileLimitBytes,
} from "../../../pipeline/formats/listed-document.ts";
import { type DurationBucket, type SeverityCount, severityOrder } from "./charts.ts";
import { outputDir } from "./output.ts";

/** The members of a listed document (one item a line), or of the same document parsed whole when small. */
async function* listedItems(path: string, listKey: string): AsyncGenerator<{ item: unknown; at: string }> {
  let taken = 0;
  try {
    for await (const { item, line } of readListedItems(path, listKey)) {
      taken += 1;
      yield { item, at: `line ${line}` };
    }
    return;
  } catch (error) {
    if (!(error instanceof ListedLayoutError) || taken > 0 || statSync(path).size > wholeFileLimitBytes) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
  }
  const document = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  const list = document[listKey];
  if (!Array.isArray(list)) throw new Error(`${path}: "${listKey}" is not a list`);
  for (const [position, item] of list.entries()) yield { item, at: `${listKey}.${position}` };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Each CVE's severity rating from cve_facts.json (lower case: critical, high, medium, low, none), null when it
 * has none; undefined when the run published no cve_facts.json (an older output).
 */
async function readSeverities(): Promise<Map<string, string | null> | undefined> {
  const path = cveFactsPath(outputDir);
  if (!existsSync(path)) return undefined;
  const ratings = new Map<string, string | null>();
  for await (const { item, at } of listedItems(path, "cves")) {
    const parsed = severityOnly.safeParse(item);
    if (!parsed.success) {
      throw new Error(
        `${path}: ${at}: not a CVE's facts as cve_facts.json has them: ${z.prettifyError(parsed.error)}`,
      );
    }
    ratings.set(parsed.data.cve_id, parsed.data.severity?.rating ?? null);
  }
  return ratings;
}

/**
 * The two members the charts read, checked against the format's own schema. The format's object is strict,
 * and so is what `pick` returns: `loose` lets the item's other members (description, nvd, …) through.
 */
const severityOnly = cveFactsItemSchema.pick({ cve_id: true, severity: true }).loose();

/** Upper bounds in days (inclusive) of the time-to-final buckets, and their labels. */
const durationBuckets: { upTo: number; label: string }[] = [
  { upTo: 0, label: "first run" },
  { upTo: 7, label: "1–7 days" },
  { upTo: 30, label: "8–30 days" },
  { upTo: 90, label: "31–90 days" },
  { upTo: 365, label: "91–365 days" },
  { upTo: Number.POSITIVE_INFINITY, label: "over a year" },
];

export interface DashboardFigures {
  /** Open (non-final) advisories per severity, in severityOrder; undefined without cve_facts.json. */
  openBySeverity: SeverityCount[] | undefined;
  openCount: number;
  /** Final advisories per time from first seen to decided, in bucket order. */
  timeToFinal: DurationBucket[];
  finalCount: number;
}

const dayMs = 24 * 60 * 60 * 1000;

let figures: Promise<DashboardFigures | undefined> | undefined;

/** Computed once per build; undefined when no run has published advisory_current.json. */
export function loadDashboardFigures(): Promise<DashboardFigures | undefined> {
  figures ??= (async () => {
    const path = join(outputDir, "advisory_current.json");
    if (!existsSync(path)) return undefined;
    const severities = await readSeverities();
    const bySeverity = new Map<string, number>();
    const byDuration = new Map<string, number>();
    let openCount = 0;
    let finalCount = 0;
    for await (const { item, at } of listedItems(path, "advisories")) {
      if (!isRecord(item) || typeof item.cve_id !== "string" || typeof item.state_type !== "string") {
        throw new Error(`${path}: ${at}: not an advisory (an object with a cve_id and a state_type)`);
      }
      if (item.state_type === "final") {
        const days = (Date.parse(String(item.decided_at)) - Date.parse(String(item.first_seen))) / dayMs;
        if (!Number.isFinite(days)) throw new Error(`${path}: ${at}: first_seen or decided_at is not a time`);
        const bucket = durationBuckets.find((entry) => Math.ceil(days) <= entry.upTo) as { label: string };
        byDuration.set(bucket.label, (byDuration.get(bucket.label) ?? 0) + 1);
        finalCount += 1;
      } else {
        const rating = severities?.get(item.cve_id) ?? "not rated";
        const known = (severityOrder as readonly string[]).includes(rating) ? rating : "not rated";
        bySeverity.set(known, (bySeverity.get(known) ?? 0) + 1);
        openCount += 1;
      }
    }
    return {
      openBySeverity:
        severities === undefined
          ? undefined
          : severityOrder.map((severity) => ({ severity, count: bySeverity.get(severity) ?? 0 })),
      openCount,
      timeToFinal: durationBuckets.map(({ label }) => ({ label, count: byDuration.get(label) ?? 0 })),
      finalCount,
    };
  })();
  return figures;
}
