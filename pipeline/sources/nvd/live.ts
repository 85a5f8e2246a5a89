import { setTimeout as delay } from "node:timers/promises";
import { PipelineError } from "../../lib/errors.ts";
import type { HostPolicy, HttpClient, HttpRequestOptions } from "../http/client.ts";
import { createRollingWindowLimiter, type RollingWindowLimiter } from "../http/rate-limit.ts";
import { mayReceiveSecret, type SecretDestination } from "../http/secret-destinations.ts";
import type { UpstreamItem } from "../osv/helpers.ts";
import type { HealthTracker } from "../types.ts";
import { nvdHostPolicy, nvdKeyRule } from "./hosts.ts";
import { nvdPageProblems, parseNvdPage } from "./parse.ts";

/** NVD API 2.0, CVE endpoint. `sources.nvd.location` overrides it in live mode (a mirror, a test server). */
export const nvdApiUrl = "https://services.nvd.nist.gov/rest/json/cves/2.0";

const dayMs = 86_400_000;

/** What a live session needs from the settings (a subset of `sources.nvd`). */
export interface NvdLiveSettings {
  location?: string | undefined;
  results_per_page: number;
  requests_per_30s?: number | undefined;
}

export interface NvdLiveDeps {
  http: HttpClient;
  apiKey: string | undefined;
  /**
   * Tests only: where the key may go instead of nvdKeyRule's destinations (a server on 127.0.0.1). The
   * source's descriptor never sets it, so a run always holds the key to NVD's API over https.
   */
  keyDestinations?: readonly SecretDestination[];
  /** Clock of the adapter's rate limiter (defaults to the real one). */
  now?: () => Date;
  /** Sleep of the adapter's rate limiter (defaults to a real timer). */
  sleep?: (ms: number) => Promise<void>;
}

/** Figures of one fetch, for the benchmark and the logs. */
export interface NvdProgress {
  /** Response pages received and accepted (live), or files read (file/mock). */
  pages: number;
  /** Modification windows fully fetched (incremental pulls). */
  windows: number;
  /** Every record parsed (observations and rejected records), kept or not. */
  recordsParsed: number;
  /** Observations yielded, i.e. records whose CVE the vendor lists (or all, without a filter). */
  recordsKept: number;
  /** Records dropped because data.json does not list their CVE. */
  recordsFiltered: number;
}

export function emptyProgress(): NvdProgress {
  return { pages: 0, windows: 0, recordsParsed: 0, recordsKept: 0, recordsFiltered: 0 };
}

/** One live conversation with the NVD API: pages through queries, counting into health and progress. */
export interface NvdSession {
  /** The API URL queried, without parameters. */
  readonly base: string;
  /** Every record matching `filter` (cveId, or lastModStartDate + lastModEndDate, or nothing), page by page. */
  query(filter: Record<string, string>): AsyncGenerator<UpstreamItem>;
}

/** The API URL of a live session: the configured location when it is an http(s) URL, NVD's otherwise. */
export function liveBaseUrl(location: string | undefined): string {
  if (location === undefined) return nvdApiUrl;
  if (!/^https?:\/\//i.test(location)) {
    throw new PipelineError("live mode needs an http(s) URL as location (or none, for NVD's own API)", {
      location: { key: "sources.nvd.location" },
    });
  }
  return location;
}

/** Requests per rolling 30 s: the setting when given (0 = unlimited), else NVD's published limits. */
export function nvdRequestsPer30s(settings: NvdLiveSettings, apiKey: string | undefined): number {
  return settings.requests_per_30s ?? nvdHostPolicy(apiKey).rateLimit?.requests ?? 5;
}

/**
 * The adapter's own limiter, so that `requests_per_30s` and the key's higher limit hold whatever host the
 * session talks to (the shared client's host limits only cover hosts configured when it was created).
 * undefined when unlimited.
 */
export function nvdLimiter(
  settings: NvdLiveSettings,
  deps: Pick<NvdLiveDeps, "apiKey" | "now" | "sleep">,
): RollingWindowLimiter | undefined {
  const requests = nvdRequestsPer30s(settings, deps.apiKey);
  if (requests <= 0) return undefined;
  const now = deps.now;
  const clock = now ? () => now().getTime() : Date.now;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms).then(() => undefined));
  return createRollingWindowLimiter({ requests, windowMs: 30_000 }, clock, sleep);
}

/**
 * Per-request options from NVD's host policy (403 is throttling, long 503 budgets, backoff), with the API
 * key as the `apiKey` header, which the client treats as a secret. Host policy fields are accepted per
 * request by the client (see hosts.ts) though HttpRequestOptions does not list them all. Pages are never
 * cached: a window or offset query is not worth a conditional GET, and 170 full pages would fill the cache.
 */
function requestOptions(apiKey: string | undefined): HttpRequestOptions {
  const policy = nvdHostPolicy(apiKey);
  const options: HttpRequestOptions & Pick<HostPolicy, "baseDelayMs" | "maxDelayMs" | "throttle403"> = {
    headers: apiKey ? { apiKey } : {},
    cache: false,
    ...(policy.timeoutMs !== undefined ? { timeoutMs: policy.timeoutMs } : {}),
    ...(policy.maxAttempts !== undefined ? { maxAttempts: policy.maxAttempts } : {}),
    ...(policy.retryBudgetMs !== undefined ? { retryBudgetMs: policy.retryBudgetMs } : {}),
    ...(policy.baseDelayMs !== undefined ? { baseDelayMs: policy.baseDelayMs } : {}),
    ...(policy.maxDelayMs !== undefined ? { maxDelayMs: policy.maxDelayMs } : {}),
    throttle403: policy.throttle403 ?? true,
  };
  return options;
}

