import type { ErrorLocation } from "../lib/errors.ts";
import { errorMessage } from "../lib/errors.ts";

/**
 * The surface every source adapter offers, so adding a source means adding a folder under
 * pipeline/sources/ and registering it, not editing the stages.
 */
export type FetchItem<Observation, Facts = unknown> =
  | { kind: "observation"; observation: Observation }
  /**
   * Facts about a record beside its observations (an NVD record's description, CVSS and references), landed
   * in the adapter's facts table as members of the same snapshot; only from adapters that have one.
   */
  | { kind: "facts"; facts: Facts }
  | { kind: "rejected"; rejection: Rejection }
  /** Nothing changed upstream since the last good fetch (e.g. HTTP 304): its snapshot stays current. */
  | { kind: "unchanged" }
  /** This delivery holds only records changed since the checkpoint; earlier ones still count. */
  | { kind: "incremental" }
  /** Where the next run resumes (a time window end, a modified-id timestamp); saved only if the load succeeds. */
  | { kind: "checkpoint"; value: string };

/** What the orchestrator tells an adapter about the run it is fetching for. */
export interface FetchContext {
  /** The run's clock. */
  asOf: Date;
  /** Debian source packages listed in data.json, to filter whole-dataset sources; null when unknown. */
  packages: ReadonlySet<string> | null;
  /**
   * Vulnerability ids data.json lists (CVE and TEMP ids), to keep only the records of package-agnostic
   * sources (NVD) that concern the vendor; null or absent when unknown (keep everything).
   */
  vulnIds?: ReadonlySet<string> | null;
  /** Vulnerability ids of advisories not yet in a final state: the only ones worth a per-id look-up. */
  openVulnIds: readonly string[];
  /**
   * The (package, vulnerability) pairs behind openVulnIds, for sources queried by package (OSV's
   * querybatch); absent when unknown.
   */
  openAdvisories?: readonly { package_name: string; vuln_id: string }[];
  /** Vulnerability ids this source has ever delivered an observation for; null when not looked up. */
  observedVulnIds?: ReadonlySet<string> | null;
  /** The checkpoint the source saved after its last successful load, if any. */
  checkpoint: string | null;
  /** Re-fetch everything, final states included, ignoring checkpoints and conditional requests. */
  revalidate: boolean;
}

/** A record the adapter could not accept, with where it was and why. It is reported, never loaded. */
export interface Rejection {
  location: ErrorLocation;
  reason: string;
  /** The offending text, shortened, for the report. */
  excerpt?: string;
}

/** skipped: not fetched in this run on purpose (--source); its last good data stays in use, not stale. */
export type SourceStatus = "ok" | "degraded" | "failed" | "skipped";

export interface SourceHealth {
  status: SourceStatus;
  observations: number;
  rejected: number;
  bytes: number;
  /** HTTP requests made and how many of them were retries (0 for files). */
  requests: number;
  retries: number;
  durationMs: number;
  error?: string;
}

export type LandingValue = string | number | null;

export interface LandingColumn {
  name: string;
  type: "VARCHAR" | "INTEGER";
}

/** A table in the `landing` schema; the load stage adds content_hash, source, run_id and fetched_at. */
export interface LandingTable {
  name: string;
  columns: readonly LandingColumn[];
}

/**
 * A second landing table an adapter fills beside its observations' (the CVE facts): its rows are members of
 * the same snapshots, so they are current, stale, reused or replaced exactly as the observations are.
 */
export interface FactsLanding<Facts> {
  landing: LandingTable;
  toLandingRow(facts: Facts): LandingValue[];
}

export interface SourceAdapter<Observation, Facts = unknown> {
  readonly name: string;
  /** Table in the `landing` schema that receives this source's observations. */
  readonly landingTable: string;
  /** Columns of the landing table besides the bookkeeping ones the load stage adds. */
  readonly landingColumns: readonly LandingColumn[];
  /** Where the adapter's `facts` items land, when it yields any. */
  readonly factsLanding?: FactsLanding<Facts>;
  /** True for sources that use the package list, open advisories or checkpoint in FetchContext. */
  readonly usesRunContext?: boolean;
  /** Yields observations and rejections; throws a PipelineError when the whole input is unusable. */
  fetch(context: FetchContext): AsyncGenerator<FetchItem<Observation, Facts>>;
  /** Values for `landingColumns`, in order. The content hash is computed over them. */
  toLandingRow(observation: Observation): LandingValue[];
  /** Where the observation stood in the input (a CSV line number); defaults to its 1-based order. */
  positionOf?(observation: Observation): number;
  health(): SourceHealth;
}

