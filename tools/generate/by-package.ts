import { join } from "node:path";
import {
  byCodeUnits,
  type TrackerEntry,
  TrackerJsonWriter,
  trackerEntry,
} from "../synthetic/debian-tracker.ts";
import { DataJsonWriter, NotApplicableCsvWriter } from "../synthetic/echo-data.ts";
import { Random } from "../synthetic/random.ts";
import { FileSink } from "../synthetic/sinks.ts";
import { cveDescription } from "../synthetic/text.ts";
import { type AdvisoryView, advisoryView, otherCveTracker } from "./details.ts";
import type { DatasetModel } from "./model.ts";

/**
 * The files ordered by package, written in one pass over the package names in sorted order: the vendor's
 * data.json (compact, as published), the not-applicable CSV (the measured quoting: header and
 * fixed_version quoted, LF line ends) and the Debian tracker's whole-dataset JSON (the vendor's packages
 * and packages only Debian has, interleaved by name).
 */

export interface ByPackageOutput {
  dataJson: {
    path: string;
    packages: number;
    advisories: number;
    open: number;
    tempIds: number;
    bytes: number;
    sha256: string;
  };
  csv: { path: string; rows: number; bytes: number; sha256: string };
  tracker: {
    path: string;
    packages: number;
    entries: number;
    releaseEntries: number;
    bytes: number;
    sha256: string;
  };
  /** Advisories per scenario (statusClass/name), for the manifest and the tests. */
  scenarios: Record<string, number>;
}

/** Per package, the CVEs only Debian tracks against it (those the vendor does not list), as a CSR index. */
function otherCvesByPackage(model: DatasetModel): { start: Int32Array; cves: Int32Array } {
  const packages = model.packageNames.length;
  const start = new Int32Array(packages + 1);
  for (let cve = 0; cve < model.universe.size; cve += 1) {
    const owner = model.otherCvePackage[cve] as number;
    if (owner >= 0) start[owner + 1] = (start[owner + 1] as number) + 1;
  }
  for (let p = 0; p < packages; p += 1) start[p + 1] = (start[p + 1] as number) + (start[p] as number);
  const cves = new Int32Array(start[packages] as number);
  const fill = start.slice(0, packages);
  for (let cve = 0; cve < model.universe.size; cve += 1) {
    const owner = model.otherCvePackage[cve] as number;
    if (owner < 0) continue;
    cves[fill[owner] as number] = cve;
    fill[owner] = (fill[owner] as number) + 1;
  }
  return { start, cves };
}

/** An entry's fields besides its releases; `random` is the entry's own stream. */
function drawTrackerEntry(
  model: DatasetModel,
  random: Random,
  cve: number,
  packageName: string,
  releases: TrackerEntry["releases"],
): TrackerEntry {
  const scope = random.chance(0.6) ? (random.chance(0.7) ? "remote" : "local") : undefined;
  const debianbug = random.chance(0.3) ? 400_000 + random.int(700_000) : undefined;
  const description = random.chance(0.9)
    ? cve >= 0
      ? cveDescription(model.seed, cve)
      : `Issue in ${packageName} found by a code audit (no CVE assigned)`
    : undefined;
  return trackerEntry({ scope, debianbug, description }, releases);
}

export function writeByPackage(model: DatasetModel, outDir: string): ByPackageOutput {
  const dataJsonPath = join(outDir, "data.json");
  const csvPath = join(outDir, "advisory_not_applicable.csv");
  const trackerPath = join(outDir, "debian_tracker.json");
  const dataJson = new FileSink(dataJsonPath);
  const csv = new FileSink(csvPath);
  const tracker = new FileSink(trackerPath);
  try {
    const order = model.packageNames
      .map((name, index) => ({ name, index }))
      .sort((a, b) => byCodeUnits(a.name, b.name));
    const others = otherCvesByPackage(model);
    const scenarioCounts: Record<string, number> = {};
    let open = 0;
    let tempIds = 0;
    const vendorData = new DataJsonWriter(dataJson);
    const notApplicable = new NotApplicableCsvWriter(csv);
    const trackerJson = new TrackerJsonWriter(tracker);
    for (const { name, index } of order) {
      const entries: [string, TrackerEntry][] = [];
      if (index < model.vendorPackages) {
        const views: AdvisoryView[] = [];
        for (
          let advisory = model.advisoryStart[index] as number;
          advisory < (model.advisoryStart[index + 1] as number);
          advisory += 1
        ) {
          views.push(advisoryView(model, advisory));
        }
        views.sort((a, b) => byCodeUnits(a.vulnId, b.vulnId));
        for (const view of views) {
          const key = `${view.scenario.statusClass}/${view.scenario.name}`;
          scenarioCounts[key] = (scenarioCounts[key] ?? 0) + 1;
          if (view.vendorFixed === null) open += 1;
          if (view.cve < 0) tempIds += 1;
          if (view.csv)
            notApplicable.row({ vulnId: view.vulnId, packageName: view.packageName, ...view.csv });
          if (view.tracker) {
            const random = Random.of(model.seed, "tracker-entry-advisory", view.advisory);
            entries.push([view.vulnId, drawTrackerEntry(model, random, view.cve, name, view.tracker)]);
          }
        }
        vendorData.package(
          name,
          views.map((view) => ({ vulnId: view.vulnId, fixedVersion: view.vendorFixed })),
        );
      }
      for (let slot = others.start[index] as number; slot < (others.start[index + 1] as number); slot += 1) {
        const cve = others.cves[slot] as number;
        const id = model.universe.idOf(cve);
        const random = Random.of(model.seed, "tracker-entry-cve", cve);
        entries.push([
          id,
          drawTrackerEntry(model, random, cve, name, otherCveTracker(model, cve, index).tracker),
        ]);
      }
      trackerJson.package(name, entries);
    }
    vendorData.close();
    trackerJson.close();
    return {
      dataJson: {
        path: dataJsonPath,
        packages: vendorData.packages,
        advisories: vendorData.advisories,
        open,
        tempIds,
        ...dataJson.commit(),
      },
      csv: { path: csvPath, rows: notApplicable.rows, ...csv.commit() },
      tracker: {
        path: trackerPath,
        packages: trackerJson.packages,
        entries: trackerJson.entries,
        releaseEntries: trackerJson.releaseEntries,
        ...tracker.commit(),
      },
      scenarios: Object.fromEntries(Object.entries(scenarioCounts).sort(([a], [b]) => byCodeUnits(a, b))),
    };
  } catch (error) {
    dataJson.discard();
    csv.discard();
    tracker.discard();
    throw error;
  }
}