/** Where a record can be fetched again: stable across runs, unlike its position in a page. */
export function recordUrl(base: string, cveId: string): string {
  const url = new URL(base);
  url.search = "";
  url.searchParams.set("cveId", cveId);
  return url.href;
}

interface PageShape {
  startIndex: number;
  totalResults: number;
  vulnerabilities: unknown[];
}

export function nvdSession(
  settings: NvdLiveSettings,
  deps: NvdLiveDeps,
  health: HealthTracker,
  progress: NvdProgress,
  limiter: RollingWindowLimiter | undefined,
): NvdSession {
  const base = liveBaseUrl(settings.location);
  const host = new URL(base).host;
  const options = requestOptions(deps.apiKey);
  const keyDestinations = deps.keyDestinations ?? nvdKeyRule.destinations;
  const hostStats = () => deps.http.stats().byHost[host] ?? { requests: 0, retries: 0, bytesReceived: 0 };
  // The client is shared with other sources: health counts only this session's traffic to its host.
  const before = { ...hostStats() };
  const syncHealth = () => {
    const now = hostStats();
    health.requests = now.requests - before.requests;
    health.retries = now.retries - before.retries;
    health.bytes = now.bytesReceived - before.bytesReceived;
  };

  async function fetchPage(params: Record<string, string>): Promise<{ data: unknown; url: string }> {
    const url = new URL(base);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    // Checked again here, whatever config loading said: the key never goes with a request outside the rule.
    if (deps.apiKey !== undefined && !mayReceiveSecret(url, keyDestinations)) {
      throw new PipelineError(`the API key was not sent to ${url.origin}: ${nvdKeyRule.rule}`, {
        location: { key: "sources.nvd.location" },
        hint: `unset the key, or ${nvdKeyRule.hint}`,
      });
    }
    await limiter?.acquire();
    try {
      const result = await deps.http.getJson(url.href, options);
      return { data: result.data, url: result.url };
    } finally {
      syncHealth();
    }
  }

  return {
    base,
    async *query(filter) {
      let startIndex = 0;
      for (;;) {
        const { data, url } = await fetchPage({
          ...filter,
          resultsPerPage: String(settings.results_per_page),
          startIndex: String(startIndex),
        });
        const problems = nvdPageProblems(data);
        const page = data as PageShape;
        if (problems.length === 0 && page.startIndex !== startIndex) {
          problems.push(`startIndex is ${page.startIndex}, but ${startIndex} was asked for`);
        }
        if (problems.length > 0) {
          throw new PipelineError(`malformed NVD response page: ${problems.join("; ")}`, {
            location: { file: url },
            hint: "the source keeps its last good data; the next run fetches again",
          });
        }
        progress.pages += 1;
        for (const item of parseNvdPage(page, { ref: url })) {
          // A position in a page changes as records are added: point at the record's own URL instead.
          if (item.kind === "observation") {
            const payload_ref = recordUrl(base, item.observation.record_id);
            yield { kind: "observation", observation: { ...item.observation, payload_ref } };
          } else if (item.kind === "facts") {
            const payload_ref = recordUrl(base, item.facts.record_id);
            yield { kind: "facts", facts: { ...item.facts, payload_ref } };
          } else yield item;
        }
        startIndex += page.vulnerabilities.length;
        if (page.vulnerabilities.length === 0 || startIndex >= page.totalResults) return;
      }
    },
  };
}

/** One modification window, both ends as NVD wants them (extended ISO-8601, UTC). */
export interface NvdWindow {
  start: string;
  end: string;
}

/**
 * The windows from `checkpoint` to `asOf`, each at most `windowDays` long (NVD accepts up to 120 days).
 * Empty when the checkpoint is not before asOf.
 */
export function modificationWindows(checkpoint: Date, asOf: Date, windowDays: number): NvdWindow[] {
  const windows: NvdWindow[] = [];
  const span = Math.max(1, Math.min(windowDays, 120)) * dayMs;
  for (let start = checkpoint.getTime(); start < asOf.getTime(); ) {
    const end = Math.min(start + span, asOf.getTime());
    windows.push({ start: new Date(start).toISOString(), end: new Date(end).toISOString() });
    start = end;
  }
  return windows;
}

/** Records changed in `window`, paged like a full pull. */
export function windowQuery(session: NvdSession, window: NvdWindow): AsyncGenerator<UpstreamItem> {
  return session.query({ lastModStartDate: window.start, lastModEndDate: window.end });
}

/**
 * Per-CVE look-ups (`?cveId=`), one request each. TEMP ids and anything else that is not a CVE id are
 * skipped (NVD does not know them); a CVE NVD does not have answers with an empty page and yields nothing.
 *
 * Only worth it for a handful of ids: at 5 requests per 30 s, 50 look-ups take 5 minutes while a full pull
 * (about 170 pages) takes 17, but 2,000 look-ups would take over three hours. So the adapter uses them only
 * before the first full pull (no checkpoint) and when the open advisories are at most `lookup_limit`; the
 * delivery is incremental (it adds to what earlier deliveries said) and saves no checkpoint, so the first
 * run with more open advisories than the limit makes the full pull that starts the windowed updates.
 */
export async function* lookupCves(session: NvdSession, ids: readonly string[]): AsyncGenerator<UpstreamItem> {
  for (const id of [...new Set(ids)].sort()) {
    if (!/^CVE-\d{4}-\d{4,}$/.test(id)) continue;
    yield* session.query({ cveId: id });
  }
}
