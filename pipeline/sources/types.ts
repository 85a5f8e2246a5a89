import type { ErrorLocation } from "../lib/errors.ts";

/**
 * The surface every source adapter offers, so adding a source means adding a folder under
 * pipeline/sources/ and registering it, not editing the stages.
 */
export type FetchItem<Observation> =
  | { kind: "observation"; observation: Observation }
  | { kind: "rejected"; rejection: Rejection };

/** A record the adapter could not accept, with where it was and why. It is reported, never loaded. */
export interface Rejection {
  location: ErrorLocation;
  reason: string;
  /** The offending text, shortened, for the report. */
  excerpt?: string;
}

export type SourceStatus = "ok" | "degraded" | "failed";

export interface SourceHealth {
  status: SourceStatus;
  observations: number;
  rejected: number;
  bytes: number;
  durationMs: number;
  error?: string;
}

export type LandingValue = string | number | null;

export interface LandingColumn {
  name: string;
  type: "VARCHAR" | "INTEGER";
}

export interface SourceAdapter<Observation> {
  readonly name: string;
  /** Table in the `landing` schema that receives this source's observations. */
  readonly landingTable: string;
  /** Columns of the landing table besides the bookkeeping ones the load stage adds. */
  readonly landingColumns: readonly LandingColumn[];
  /** Yields observations and rejections; throws a PipelineError when the whole input is unusable. */
  fetch(): AsyncGenerator<FetchItem<Observation>>;
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
