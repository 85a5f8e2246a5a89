// How the advisory data is split into files for the browser, decided from the size of the published files
// so that a file stays a few KB at any scale. The build writes the files with it and embeds it in the pages
// that fetch them, so both sides compute the same shard names. Nothing here decides anything.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { outputDir } from "./output.ts";
import { shardBitsFor } from "./shards.ts";

export const cveFactsFileName = "cve_facts.json";

export interface DataLayout {
  /** data/advisories/<shard>.json: each advisory's whole record and timeline, by advisory id. */
  advisoryBits: number;
  /** data/cves/<shard>.json: each CVE's facts and a short row per package advisory, by CVE id. */
  cveBits: number;
  /** data/packages/<shard>.json: a short row per advisory of each package, by package name. */
  packageBits: number;
  /** False for output written before cve_facts.json existed: the pages then say the facts are not available. */
  factsPublished: boolean;
}

const sizeOf = (name: string) => {
  const path = join(outputDir, name);
  return existsSync(path) ? statSync(path).size : 0;
};

let layout: DataLayout | undefined;

export function dataLayout(): DataLayout {
  if (layout) return layout;
  const advisoryBytes = sizeOf("advisory_current.json");
  const factsBytes = sizeOf(cveFactsFileName);
  // An advisory's record with its timeline is about 1.5 times its line in advisory_current.json; its row in
  // a CVE or package file about a tenth. The targets leave room for the unevenness of a hash.
  layout = {
    advisoryBits: shardBitsFor(advisoryBytes * 1.5, 3 * 1024),
    cveBits: shardBitsFor(advisoryBytes * 0.15 + factsBytes, 5 * 1024),
    packageBits: shardBitsFor(advisoryBytes * 0.1, 16 * 1024),
    factsPublished: existsSync(join(outputDir, cveFactsFileName)),
  };
  return layout;
}
