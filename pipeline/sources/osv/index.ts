import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../../config.ts";
import { PipelineError } from "../../lib/errors.ts";
import type { HttpClient } from "../http/client.ts";
import type { FetchContext, FetchItem, HealthTracker } from "../types.ts";
import { type UpstreamObservation, upstreamAdapter } from "../upstream.ts";
import { parseModifiedIds } from "./modified-ids.ts";
import { debianReleaseOfEcosystem, parseOsvRecord } from "./parse.ts";
import { readZipEntries } from "./zip.ts";

/** OSV's Debian bucket: all.zip with every record, modified_id.csv listing changes newest first. */
export const osvDebianBucketUrl = "https://osv-vulnerabilities.storage.googleapis.com/Debian";

export type OsvConfig = NonNullable<Config["sources"]["osv"]>;
type Item = FetchItem<UpstreamObservation>;

/**
 * OSV: DEBIAN-CVE records mirror the Debian tracker (fixed events); other records add withdrawals.
 * file/mock: a directory of OSV JSON records or an all.zip. live: the Debian all.zip on the first run
 * (conditional GET: an unchanged archive downloads nothing), then only the records modified_id.csv lists
 * as changed since the checkpoint, each fetched from the API.
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
      const text = await readFile(path, "utf8");
      health.bytes += Buffer.byteLength(text);
      yield* parseRecordSafely(text, parseOptions(path));
    }
    return;
  }
  health.bytes += info.size;
  yield* readArchive(location, parseOptions);
}

async function* readArchive(
  path: string,
  parseOptions: (ref: string) => Parameters<typeof parseOsvRecord>[1],
): AsyncGenerator<Item> {
  for await (const entry of readZipEntries(path, { accept: (name) => name.endsWith(".json") })) {
    if (entry.kind === "rejected") {
      yield { kind: "rejected", rejection: entry.rejection };
      continue;
    }
    yield* parseRecordSafely(entry.bytes.toString("utf8"), parseOptions(`${path}!${entry.name}`));
  }
}

/** A record that is not even JSON is rejected alone; the archive goes on. */
function* parseRecordSafely(text: string, options: Parameters<typeof parseOsvRecord>[1]): Generator<Item> {
  try {
    yield* parseOsvRecord(text, options);
  } catch (error) {
    const ref = options?.ref ?? "(record)";
    yield {
      kind: "rejected",
      rejection: {
        location: { file: ref },
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

    if (since === null) {
      // First run (or --revalidate): the whole archive. An archive unchanged since the last download is
      // not downloaded again, and the data already loaded stays current.
      const archive = await http.getToFile(`${bucket}/all.zip`, { cache: !context.revalidate });
      if (archive.notModified) {
        yield { kind: "unchanged" };
      } else {
        yield* readArchive(archive.path, parseOptions);
      }
    } else {
      yield { kind: "incremental" };
      for (const change of changes.entries) {
        const id = change.id.includes("/") ? (change.id.split("/").pop() as string) : change.id;
        const record = await http.getBytes(`${settings.api_url}/v1/vulns/${encodeURIComponent(id)}`, {
          cache: false,
        });
        yield* parseRecordSafely(Buffer.from(record.body).toString("utf8"), parseOptions(`osv:${id}`));
      }
    }
    if (changes.checkpoint) yield { kind: "checkpoint", value: changes.checkpoint };
  } finally {
    recordStats();
  }
}
