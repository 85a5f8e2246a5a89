import { defineSource, inputHttpClient } from "../source.ts";
import { echoDataSettings } from "./config.ts";
import { echoAdvisoriesLanding, echoDataAdapter } from "./index.ts";

/** The vendor's published advisory dataset (data.json): the advisories the pipeline decides. See README.md. */
export const echoDataSource = defineSource({
  name: "echo_data",
  config: echoDataSettings,
  landing: [echoAdvisoriesLanding],
  // A URL is read within the config's http limits (max_response_mb included), not cached: it is read every run.
  adapter: (settings, deps) => echoDataAdapter(settings.location, inputHttpClient(deps)),
});
