import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { PipelineError } from "../../lib/errors.ts";
import { type HttpClient, HttpError } from "../http/client.ts";
import { decodeUtf8 } from "../read-input.ts";
import type { FetchContext, FetchItem, HealthTracker } from "../types.ts";
import { type CveFacts, type UpstreamObservation, upstreamAdapter } from "../upstream.ts";
import type { OsvConfig } from "./config.ts";
import { parseModifiedIds } from "./modified-ids.ts";
import { debianReleaseOfEcosystem, parseOsvRecord } from "./parse.ts";
import { readZipEntries } from "./zip.ts";

/** OSV's Debian bucket: all.zip with every record, modified_id.csv listing changes newest first. */
export const osvDebianBucketUrl = "https://osv-vulnerabilities.storage.googleapis.com/Debian";

export type { OsvConfig } from "./config.ts";

type Item = FetchItem<UpstreamObservation, CveFacts>;

/**
 * OSV: DEBIAN-CVE records mirror the Debian tracker (fixed events); other records add withdrawals.
 * file/mock: a directory of OSV JSON records or an all.zip. live: the Debian all.zip on the first run
 * (conditional GET: an unchanged archive downloads nothing) — or, when only a few advisories are open,
 * targeted look-ups instead (see fetchTargeted) — then only the records modified_id.csv lists as changed
 * since the checkpoint, each fetched from the API.
 */
export function osvAdapter(settings: OsvConfig, deps: { http: HttpClient; mockLocation: string }) {
  const releases = settings.ecosystems
    .map((ecosystem) => debianReleaseOfEcosystem(ecosystem))
    .filter((release): release is string => release !== null);
  return upstreamAdapter("osv", (context, health) => {
    const parseOptions = (ref: string) => ({ ref, packages: context.packages, releases });
    if (settings.mode === "live") return fetchLive(settings, deps.http, context, health, parseOptions);
    const location = settings.mode === "mock" ? deps.mockLocation : (settings.location as string);
    return readSnapshot(location, health, parseOptions);
  });
}

async function* readSnapshot(
  location: string,
  health: HealthTracker,
  parseOptions: (ref: string) => Parameters<typeof parseOsvRecord>[1],
): AsyncGenerator<Item> {
  const info = await stat(location).catch(() => {
    throw new PipelineError("file or directory not found", { location: { file: location } });
  });
  if (info.isDirectory()) {
    const names = (await readdir(location)).filter((name) => name.endsWith(".json")).sort();
    for (const name of names) {
      const path = join(location, name);
      const bytes = await readFile(path);
      health.bytes += bytes.byteLength;
      yield* parseRecordSafely(bytes, parseOptions(path));
    }
    return;
  }
  health.bytes += info.size;
  yield* readArchive(location, parseOptions);
}

/** `label` names the archive in rejections and payload_ref (the URL, not the cache file, in live mode). */
async function* readArchive(
  path: string,
  parseOptions: (ref: string) => Parameters<typeof parseOsvRecord>[1],
  label = path,
): AsyncGenerator<Item> {
  for await (const entry of readZipEntries(path, { accept: (name) => name.endsWith(".json"), label })) {
    if (entry.kind === "rejected") {
      yield { kind: "rejected", rejection: entry.rejection };
      continue;
    }
    yield* parseRecordSafely(entry.bytes, parseOptions(`${label}!${entry.name}`));
  }
}

/**
 * A record that is not even JSON (or not UTF-8: bad bytes are not silently replaced) is rejected alone;
 * the archive goes on.
 */
function* parseRecordSafely(
  bytes: Uint8Array,
  options: Parameters<typeof parseOsvRecord>[1],
): Generator<Item> {
  const ref = options?.ref ?? "(record)";
  try {
    yield* parseOsvRecord(decodeUtf8(bytes, ref), options);
  } catch (error) {
    const line = error instanceof PipelineError ? error.location.line : undefined;
    yield {
      kind: "rejected",
      rejection: {
        location: { file: ref, ...(line === undefined ? {} : { line }) },
        reason: error instanceof PipelineError ? error.message : String(error),
      },
    };
  }
}

