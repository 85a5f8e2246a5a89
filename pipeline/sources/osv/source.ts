import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bulkDownloadPolicy } from "../http/hosts.ts";
import { defineSource, sourceHttpClient } from "../source.ts";
import { cveFactsLanding, upstreamLanding } from "../upstream.ts";
import { osvSettings } from "./config.ts";
import { osvAdapter } from "./index.ts";

const mock = join(dirname(fileURLToPath(import.meta.url)), "mock");

/** OSV.dev's Debian records: fixed events mirroring the tracker, and withdrawals. See README.md. */
export const osvSource = defineSource({
  name: "osv",
  config: osvSettings.optional(),
  hosts: () => ({
    // OSV's all.zip files.
    "osv-vulnerabilities.storage.googleapis.com": bulkDownloadPolicy,
    // No published rate limit; querybatch answers are small.
    "api.osv.dev": { maxAttempts: 6 },
  }),
  landing: [upstreamLanding, cveFactsLanding],
  mock,
  adapter: (settings, deps) => osvAdapter(settings, { http: sourceHttpClient(deps), mockLocation: mock }),
});
