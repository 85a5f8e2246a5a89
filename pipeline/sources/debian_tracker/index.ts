import type { HttpClient } from "../http/client.ts";
import type { FetchContext, FetchItem, HealthTracker } from "../types.ts";
import { type CveFacts, readSnapshotFile, type UpstreamObservation, upstreamAdapter } from "../upstream.ts";
import type { DebianTrackerConfig } from "./config.ts";
import { parseDebianTrackerStream } from "./parse.ts";

/** The whole-dataset JSON; regenerated at most every 5 minutes, Last-Modified changes only with content. */
export const debianTrackerUrl = "https://security-tracker.debian.org/tracker/data/json";

export type { DebianTrackerConfig } from "./config.ts";

/**
 * The Debian Security Tracker: the primary signal for Debian source packages. The document is read as a
 * stream and filtered to the packages data.json lists, so memory holds one package at a time. Live, it is
 * fetched with a conditional GET into the HTTP cache: when Debian has not changed it, nothing is
 * downloaded and the data already loaded stays current.
 */
export function debianTrackerAdapter(
  settings: DebianTrackerConfig,
  deps: { http: HttpClient; mockLocation: string },
) {
  return upstreamAdapter("debian_tracker", (context, health) =>
    settings.mode === "live"
      ? fetchLive(settings, deps.http, context, health)
      : parseFile(
          settings.mode === "mock" ? deps.mockLocation : (settings.location as string),
          settings,
          context,
          health,
        ),
  );
}

function parseFile(
  path: string,
  settings: DebianTrackerConfig,
  context: FetchContext,
  health: HealthTracker,
): AsyncGenerator<FetchItem<UpstreamObservation, CveFacts>> {
  return parseDebianTrackerStream(readSnapshotFile(path, health), {
    ref: path,
    packages: context.packages,
    releases: settings.releases,
  });
}

async function* fetchLive(
  settings: DebianTrackerConfig,
  http: HttpClient,
  context: FetchContext,
  health: HealthTracker,
): AsyncGenerator<FetchItem<UpstreamObservation, CveFacts>> {
  const url = settings.location ?? debianTrackerUrl;
  try {
    const response = await http.getToFile(url, { cache: !context.revalidate });
    if (response.notModified) {
      yield { kind: "unchanged" };
      return;
    }
    // Bytes were counted by the client; reading the cached copy must not count them twice.
    const reading = { bytes: 0 } as HealthTracker;
    yield* parseDebianTrackerStream(readSnapshotFile(response.path, reading), {
      ref: url,
      packages: context.packages,
      releases: settings.releases,
    });
  } finally {
    const stats = http.stats();
    health.requests = stats.requests;
    health.retries = stats.retries;
    health.bytes = stats.bytesReceived;
  }
}
