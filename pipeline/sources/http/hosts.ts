import type { RateLimit } from "./rate-limit.ts";

/**
 * How requests to one host behave. Every field is optional: a request takes the first value set among its
 * own options, its host's policy, the client's options and the defaults below.
 */
export interface HostPolicy {
  /** Until the response headers arrive: connection, TLS and the server's first byte. */
  connectTimeoutMs?: number;
  /** Until the whole body is in, per attempt. */
  timeoutMs?: number;
  /** Bodies larger than this fail with `too_large` and are not retried. */
  maxBytes?: number;
  /** Attempts in all, the first included. */
  maxAttempts?: number;
  /** No retry starts once this much time (clock time since the first attempt, waits included) would pass. */
  retryBudgetMs?: number;
  /** Backoff ceiling for the first retry; it doubles per retry up to maxDelayMs (full jitter below it). */
  baseDelayMs?: number;
  /** Cap on any single wait: backoff and `Retry-After` alike. */
  maxDelayMs?: number;
  /** 403 means "slow down" on this host (NVD) and is retried like 429. */
  throttle403?: boolean;
  /** Requests per rolling window for this host; undefined: no limit. */
  rateLimit?: RateLimit;
  /** Sent with every request to the host. */
  headers?: Record<string, string>;
  /** Header names whose values are secrets (besides Authorization, Cookie, apiKey, X-Api-Key …). */
  secretHeaders?: string[];
}

export const defaultPolicy = {
  connectTimeoutMs: 30_000,
  timeoutMs: 120_000,
  maxBytes: 512 * 1024 * 1024,
  maxAttempts: 4,
  retryBudgetMs: 120_000,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  throttle403: false,
} as const;

/**
 * A policy for hosts that serve whole datasets (100+ MB: the Debian tracker's JSON, OSV's all.zip): long
 * transfers, long waits between retries.
 */
export const bulkDownloadPolicy: HostPolicy = { timeoutMs: 15 * 60_000, maxDelayMs: 120_000 };
