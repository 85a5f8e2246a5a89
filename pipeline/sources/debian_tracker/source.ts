import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bulkDownloadPolicy } from "../http/hosts.ts";
import { defineSource, sourceHttpClient } from "../source.ts";
import { cveFactsLanding, upstreamLanding } from "../upstream.ts";
import { debianTrackerSettings } from "./config.ts";
import { debianTrackerAdapter } from "./index.ts";

const mock = join(dirname(fileURLToPath(import.meta.url)), "mock/tracker.json");

/** The Debian Security Tracker: Debian's own triage of each CVE per release. See README.md. */
export const debianTrackerSource = defineSource({
  name: "debian_tracker",
  config: debianTrackerSettings.optional(),
  // The whole-dataset JSON (100+ MB).
  hosts: () => ({ "security-tracker.debian.org": bulkDownloadPolicy }),
  landing: [upstreamLanding, cveFactsLanding],
  mock,
  adapter: (settings, deps) =>
    debianTrackerAdapter(settings, { http: sourceHttpClient(deps), mockLocation: mock }),
});
