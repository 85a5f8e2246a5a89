import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { PipelineError } from "../../lib/errors.ts";
import type { HttpClient } from "../http/client.ts";
import { decodeUtf8 } from "../read-input.ts";
import {
  defineAdapter,
  type FetchContext,
  type HealthTracker,
  type LandingTable,
  type LandingValue,
  type SourceAdapter,
} from "../types.ts";
import type { KevConfig } from "./config.ts";
import { type KevEntry, type KevItem, parseKevCatalogue } from "./parse.ts";

export type { KevConfig } from "./config.ts";
export { type KevEntry, kevEntry, parseKevCatalogue } from "./parse.ts";

/** CISA's catalogue as JSON (about 1.3 MB, no key); `sources.kev.location` overrides it in live mode. */
export const kevUrl = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
export const kevHost = "www.cisa.gov";
/** The name CISA publishes the catalogue under: what a `location` that is a folder must hold. */
export const kevFileName = "known_exploited_vulnerabilities.json";

/** One row per catalogue entry; the load stage adds content_hash, source, run_id and fetched_at. */
export const kevLanding: LandingTable = {
  name: "known_exploited_vulnerabilities",
  columns: [
    { name: "cve_id", type: "VARCHAR" },
    { name: "vendor_project", type: "VARCHAR" },
    { name: "product", type: "VARCHAR" },
    { name: "vulnerability_name", type: "VARCHAR" },
    { name: "short_description", type: "VARCHAR" },
    { name: "date_added", type: "VARCHAR" },
    { name: "due_date", type: "VARCHAR" },
    { name: "required_action", type: "VARCHAR" },
    { name: "known_ransomware_use", type: "VARCHAR" },
    { name: "notes", type: "VARCHAR" },
    { name: "cwes", type: "VARCHAR" },
    { name: "catalog_version", type: "VARCHAR" },
    { name: "catalog_released_at", type: "VARCHAR" },
    { name: "payload_hash", type: "VARCHAR" },
    { name: "payload_ref", type: "VARCHAR" },
  ],
};

export function kevLandingRow(entry: KevEntry): LandingValue[] {
  return [
    entry.cve_id,
    entry.vendor_project,
    entry.product,
    entry.vulnerability_name,
    entry.short_description,
    entry.date_added,
    entry.due_date,
    entry.required_action,
    entry.known_ransomware_use,
    entry.notes,
    JSON.stringify(entry.cwes),
    entry.catalog_version,
    entry.catalog_released_at,
    entry.payload_hash,
    entry.payload_ref,
  ];
}

export interface KevDeps {
  http: HttpClient;
  /** The bundled sample read in mock mode (a folder holding known_exploited_vulnerabilities.json). */
  mockLocation: string;
}

/**
 * CISA's Known Exploited Vulnerabilities catalogue: every entry, whichever vendor's CVE it is (the catalogue
 * is small; the models join it to the advisories). Always a full delivery.
 *
 * - live: a conditional GET of the catalogue JSON (`location` overrides CISA's URL); a 304 yields only
 *   "unchanged", so the catalogue already loaded stays current. A request that fails after its retries
 *   throws: the orchestrator keeps the last good catalogue, reported stale.
 * - file / mock: `location` (mock: the bundled sample) is the catalogue file, or a folder holding it under
 *   CISA's name (known_exploited_vulnerabilities.json).
 * A document that is not a usable catalogue throws (file and key named); a bad entry is rejected alone.
 */
export function kevAdapter(settings: KevConfig, deps: KevDeps): SourceAdapter<KevEntry> {
  return defineAdapter<KevEntry>({
    name: "kev",
    landing: kevLanding,
    toLandingRow: kevLandingRow,
    fetchItems: (context, health) => {
      if (settings.mode === "live") return fetchLive(settings, deps.http, context, health);
      const location = settings.mode === "mock" ? deps.mockLocation : settings.location;
      if (!location)
        throw new PipelineError("file mode needs a location", { location: { key: "sources.kev" } });
      return readCatalogueFile(location, health);
    },
  });
}

async function* fetchLive(
  settings: KevConfig,
  http: HttpClient,
  context: FetchContext,
  health: HealthTracker,
): AsyncGenerator<KevItem> {
  const url = settings.location ?? kevUrl;
  if (!/^https?:\/\//i.test(url)) {
    throw new PipelineError("live mode needs an http(s) URL as location (or none, for CISA's own)", {
      location: { key: "sources.kev.location" },
    });
  }
  try {
    const response = await http.getBytes(url, { cache: !context.revalidate });
    if (response.notModified) {
      yield { kind: "unchanged" };
      return;
    }
    yield* parseKevCatalogue(decodeUtf8(response.body, url), { ref: url });
  } finally {
    const stats = http.stats();
    health.requests = stats.requests;
    health.retries = stats.retries;
    health.bytes = stats.bytesReceived;
  }
}

async function* readCatalogueFile(location: string, health: HealthTracker): AsyncGenerator<KevItem> {
  let path = location;
  try {
    if ((await stat(location)).isDirectory()) path = join(location, kevFileName);
  } catch {
    throw new PipelineError("file not found", { location: { file: location } });
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new PipelineError(
      path === location ? "file not found" : `the folder holds no ${kevFileName} (CISA's catalogue)`,
      { location: { file: path } },
    );
  }
  health.bytes += bytes.byteLength;
  yield* parseKevCatalogue(decodeUtf8(bytes, path), { ref: path });
}
