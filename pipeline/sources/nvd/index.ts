import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, PipelineError } from "../../lib/errors.ts";
import { log } from "../../lib/log.ts";
import type { HttpClient } from "../http/client.ts";
import type { SecretDestination } from "../http/secret-destinations.ts";
import type { UpstreamItem } from "../osv/helpers.ts";
import { decodeUtf8 } from "../read-input.ts";
import type { FetchContext, HealthTracker, SourceAdapter } from "../types.ts";
import { type CveFacts, type UpstreamObservation, upstreamAdapter } from "../upstream.ts";
import type { NvdConfig } from "./config.ts";
import {
  emptyProgress,
  lookupCves,
  modificationWindows,
  type NvdProgress,
  type NvdSession,
  nvdLimiter,
  nvdSession,
  windowQuery,
} from "./live.ts";
import { parseNvd } from "./parse.ts";

export type { NvdConfig } from "./config.ts";
export {
  liveBaseUrl,
  lookupCves,
  modificationWindows,
  type NvdProgress,
  type NvdSession,
  nvdApiUrl,
  recordUrl,
} from "./live.ts";

export interface NvdDeps {
  http: HttpClient;
  /** The bundled sample read in mock mode. */
  mockLocation: string;
  /**
   * The API key (from the variable `api_key_env` names); sent only as the secret `apiKey` header, and only
   * to nvdKeyRule's destinations (NVD's API over https).
   */
  apiKey: string | undefined;
  /** Tests only: other destinations for the key (see NvdLiveDeps.keyDestinations). */
  keyDestinations?: readonly SecretDestination[];
  /** Clock of the adapter's rate limiter; the delivery's own times come from FetchContext.asOf. */
  now?: () => Date;
  /** Sleep of the adapter's rate limiter (tests inject a fake one, as they do in the HTTP client). */
  sleep?: (ms: number) => Promise<void>;
}

export interface NvdAdapter extends SourceAdapter<UpstreamObservation, CveFacts> {
  /** Figures of the last (or current) fetch: pages, windows, records parsed, kept and filtered out. */
  progress(): NvdProgress;
}

/**
 * NVD, package-agnostic: one observation per CVE (rejected, disputed or undetermined, see parse.ts) and the
 * record's facts (description, CVSS, CWE, dates, references), kept only for CVEs data.json lists
 * (FetchContext.vulnIds; null keeps everything).
 *
 * - file / mock: `location` (mock: the bundled sample) is a directory of API 2.0 response pages or bare `cve`
 *   records, or one such file. Every *.json is read, in name order; a file that is not usable as a whole
 *   (bad JSON, a malformed page) is rejected with its path and the others go on. A full delivery.
 * - live, in this order of preference:
 *   - `revalidate`, or no checkpoint and more open advisories than `lookup_limit` (or none): a full paged
 *     pull (startIndex 0, then + the records received, resultsPerPage = results_per_page, until totalResults; no dates); a full delivery whose
 *     checkpoint is the run's clock.
 *   - a checkpoint: windows of at most `window_days` from the checkpoint to the run's clock, each paged
 *     the same way; an incremental delivery whose checkpoint is the end of the last window fetched.
 *   - no checkpoint and 1..lookup_limit open advisories: per-CVE look-ups (see lookupCves), an incremental
 *     delivery without a checkpoint.
 *   A malformed page or a request that fails after its retries (HttpError) throws: the whole delivery is
 *   void and the orchestrator keeps the last good data. The checkpoint is saved only if the load succeeds.
 */
export function nvdAdapter(settings: NvdConfig, deps: NvdDeps): NvdAdapter {
  let progress = emptyProgress();
  // One limiter per adapter, so successive fetches in one process share the rolling window.
  const limiter = settings.mode === "live" ? nvdLimiter(settings, deps) : undefined;
  const adapter = upstreamAdapter("nvd", (context, health) => {
    progress = emptyProgress();
    if (settings.mode !== "live") {
      const path = settings.mode === "mock" ? deps.mockLocation : settings.location;
      if (!path) throw new PipelineError("file mode needs a location", { location: { key: "sources.nvd" } });
      return kept(readNvdFiles(path, health, progress), context, progress);
    }
    const session = nvdSession(settings, deps, health, progress, limiter);
    return kept(liveDelivery(session, settings, context, progress), context, progress);
  });
  return { ...adapter, progress: () => ({ ...progress }) };
}

/** How far before the checkpoint each incremental walk starts. */
export const windowOverlapMs = 3 * 3_600_000;

