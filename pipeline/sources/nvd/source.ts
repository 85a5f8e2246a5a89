import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PipelineError } from "../../lib/errors.ts";
import { createHttpClient } from "../http/client.ts";
import { configuredLimits, defineSource } from "../source.ts";
import { cveFactsLanding, upstreamLanding } from "../upstream.ts";
import { nvdSettings } from "./config.ts";
import { nvdHost, nvdHostPolicy, nvdKeyRule } from "./hosts.ts";
import { nvdAdapter, nvdApiUrl } from "./index.ts";

const mock = join(dirname(fileURLToPath(import.meta.url)), "mock");

/** NVD's CVE records: rejections and disputes, for any package. See README.md. */
export const nvdSource = defineSource({
  name: "nvd",
  config: nvdSettings.optional(),
  hosts: (env) => ({ [nvdHost]: nvdHostPolicy(env.NVD_API_KEY?.trim() || undefined) }),
  // The key goes only to NVD's API over https: a live location elsewhere with a key set is a config error.
  secret: {
    rule: nvdKeyRule,
    heldIn: (settings, env) => (env[settings.api_key_env]?.trim() ? settings.api_key_env : undefined),
    sentTo: (settings) =>
      settings.mode === "live" ? [{ key: "location", url: settings.location ?? nvdApiUrl }] : [],
  },
  landing: [upstreamLanding, cveFactsLanding],
  mock,
  adapter: (settings, deps) => {
    // The NVD adapter paces itself (5 or 50 requests per 30 s, or requests_per_30s) and sends its key from
    // api_key_env on each request; the client's own per-host limit would only stack on top of that.
    const { timeoutMs, maxBytes } = configuredLimits(deps.http);
    const http = createHttpClient({ timeoutMs, maxBytes, rateLimiting: false });
    const apiKey = deps.env[settings.api_key_env]?.trim() || undefined;
    // fetch quotes an invalid header value in its error, where no redaction would find an altered key.
    if (apiKey !== undefined && !/^[\x21-\x7e]+$/.test(apiKey)) {
      throw new PipelineError(
        `${settings.api_key_env} holds a space, line break or control character, which cannot be sent in a header; set it to the key alone`,
        { location: { key: "sources.nvd.api_key_env" }, exitCode: 2 },
      );
    }
    return nvdAdapter(settings, { http, apiKey, mockLocation: mock });
  },
});
