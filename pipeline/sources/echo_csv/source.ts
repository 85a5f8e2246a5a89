import { defineSource, inputHttpClient } from "../source.ts";
import { echoCsvSettings } from "./config.ts";
import { echoCsvAdapter, notApplicableLanding } from "./index.ts";

/** The research team's not-applicable feed (CSV). See README.md. */
export const echoCsvSource = defineSource({
  name: "echo_csv",
  config: echoCsvSettings,
  landing: [notApplicableLanding],
  // As data.json: the config's http limits, no cache.
  adapter: (settings, deps) => echoCsvAdapter(settings.location, deps.dbtProjectDir, inputHttpClient(deps)),
});