/** Accumulates what health() reports while fetch() runs. */
export class HealthTracker {
  observations = 0;
  rejected = 0;
  bytes = 0;
  requests = 0;
  retries = 0;
  private startedAt = 0;
  private finishedAt = 0;
  private error: string | undefined;

  start(): void {
    this.startedAt = performance.now();
  }

  finish(error?: string): void {
    this.finishedAt = performance.now();
    this.error = error;
  }

  snapshot(): SourceHealth {
    const status: SourceStatus = this.error ? "failed" : this.rejected > 0 ? "degraded" : "ok";
    return {
      status,
      observations: this.observations,
      rejected: this.rejected,
      bytes: this.bytes,
      requests: this.requests,
      retries: this.retries,
      durationMs: Math.round(this.finishedAt - this.startedAt),
      ...(this.error ? { error: this.error } : {}),
    };
  }
}

export const vulnerabilityIdPattern = /^(CVE-\d{4}-\d{4,}|TEMP-\d{7}-[0-9A-F]{6})$/;
export const cveIdPattern = /^CVE-\d{4}-\d{4,}$/;
/** Debian source package names (Policy 5.6.1): lower-case alphanumerics, +, -, . ; at least two characters. */
export const debianPackagePattern = /^[a-z0-9][a-z0-9+.-]+$/;
/** Debian version syntax (Policy 5.6.12): [epoch:]upstream[-revision]. */
export const debianVersionPattern = /^(\d+:)?[0-9][A-Za-z0-9.+~:-]*$/;

export function excerpt(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * Longest value a single field (package, id, version, code) may have. Real ones are far shorter; a longer
 * one is a broken export, and landing or publishing it would only carry its bulk along.
 */
export const maxFieldLength = 256;

/** Why `value` is too long for the field, or null when it is not. */
export function tooLong(field: string, value: string, max = maxFieldLength): string | null {
  return value.length > max
    ? `${field} is ${value.length} characters long, more than the ${max} allowed`
    : null;
}

/**
 * Deepest nesting of arrays and objects a parsed JSON record may have. Real records nest a few levels; far
 * deeper ones (thousands) would overflow the stack of anything that walks them recursively (hashing,
 * JSON.stringify for an excerpt), so they are refused before anything walks them.
 */
export const maxNestingDepth = 64;

/** Whether `value` nests arrays or objects more than `limit` levels deep; iterative, so never overflows. */
export function nestedDeeperThan(value: unknown, limit = maxNestingDepth): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop() as [unknown, number];
    if (item === null || typeof item !== "object") continue;
    if (depth > limit) return true;
    for (const child of Object.values(item)) {
      if (child !== null && typeof child === "object") pending.push([child, depth + 1]);
    }
  }
  return false;
}

export function nestingReason(limit = maxNestingDepth): string {
  return `nested more than ${limit} levels deep`;
}

export interface AdapterDefinition<Observation, Facts = unknown> {
  name: string;
  landing: LandingTable;
  facts?: FactsLanding<Facts>;
  usesRunContext?: boolean;
  toLandingRow(observation: Observation): LandingValue[];
  positionOf?(observation: Observation): number;
  /** How the source gets and parses its records; it may add bytes, requests and retries to `health`. */
  fetchItems(context: FetchContext, health: HealthTracker): AsyncIterable<FetchItem<Observation, Facts>>;
}

/**
 * Builds a SourceAdapter from a source's own fetch step: health counting (observations, rejections,
 * duration, the error that failed it) is the same for every source, so it lives here once.
 */
export function defineAdapter<Observation, Facts = unknown>(
  definition: AdapterDefinition<Observation, Facts>,
): SourceAdapter<Observation, Facts> {
  const health = new HealthTracker();
  return {
    name: definition.name,
    landingTable: definition.landing.name,
    landingColumns: definition.landing.columns,
    ...(definition.facts ? { factsLanding: definition.facts } : {}),
    ...(definition.usesRunContext ? { usesRunContext: true } : {}),
    toLandingRow: definition.toLandingRow,
    ...(definition.positionOf ? { positionOf: definition.positionOf } : {}),
    async *fetch(context) {
      health.start();
      try {
        for await (const item of definition.fetchItems(context, health)) {
          if (item.kind === "observation") health.observations += 1;
          else if (item.kind === "rejected") health.rejected += 1;
          yield item;
        }
        health.finish();
      } catch (error) {
        health.finish(errorMessage(error));
        throw error;
      }
    },
    health: () => health.snapshot(),
  };
}
