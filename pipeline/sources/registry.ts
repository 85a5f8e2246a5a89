import type { Config } from "../config.ts";
import { echoCsvAdapter, notApplicableLanding } from "./echo_csv/index.ts";
import { echoAdvisoriesLanding, echoDataAdapter } from "./echo_data/index.ts";
import type { LandingTable, SourceAdapter } from "./types.ts";
import { upstreamLanding } from "./upstream.ts";

/** Every landing table, whether or not its source is enabled: dbt's sources read them all. */
export const landingTables: readonly LandingTable[] = [
  echoAdvisoriesLanding,
  notApplicableLanding,
  upstreamLanding,
];

/** Every source the pipeline knows. A new source adds its folder and one entry here. */
// biome-ignore lint/suspicious/noExplicitAny: adapters differ only in their observation type
export function enabledAdapters(config: Config): SourceAdapter<any>[] {
  // biome-ignore lint/suspicious/noExplicitAny: see above
  const adapters: SourceAdapter<any>[] = [];
  if (config.sources.echo_data.enabled) adapters.push(echoDataAdapter(config.sources.echo_data.location));
  if (config.sources.echo_csv.enabled) adapters.push(echoCsvAdapter(config.sources.echo_csv.location));
  return adapters;
}
