import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineSource, sourceHttpClient } from "../source.ts";
import { kevSettings } from "./config.ts";
import { kevAdapter, kevHost, kevLanding } from "./index.ts";

const mock = join(dirname(fileURLToPath(import.meta.url)), "mock");

/** CISA's Known Exploited Vulnerabilities catalogue: a priority signal, never a state. See README.md. */
export const kevSource = defineSource({
  name: "kev",
  config: kevSettings.optional(),
  // One JSON file of about 1.3 MB, no key and no published rate limit; a CDN that now and then answers 5xx.
  hosts: () => ({ [kevHost]: { maxAttempts: 6, timeoutMs: 5 * 60_000, maxBytes: 64 * 1024 * 1024 } }),
  landing: [kevLanding],
  mock,
  adapter: (settings, deps) => kevAdapter(settings, { http: sourceHttpClient(deps), mockLocation: mock }),
});
