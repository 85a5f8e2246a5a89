import { join } from "node:path";
import { momentAfter, momentInYear, referenceTime } from "../synthetic/dates.ts";
import { NvdFlag, type NvdFlagValue, nvdPage, nvdRecord, nvdResultsPerPage } from "../synthetic/nvd.ts";
import { Random } from "../synthetic/random.ts";
import { DirectorySink } from "../synthetic/sinks.ts";
import { type DatasetModel, isVendorCve, OtherCve } from "./model.ts";

/**
 * The dataset's NVD: API 2.0 response pages, 2,000 records a page as a full paged pull receives them, one
 * record (tools/synthetic/nvd.ts) per CVE of the universe that NVD has.
 */

/** Whether the CVE is in this dataset's NVD: every CVE the vendor lists, the others as the scale keeps. */
export function inNvd(model: DatasetModel, cve: number): boolean {
  return isVendorCve(model, cve) || model.otherCvePackage[cve] !== OtherCve.notIncluded;
}

/** Record `cve` of the universe: published in its id's year, modified in the four years before "now". */
export function datasetNvdRecord(model: DatasetModel, cve: number): Record<string, unknown> {
  const random = Random.of(model.seed, "nvd", cve);
  const published = momentInYear(model.universe.yearOf(cve), random);
  const lastModified = momentAfter(Math.max(published, referenceTime - 4 * 365 * 86_400_000), random);
  const flag = model.nvdFlag[cve] as NvdFlagValue;
  return nvdRecord(
    { seed: model.seed, cve, id: model.universe.idOf(cve), flag, published, lastModified },
    random,
  );
}

export interface NvdOutput {
  directory: string;
  records: number;
  pages: number;
  rejected: number;
  disputed: number;
  files: { files: number; bytes: number; sha256: string };
}

/** Writes every page into `<outDir>/nvd`, named so that name order is page order. */
export function writeNvd(model: DatasetModel, outDir: string): NvdOutput {
  const directory = join(outDir, "nvd");
  let total = 0;
  for (let cve = 0; cve < model.universe.size; cve += 1) if (inNvd(model, cve)) total += 1;
  const sink = new DirectorySink(directory);
  let rejected = 0;
  let disputed = 0;
  let pages = 0;
  try {
    let page: unknown[] = [];
    let startIndex = 0;
    const flush = () => {
      const body = nvdPage(page, startIndex, nvdResultsPerPage, total);
      sink.writeFile(`nvd-cves-page-${String(pages).padStart(5, "0")}.json`, JSON.stringify(body));
      pages += 1;
      startIndex += page.length;
      page = [];
    };
    for (let cve = 0; cve < model.universe.size; cve += 1) {
      if (!inNvd(model, cve)) continue;
      const flag = model.nvdFlag[cve] as number;
      if (flag === NvdFlag.rejected) rejected += 1;
      else if (flag !== NvdFlag.plain) disputed += 1;
      page.push(datasetNvdRecord(model, cve));
      if (page.length === nvdResultsPerPage) flush();
    }
    if (page.length > 0 || pages === 0) flush();
    return { directory, records: total, pages, rejected, disputed, files: sink.commit() };
  } catch (error) {
    sink.discard();
    throw error;
  }
}
