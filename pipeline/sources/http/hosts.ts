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

export const nvdHost = "services.nvd.nist.gov";

/**
 * NVD API 2.0: 5 requests per rolling 30 s without a key, 50 with one (sent as header `apiKey`, a secret);
 * throttling shows as 403; backlogs bring long stretches of 503, hence the long budget.
 */
export function nvdHostPolicy(apiKey?: string): HostPolicy {
  return {
    rateLimit: { requests: apiKey ? 50 : 5, windowMs: 30_000 },
    throttle403: true,
    maxAttempts: 12,
    retryBudgetMs: 20 * 60_000,
    baseDelayMs: 6_000,
    maxDelayMs: 120_000,
    timeoutMs: 5 * 60_000,
    headers: apiKey ? { apiKey } : {},
    secretHeaders: ["apiKey"],
  };
}

/** Policies for the upstream hosts the adapters use; `NVD_API_KEY` from `env` raises NVD's limit. */
export function upstreamHostPolicies(env: NodeJS.ProcessEnv = process.env): Record<string, HostPolicy> {
  const bulk: HostPolicy = { timeoutMs: 15 * 60_000, maxDelayMs: 120_000 };
  return {
    [nvdHost]: nvdHostPolicy(env.NVD_API_KEY?.trim() || undefined),
    // The whole-dataset JSON (100+ MB) and OSV's all.zip files.
    "security-tracker.debian.org": bulk,
    "osv-vulnerabilities.storage.googleapis.com": bulk,
    // No published rate limit; querybatch answers are small.
    "api.osv.dev": { maxAttempts: 6 },
  };
}