async function* fetchLive(
  settings: OsvConfig,
  http: HttpClient,
  context: FetchContext,
  health: HealthTracker,
  parseOptions: (ref: string) => Parameters<typeof parseOsvRecord>[1],
): AsyncGenerator<Item> {
  const bucket = settings.location ?? osvDebianBucketUrl;
  const recordStats = () => {
    const stats = http.stats();
    health.requests = stats.requests;
    health.retries = stats.retries;
    health.bytes = stats.bytesReceived;
  };
  try {
    const since = context.revalidate ? null : context.checkpoint;
    // Conditional: when the list has not changed since the last run, no record has, and nothing is downloaded.
    const modified = await http.getBytes(`${bucket}/modified_id.csv`, { cache: !context.revalidate });
    if (modified.notModified && since !== null) {
      yield { kind: "unchanged" };
      return;
    }
    const changes = parseModifiedIds(Buffer.from(modified.body).toString("utf8"), {
      since,
      file: `${bucket}/modified_id.csv`,
    });
    for (const rejection of changes.rejections) yield { kind: "rejected", rejection };

    const lookups = since === null && !context.revalidate ? targetedLookups(settings, context) : null;
    if (lookups) {
      yield { kind: "incremental" };
      yield* fetchTargeted(settings, http, lookups, parseOptions);
    } else if (since === null) {
      // First run (or --revalidate): the whole archive. An archive unchanged since the last download is
      // not downloaded again, and the data already loaded stays current. getToFile streams into the cache
      // and so is always conditional: with --revalidate a 304 means the cached copy is byte for byte the
      // current archive, and it is read again in full.
      const archive = await http.getToFile(`${bucket}/all.zip`);
      if (archive.notModified && !context.revalidate) {
        yield { kind: "unchanged" };
      } else {
        yield* readArchive(archive.path, parseOptions, `${bucket}/all.zip`);
      }
    } else {
      yield { kind: "incremental" };
      for (const change of changes.entries) {
        const id = change.id.includes("/") ? (change.id.split("/").pop() as string) : change.id;
        const record = await http.getBytes(`${settings.api_url}/v1/vulns/${encodeURIComponent(id)}`, {
          cache: false,
        });
        yield* parseRecordSafely(record.body, parseOptions(`osv:${id}`));
      }
    }
    if (changes.checkpoint) yield { kind: "checkpoint", value: changes.checkpoint };
  } finally {
    recordStats();
  }
}

/** OSV's querybatch takes at most this many queries per request. */
const queryBatchLimit = 1000;
/** Concurrent GET /v1/vulns/{id} requests in a targeted run. */
const lookupConcurrency = 4;
/** Pages followed per query before giving up on a server that never stops handing out page tokens. */
const maxPagesPerQuery = 100;

interface TargetedLookups {
  /** Debian source packages with an open advisory, sorted. */
  packages: string[];
  /** The open vulnerability ids: only their observations are kept. */
  open: ReadonlySet<string>;
}

/**
 * Whether the first run can do without all.zip: no checkpoint, no --revalidate, 1..lookup_limit open
 * advisories, and the packages they concern known (context.openAdvisories within context.packages).
 * Debian's all.zip is large and holds every package ever in Debian; a vendor with a few open advisories
 * needs a few records. The look-ups are an incremental delivery (what was loaded before still counts) and
 * the modified_id.csv checkpoint is saved all the same, so the next run goes on incrementally. Anything
 * short of that (an unknown package list, open ids without their packages) takes the bulk path.
 */
function targetedLookups(settings: OsvConfig, context: FetchContext): TargetedLookups | null {
  const openIds = context.openVulnIds;
  if (openIds.length === 0 || openIds.length > settings.lookup_limit) return null;
  if (context.packages === null || !context.openAdvisories) return null;
  const open = new Set(openIds);
  const packages = new Set<string>();
  for (const advisory of context.openAdvisories) {
    if (open.has(advisory.vuln_id) && context.packages.has(advisory.package_name)) {
      packages.add(advisory.package_name);
    }
  }
  if (packages.size === 0) return null;
  return { packages: [...packages].sort(), open };
}

interface QueryBatchResponse {
  results: { vulns?: { id: string; modified?: string }[]; next_page_token?: string }[];
}

/**
 * One querybatch query per (package, ecosystem), in chunks of at most 1000, following each query's
 * next_page_token; then GET /v1/vulns/{id} for each id found (a few at a time), keeping only the open
 * vulnerabilities' observations. A `DEBIAN-CVE-…`/`DEBIAN-TEMP-…` id names its vulnerability, so one about
 * a vulnerability that is not open is not fetched at all; any other id (DSA, DLA, GHSA) is, since only its
 * record says which CVEs it covers.
 */
