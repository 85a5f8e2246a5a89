import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../stages/config.ts";
import { debianTrackerAdapter } from "./debian_tracker/index.ts";
import { echoCsvAdapter, notApplicableLanding } from "./echo_csv/index.ts";
import { echoAdvisoriesLanding, echoDataAdapter } from "./echo_data/index.ts";
import { createHttpClient, type HttpClient, upstreamHostPolicies } from "./http/client.ts";
import { nvdAdapter } from "./nvd/index.ts";
import { osvAdapter } from "./osv/index.ts";
import type { LandingTable, SourceAdapter } from "./types.ts";
import { upstreamLanding } from "./upstream.ts";

/** Every landing table, whether or not its source is enabled: dbt's sources read them all. */
export const landingTables: readonly LandingTable[] = [
  echoAdvisoriesLanding,
  notApplicableLanding,
  upstreamLanding,
];

/** The small upstream sample bundled with the repository, matching the sample data.json (mock mode). */
const mockDirectory = resolve(dirname(fileURLToPath(import.meta.url)), "../../test/fixtures/sample/upstream");

/** One client per source, so each source's requests, retries and bytes are its own in source health. */
function httpClientFor(config: Config): HttpClient {
  return createHttpClient({
    cacheDir: config.http.cache_dir,
    timeoutMs: config.http.timeout_ms,
    maxAttempts: config.http.max_attempts,
    maxBytes: config.http.max_response_mb * 1024 * 1024,
    hosts: upstreamHostPolicies(process.env),
  });
}

/** Every source the pipeline knows. A new source adds its folder and one entry here. */
// biome-ignore lint/suspicious/noExplicitAny: adapters differ only in their observation type
export function enabledAdapters(config: Config): SourceAdapter<any>[] {
  // biome-ignore lint/suspicious/noExplicitAny: see above
  const adapters: SourceAdapter<any>[] = [];
  const { sources } = config;
  if (sources.echo_data.enabled) adapters.push(echoDataAdapter(sources.echo_data.location));
  if (sources.echo_csv.enabled) adapters.push(echoCsvAdapter(sources.echo_csv.location));
  if (sources.debian_tracker?.enabled) {
    adapters.push(
      debianTrackerAdapter(sources.debian_tracker, {
        http: httpClientFor(config),
        mockLocation: join(mockDirectory, "debian_tracker.json"),
      }),
    );
  }
  if (sources.osv?.enabled) {
    adapters.push(
      osvAdapter(sources.osv, { http: httpClientFor(config), mockLocation: join(mockDirectory, "osv") }),
    );
  }
  if (sources.nvd?.enabled) {
    // The NVD adapter paces itself (5 or 50 requests per 30 s, or requests_per_30s) and sends its key from
    // api_key_env on each request; the client's own per-host limit would only stack on top of that.
    const http = createHttpClient({
      timeoutMs: config.http.timeout_ms,
      maxBytes: config.http.max_response_mb * 1024 * 1024,
      rateLimiting: false,
    });
    const apiKey = process.env[sources.nvd.api_key_env]?.trim() || undefined;
    adapters.push(nvdAdapter(sources.nvd, { http, apiKey, mockLocation: join(mockDirectory, "nvd") }));
  }
  return adapters;
}
