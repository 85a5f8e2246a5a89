import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { repoRoot } from "./workspace.ts";

/** The dbt seed that names every source (display name, precedence): dbt reads the list of sources from it. */
export const sourceCatalogue = join(repoRoot, "dbt_project/seeds/source_catalogue.csv");

/**
 * What keeps a registry and the source catalogue seed from agreeing: a registered source without a row, or
 * a row without a registered source. Empty when they agree.
 */
export async function catalogueProblems(
  names: readonly string[],
  csvPath = sourceCatalogue,
): Promise<string[]> {
  const rows = parse(await readFile(csvPath, "utf8"), { columns: true, skip_empty_lines: true }) as {
    source: string;
  }[];
  const listed = rows.map((row) => row.source);
  return [
    ...names
      .filter((name) => !listed.includes(name))
      .map((name) => `${name}: registered, but no row in the catalogue`),
    ...listed
      .filter((name) => !names.includes(name))
      .map((name) => `${name}: in the catalogue, but not registered`),
  ];
}
