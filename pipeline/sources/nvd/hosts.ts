import type { HostPolicy } from "../http/hosts.ts";
import type { SecretRule } from "../http/secret-destinations.ts";

export const nvdHost = "services.nvd.nist.gov";

/**
 * Where the API key may go: NVD's own API, over https. `sources.nvd.location` may point elsewhere (a mirror,
 * a test server) only while no key is set; config loading and every live request check it.
 */
export const nvdKeyRule: SecretRule = {
  destinations: [{ scheme: "https:", host: nvdHost }],
  rule: `the NVD API key is sent only over https to ${nvdHost}`,
  hint: `leave sources.nvd.location out (or point it at https://${nvdHost}/rest/json/cves/2.0)`,
};

/**
 * NVD API 2.0: 5 requests per rolling 30 s without a key, 50 with one; throttling shows as 403; backlogs
 * bring long stretches of 503, hence the long budget. The key itself is not here: a host policy goes with
 * every request to the host, whatever its scheme or port, so only the adapter attaches it, after checking
 * nvdKeyRule.
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
    secretHeaders: ["apiKey"],
  };
}