async function* fetchTargeted(
  settings: OsvConfig,
  http: HttpClient,
  lookups: TargetedLookups,
  parseOptions: (ref: string) => Parameters<typeof parseOsvRecord>[1],
): AsyncGenerator<Item> {
  const queries = lookups.packages.flatMap((name) =>
    settings.ecosystems.map((ecosystem) => ({ package: { name, ecosystem } })),
  );
  const found = new Set<string>();
  for (let start = 0; start < queries.length; start += queryBatchLimit) {
    for (const id of await queryBatch(
      settings.api_url,
      http,
      queries.slice(start, start + queryBatchLimit),
    )) {
      found.add(id);
    }
  }
  const ids = [...found].filter((id) => worthFetching(id, lookups.open)).sort();
  const fetchRecord = async (id: string) => {
    const url = `${settings.api_url}/v1/vulns/${encodeURIComponent(id)}`;
    try {
      const record = await http.getBytes(url, { cache: false });
      return { id, bytes: record.body };
    } catch (error) {
      // A record listed a moment ago and gone now is rejected alone; any other failure voids the delivery.
      if (error instanceof HttpError && error.status === 404) return { id, missing: url };
      throw error;
    }
  };
  for await (const result of mapConcurrently(ids, lookupConcurrency, fetchRecord)) {
    if ("missing" in result) {
      yield {
        kind: "rejected",
        rejection: {
          location: { file: result.missing },
          reason: "querybatch listed the record, but it is not found",
        },
      };
      continue;
    }
    for (const item of parseRecordSafely(result.bytes, parseOptions(`osv:${result.id}`))) {
      if (item.kind === "observation" && !lookups.open.has(item.observation.vuln_id)) continue;
      yield item;
    }
  }
}

/** Ids `DEBIAN-CVE-x`/`DEBIAN-TEMP-x` only when `x` is open; every other id, whose record may name one. */
function worthFetching(id: string, open: ReadonlySet<string>): boolean {
  if (!id.startsWith("DEBIAN-CVE-") && !id.startsWith("DEBIAN-TEMP-")) return true;
  return open.has(id.slice("DEBIAN-".length));
}

/** The vulnerability ids matching `queries` (at most 1000), every page of every query. */
async function queryBatch(
  apiUrl: string,
  http: HttpClient,
  queries: readonly { package: { name: string; ecosystem: string } }[],
): Promise<string[]> {
  const url = `${apiUrl}/v1/querybatch`;
  const ids: string[] = [];
  let pending: { query: (typeof queries)[number]; token?: string }[] = queries.map((query) => ({ query }));
  for (let round = 0; pending.length > 0; round += 1) {
    if (round >= maxPagesPerQuery) {
      throw new PipelineError(`querybatch kept handing out page tokens after ${maxPagesPerQuery} pages`, {
        location: { file: url },
      });
    }
    const body = {
      queries: pending.map(({ query, token }) => (token ? { ...query, page_token: token } : query)),
    };
    const { data } = await http.postJson<QueryBatchResponse>(url, body);
    const results = checkQueryBatch(data, pending.length, url);
    const next: typeof pending = [];
    for (const [index, result] of results.entries()) {
      for (const vuln of result.vulns ?? []) ids.push(vuln.id);
      const query = pending[index]?.query;
      if (result.next_page_token && query) next.push({ query, token: result.next_page_token });
    }
    pending = next;
  }
  return ids;
}

/** The response's results, one per query, each `{vulns?: [{id}], next_page_token?}`; else a PipelineError. */
function checkQueryBatch(data: unknown, expected: number, url: string): QueryBatchResponse["results"] {
  const fail = (reason: string) =>
    new PipelineError(`unexpected querybatch response: ${reason}`, { location: { file: url } });
  const results = (data as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) throw fail("no results list");
  if (results.length !== expected) throw fail(`${results.length} results for ${expected} queries`);
  for (const result of results) {
    if (result === null || typeof result !== "object") throw fail("a result is not an object");
    const { vulns, next_page_token: token } = result as { vulns?: unknown; next_page_token?: unknown };
    if (token !== undefined && typeof token !== "string") throw fail("next_page_token is not a string");
    if (vulns === undefined) continue;
    if (!Array.isArray(vulns)) throw fail("vulns is not a list");
    for (const vuln of vulns) {
      const id = (vuln as { id?: unknown } | null)?.id;
      if (typeof id !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._:+-]*$/.test(id)) {
        throw fail(`a vuln id is missing or invalid (${JSON.stringify(id)})`);
      }
    }
  }
  return results as QueryBatchResponse["results"];
}

/** `fn` over `items` with at most `limit` calls in flight, results yielded in the items' order. */
async function* mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  let next = 0;
  const launch = () => {
    while (next < items.length && pending.length < limit) {
      const promise = fn(items[next] as T);
      next += 1;
      // Awaited in order below; this only keeps a later failure from counting as unhandled meanwhile.
      promise.catch(() => undefined);
      pending.push(promise);
    }
  };
  launch();
  while (pending.length > 0) {
    const result = await (pending.shift() as Promise<R>);
    launch();
    yield result;
  }
}
