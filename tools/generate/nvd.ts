import { join } from "node:path";
import { NvdFlag, type NvdFlagValue, nvdPage, nvdRecordInYear, nvdResultsPerPage } from "../synthetic/nvd.ts";
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
      page.push(
        nvdRecordInYear(
          model.seed,
          cve,
          model.universe.idOf(cve),
          model.universe.yearOf(cve),
          flag as NvdFlagValue,
        ),
      );
      if (page.length === nvdResultsPerPage) flush();
    }
    if (page.length > 0 || pages === 0) flush();
    return { directory, records: total, pages, rejected, disputed, files: sink.commit() };
  } catch (error) {
    sink.discard();
    throw error;
  }
}