async function* liveDelivery(
  session: NvdSession,
  settings: NvdConfig,
  context: FetchContext,
  progress: NvdProgress,
): AsyncGenerator<UpstreamItem> {
  const checkpoint = context.revalidate ? null : readCheckpoint(context.checkpoint);
  if (checkpoint) {
    // NVD publishes in batches about every 2 hours, so a record can appear after the checkpoint carrying
    // an earlier lastModified; starting each walk a little before the checkpoint catches it (a record seen
    // twice lands once: observations are keyed by content).
    const windows = modificationWindows(
      new Date(checkpoint.getTime() - windowOverlapMs),
      context.asOf,
      settings.window_days,
    );
    log.info("nvd: fetching records modified since the checkpoint", {
      checkpoint: checkpoint.toISOString(),
      windows: windows.length,
    });
    yield { kind: "incremental" };
    for (const window of windows) {
      yield* windowQuery(session, window);
      progress.windows += 1;
      yield { kind: "checkpoint", value: window.end };
    }
    if (windows.length === 0) yield { kind: "checkpoint", value: checkpoint.toISOString() };
    // A CVE that data.json lists for the first time may not have changed in NVD since the checkpoint, so
    // no window brings it; open advisories NVD has never answered for are looked up one by one.
    const observed = context.observedVulnIds;
    const unseen = observed
      ? context.openVulnIds.filter((id) => id.startsWith("CVE-") && !observed.has(id))
      : [];
    if (unseen.length > settings.lookup_limit) {
      log.warn("nvd: open advisories without an NVD record exceed lookup_limit; run with --revalidate", {
        unseen: unseen.length,
        lookup_limit: settings.lookup_limit,
      });
    } else if (unseen.length > 0) {
      yield* lookupCves(session, unseen);
    }
    return;
  }
  const open = context.revalidate ? [] : context.openVulnIds;
  if (open.length > 0 && open.length <= settings.lookup_limit) {
    log.info("nvd: looking up the open advisories one by one", { ids: open.length });
    yield { kind: "incremental" };
    yield* lookupCves(session, open);
    return;
  }
  log.info("nvd: full pull", { results_per_page: settings.results_per_page });
  yield* session.query({});
  yield { kind: "checkpoint", value: context.asOf.toISOString() };
}

/** A checkpoint this adapter wrote (an ISO time); anything else is ignored with a warning (full pull). */
function readCheckpoint(value: string | null): Date | null {
  if (value === null) return null;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    log.warn("nvd: unreadable checkpoint ignored; pulling everything", { checkpoint: value });
    return null;
  }
  return new Date(time);
}

/**
 * Keeps the observations, facts and record rejections of CVEs the vendor lists, counting every record parsed.
 * A rejection names its record by key (`"CVE-…".field`); one without a readable id, or a whole-file
 * rejection, is always kept.
 */
async function* kept(
  items: AsyncIterable<UpstreamItem>,
  context: FetchContext,
  progress: NvdProgress,
): AsyncGenerator<UpstreamItem> {
  const vulnIds = context.vulnIds ?? null;
  for await (const item of items) {
    // A record's facts come just before its observation and are kept or dropped with it (not counted).
    if (item.kind === "facts" && vulnIds && !vulnIds.has(item.facts.vuln_id)) continue;
    if (item.kind === "observation") {
      progress.recordsParsed += 1;
      if (vulnIds && !vulnIds.has(item.observation.vuln_id)) {
        progress.recordsFiltered += 1;
        continue;
      }
      progress.recordsKept += 1;
    } else if (item.kind === "rejected") {
      const id = rejectedRecordId(item.rejection.location.key);
      if (id !== null) progress.recordsParsed += 1;
      if (vulnIds && id && !vulnIds.has(id)) {
        progress.recordsFiltered += 1;
        continue;
      }
    }
    yield item;
  }
}

/**
 * The record a rejection is about, from its key (`"CVE-…".lastModified`): the id, "" for a record without
 * a readable id (`vulnerabilities[3]`), null for a whole-file rejection (no key).
 */
function rejectedRecordId(key: string | undefined): string | null {
  if (key === undefined) return null;
  const quoted = /^"(?:[^"\\]|\\.)*"/.exec(key)?.[0];
  if (quoted === undefined) return "";
  try {
    return String(JSON.parse(quoted));
  } catch {
    return "";
  }
}

/** Every *.json under `path` (or `path` itself), in name order; see nvdAdapter. */
async function* readNvdFiles(
  path: string,
  health: HealthTracker,
  progress: NvdProgress,
): AsyncGenerator<UpstreamItem> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch {
    throw new PipelineError("file not found", { location: { file: path } });
  }
  const files = isDirectory
    ? (await readdir(path, { withFileTypes: true }))
        .filter((entry) => entry.name.endsWith(".json") && !entry.isDirectory())
        .map((entry) => entry.name)
        .sort()
        .map((name) => join(path, name))
    : [path];
  if (files.length === 0) {
    throw new PipelineError("no *.json file (NVD API 2.0 pages or cve records) in the directory", {
      location: { file: path },
    });
  }
  let usable = 0;
  let firstProblem = "";
  for (const file of files) {
    let items: UpstreamItem[];
    try {
      const bytes = await readFile(file);
      health.bytes += bytes.byteLength;
      // Strict UTF-8: a bad byte is named by its line, not silently replaced.
      items = [...parseNvd(decodeUtf8(bytes, file), { ref: file })];
    } catch (error) {
      const line = error instanceof PipelineError ? error.location.line : undefined;
      const reason = error instanceof PipelineError ? error.message : errorMessage(error);
      firstProblem ||= `${file}${line === undefined ? "" : `:${line}`}: ${reason}`;
      yield {
        kind: "rejected",
        rejection: { location: { file, ...(line === undefined ? {} : { line }) }, reason },
      };
      continue;
    }
    usable += 1;
    progress.pages += 1;
    yield* items;
  }
  if (usable === 0) {
    throw new PipelineError(
      `none of the ${files.length} file(s) is a usable NVD page or record (first: ${firstProblem})`,
      { location: { file: path } },
    );
  }
}
