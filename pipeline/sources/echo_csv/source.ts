import { createHttpClient } from "../http/client.ts";
import { defineSource } from "../source.ts";
import { echoCsvSettings } from "./config.ts";
import { echoCsvAdapter, notApplicableLanding } from "./index.ts";

/** The research team's not-applicable feed (CSV). See README.md. */
export const echoCsvSource = defineSource({
  name: "echo_csv",
  config: echoCsvSettings,
  landing: [notApplicableLanding],
  adapter: (settings, deps) =>
    echoCsvAdapter(settings.location, deps.dbtProjectDir, createHttpClient({ hosts: deps.hosts })),
});
