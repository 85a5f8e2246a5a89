import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { errorMessage } from "../../pipeline/lib/errors.ts";
import { createHttpClient } from "../../pipeline/sources/http/client.ts";
import { type NvdConfig, nvdAdapter } from "../../pipeline/sources/nvd/index.ts";
import { syntheticCveId } from "../synthetic/nvd-feed.ts";

/**
 * The real NVD adapter in live mode against a local synthetic NVD (tools/bench/nvd-server.ts, a child
 * process): a full paged pull of `records` CVE records in pages of 2,000, rate limit off, keeping the
 * CVEs of a vendor-sized id list (every 15th record, ~22,700 of 340,000). Measures requests, records
 * parsed and kept, wall time and this process's peak RSS (the server's memory is not counted).
 */

const here = dirname(fileURLToPath(import.meta.url));

export interface NvdBenchOptions {
  records?: number;
  /** The run is abandoned (server stopped, adapter fails) after this long. */
  timeoutMs?: number;
}

export interface NvdBenchResult {
  records_served: number;
  results_per_page: number;
  requests: number;
  retries: number;
  pages: number;
  records_parsed: number;
  observations_kept: number;
  rejected_signal: number;
  disputed_signal: number;
  megabytes_received: number;
  wall_seconds: number;
  records_per_second: number;
  peak_rss_mb: number;
  node: string;
  measured_at: string;
}

function startServer(records: number): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(join(here, "nvd-server.ts"), [String(records)], {
    execPath: process.execPath,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error("the synthetic NVD server did not start within 20 s"));
    }, 20_000);
    child.once("message", (message) => {
      clearTimeout(timer);
      resolve({ child, port: (message as { port: number }).port });
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the synthetic NVD server exited early (code ${code})`));
    });
  });
}

export async function runNvdBench(options: NvdBenchOptions = {}): Promise<NvdBenchResult> {
  const records = options.records ?? 340_000;
  const timeoutMs = options.timeoutMs ?? 8 * 60_000;
  const { child, port } = await startServer(records);
  let timedOut = false;
  const watchdog = setTimeout(() => {
    timedOut = true;
    child.kill();
  }, timeoutMs);
  const settings: NvdConfig = {
    enabled: true,
    mode: "live",
    location: `http://127.0.0.1:${port}/rest/json/cves/2.0`,
    max_age_hours: 48,
    api_key_env: "NVD_API_KEY",
    window_days: 120,
    results_per_page: 2000,
    lookup_limit: 50,
    requests_per_30s: 0,
  };
  const http = createHttpClient({
    rateLimiting: false,
    logger: { debug: () => undefined, warn: (message) => console.error(`http: ${message}`) },
  });
  const adapter = nvdAdapter(settings, { http, mockLocation: "", apiKey: undefined });
  const vulnIds = new Set<string>();
  for (let index = 0; index < records; index += 15) vulnIds.add(syntheticCveId(index));

  let kept = 0;
  let rejectedSignal = 0;
  let disputedSignal = 0;
  const started = performance.now();
  try {
    for await (const item of adapter.fetch({
      asOf: new Date("2026-01-15T00:00:00.000Z"),
      packages: null,
      vulnIds,
      openVulnIds: [],
      checkpoint: null,
      revalidate: false,
    })) {
      if (item.kind !== "observation") continue;
      kept += 1;
      if (item.observation.signal === "rejected") rejectedSignal += 1;
      if (item.observation.signal === "disputed") disputedSignal += 1;
    }
  } catch (error) {
    throw new Error(
      timedOut
        ? `the NVD benchmark did not finish within ${timeoutMs / 1000} s`
        : `the NVD benchmark failed: ${errorMessage(error)}`,
    );
  } finally {
    clearTimeout(watchdog);
    if (child.connected) child.disconnect();
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const health = adapter.health();
  const progress = adapter.progress();
  const stats = http.stats();
  return {
    records_served: records,
    results_per_page: settings.results_per_page,
    requests: health.requests,
    retries: health.retries,
    pages: progress.pages,
    records_parsed: progress.recordsParsed,
    observations_kept: kept,
    rejected_signal: rejectedSignal,
    disputed_signal: disputedSignal,
    megabytes_received: Math.round(stats.bytesReceived / 1e5) / 10,
    wall_seconds: Math.round(wallSeconds * 10) / 10,
    records_per_second: Math.round(progress.recordsParsed / wallSeconds),
    // maxRSS is in kilobytes.
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    node: process.version,
    measured_at: new Date().toISOString(),
  };
}

/** The figures as a small table, for the console. */
export function nvdBenchTable(result: NvdBenchResult): string {
  const rows: [string, string][] = [
    ["requests made", `${result.requests} (${result.retries} retries)`],
    ["records parsed", result.records_parsed.toLocaleString("en-US")],
    [
      "observations kept",
      `${result.observations_kept.toLocaleString("en-US")} (${result.rejected_signal} rejected, ${result.disputed_signal} disputed)`,
    ],
    ["data received", `${result.megabytes_received} MB`],
    [
      "wall time",
      `${result.wall_seconds} s (${result.records_per_second.toLocaleString("en-US")} records/s)`,
    ],
    ["peak RSS", `${result.peak_rss_mb} MB`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  const line = `+-${"-".repeat(width)}-+-${"-".repeat(valueWidth)}-+`;
  return [
    `NVD live full pull: ${result.records_served.toLocaleString("en-US")} synthetic records, pages of ${result.results_per_page}, rate limit off (${result.node})`,
    line,
    ...rows.map(([name, value]) => `| ${name.padEnd(width)} | ${value.padEnd(valueWidth)} |`),
    line,
  ].join("\n");
}
