import type { HostPolicy } from "../http/hosts.ts";

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
