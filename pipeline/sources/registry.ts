import { debianTrackerSource } from "./debian_tracker/source.ts";
import { echoCsvSource } from "./echo_csv/source.ts";
import { echoDataSource } from "./echo_data/source.ts";
import { kevSource } from "./kev/source.ts";
import { nvdSource } from "./nvd/source.ts";
import { osvSource } from "./osv/source.ts";
import { type AnyAdapter, createRegistry } from "./source.ts";

/**
 * THE list of sources. A new source is a folder (pipeline/sources/<name>/, with its source.ts descriptor)
 * plus one line here, plus its row in dbt_project/seeds/source_catalogue.csv. config.yaml's `sources:`
 * schema, the CLI's `--source` names, the HTTP host policies and the landing tables all come from it.
 */
export const registry = createRegistry([
  echoDataSource,
  echoCsvSource,
  debianTrackerSource,
  osvSource,
  nvdSource,
  kevSource,
]);

/** Every landing table, whether or not its source is enabled: dbt's sources read them all. */
export const landingTables = registry.landingTables;

/** The adapters of the enabled sources, in registry order. */
export function enabledAdapters(config: Parameters<typeof registry.enabledAdapters>[0]): AnyAdapter[] {
  return registry.enabledAdapters(config);
}
