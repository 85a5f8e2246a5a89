import { join } from "node:path";
import { compareDebianVersions } from "../../pipeline/lib/dpkg-version.ts";
import { momentAfter, momentInYear, osvTime, referenceTime } from "../synthetic/dates.ts";
import { type OsvRecord, osvRecord } from "../synthetic/osv.ts";
import { OSV_ADVISORY_KINDS, OSV_WITHDRAWN_AMONG_OTHER_CVES } from "../synthetic/proportions.ts";
import { hashUnit, Random } from "../synthetic/random.ts";
import { DirectorySink, ZipSink } from "../synthetic/sinks.ts";
import { cveDescription } from "../synthetic/text.ts";
import { type AdvisoryView, advisoryView, type OsvAffectedView, otherCveTracker } from "./details.ts";
import { advisoryCount, type DatasetModel, isVendorCve, OtherCve } from "./model.ts";

/**
 * The dataset's OSV records, in the shape tools/synthetic/osv.ts builds (Debian's bucket, schema 1.7.5):
 * one DEBIAN-CVE record per CVE Debian tracks, mirroring the tracker (one affected entry per package and
 * release, not-affected releases left out, `introduced 0` then `fixed` when resolved), plus DSA and DLA
 * records naming the CVEs they fix in `upstream`. NOT-FOR-US CVEs get a record without affected packages,
 * as the real archive has them (google/osv.dev#4161). Each record goes both into a directory of
 * `<id>.json` files and into all.zip, in the same order.
 */

export interface OsvOutput {
  directory: string;
  zip: string;
  records: number;
  debianCveRecords: number;
  advisoryRecords: number;
  withdrawn: number;
  files: { files: number; bytes: number; sha256: string };
  archive: { bytes: number; sha256: string; entries: number };
}

function debianCveRecord(
  model: DatasetModel,
  cve: number,
  packages: { name: string; affected: OsvAffectedView[] }[],
  withdrawn: boolean,
): OsvRecord {
  const random = Random.of(model.seed, "osv-record", cve);
  const published = momentInYear(model.universe.yearOf(cve), random);
  // Debian's OSV export rewrites its records often: modification times are recent.
  const modified = momentAfter(Math.max(published, referenceTime - 400 * 86_400_000), random);
  // Drawn in this order (withdrawal, then severity) so that a seed keeps giving the same bytes.
  const withdrawnAt = withdrawn ? osvTime(momentAfter(modified, random)) : undefined;
  const severity = random.chance(0.6)
    ? [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H" }]
    : undefined;
  return osvRecord({
    id: `DEBIAN-${model.universe.idOf(cve)}`,
    details: cveDescription(model.seed, cve),
    modified: osvTime(modified),
    withdrawn: withdrawnAt,
    published: osvTime(published),
    affected: packages.flatMap(({ name, affected }) =>
      affected.map(({ ecosystem, fixed, urgency }) => ({ name, ecosystem, fixed, urgency })),
    ),
    severity,
  });
}

/** A fixed pair to build a DSA or DLA from: an advisory whose tracker entry has a bookworm fix. */
function fixedInBookworm(view: AdvisoryView): string | null {
  const bookworm = view.tracker?.bookworm;
  return view.cve >= 0 &&
    bookworm?.status === "resolved" &&
    bookworm.fixed_version &&
    bookworm.fixed_version !== "0"
    ? bookworm.fixed_version
    : null;
}

function debianAdvisoryRecord(model: DatasetModel, serial: number): OsvRecord | null {
  const random = Random.of(model.seed, "osv-advisory", serial);
  const total = advisoryCount(model);
  let first: AdvisoryView | null = null;
  for (let attempt = 0; attempt < 40 && first === null; attempt += 1) {
    const view = advisoryView(model, random.int(total));
    if (fixedInBookworm(view)) first = view;
  }
  if (first === null) return null;
  // A DSA usually fixes several CVEs of one package at once: take a few more fixed ones from the package.
  const packageIndex = model.advisoryPackage[first.advisory] as number;
  const start = model.advisoryStart[packageIndex] as number;
  const end = model.advisoryStart[packageIndex + 1] as number;
  const fixes = [first];
  const wanted = random.between(0, 3);
  for (let attempt = 0; attempt < 8 && fixes.length <= wanted && end - start > 1; attempt += 1) {
    const view = advisoryView(model, start + random.int(end - start));
    if (fixedInBookworm(view) && !fixes.some((fix) => fix.cve === view.cve)) fixes.push(view);
  }
  const versions = fixes.map((fix) => fixedInBookworm(fix) as string);
  const fixed = versions.reduce((best, version) =>
    compareDebianVersions(version, best) > 0 ? version : best,
  );
  const kind = random.weighted(OSV_ADVISORY_KINDS);
  const id = kind === "DSA" ? `DSA-${5000 + serial}-1` : `DLA-${3000 + serial}-1`;
  const ecosystem: OsvAffectedView["ecosystem"] = kind === "DSA" ? "Debian:12" : "Debian:11";
  const published = momentInYear(2023 + random.int(3), random);
  const year = new Date(published).getUTCFullYear();
  return osvRecord({
    id,
    summary: `${first.packageName} - security update`,
    details: `Several vulnerabilities were discovered in ${first.packageName}.`,
    modified: osvTime(momentAfter(published, random)),
    published: osvTime(published),
    upstream: fixes.map((fix) => fix.vulnId).sort(),
    references: [
      {
        type: "ADVISORY",
        url:
          kind === "DSA"
            ? `https://www.debian.org/security/${year}/dsa-${5000 + serial}`
            : `https://www.debian.org/lts/security/${year}/dla-${3000 + serial}-1`,
      },
    ],
    affected: [{ name: first.packageName, ecosystem, fixed: kind === "DSA" ? fixed : `${fixed}~deb11u1` }],
  });
}

export function writeOsv(model: DatasetModel, outDir: string): OsvOutput {
  const directory = join(outDir, "osv", "records");
  const zipPath = join(outDir, "osv", "all.zip");
  const records = new DirectorySink(directory);
  const zip = new ZipSink(zipPath);
  let debianCveRecords = 0;
  let advisoryRecords = 0;
  let withdrawnRecords = 0;
  const emit = (record: OsvRecord) => {
    const text = JSON.stringify(record);
    const name = `${record.id}.json`;
    records.writeFile(name, text);
    zip.add(name, text);
    if (record.withdrawn) withdrawnRecords += 1;
  };
  try {
    for (let cve = 0; cve < model.universe.size; cve += 1) {
      if (isVendorCve(model, cve)) {
        const packages: { name: string; affected: OsvAffectedView[] }[] = [];
        let withdrawn = false;
        let covered = false;
        const start = model.cveAdvisoryStart[cve] as number;
        const end = model.cveAdvisoryStart[cve + 1] as number;
        for (let slot = start; slot < end; slot += 1) {
          const view = advisoryView(model, model.cveAdvisories[slot] as number);
          if (!view.osv) continue;
          covered = true;
          withdrawn ||= view.osv.withdrawn;
          packages.push({ name: view.packageName, affected: view.osv.affected });
        }
        if (!covered) continue;
        packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        emit(debianCveRecord(model, cve, packages, withdrawn));
        debianCveRecords += 1;
        continue;
      }
      const owner = model.otherCvePackage[cve] as number;
      if (owner === OtherCve.notIncluded) continue;
      const withdrawn = hashUnit(model.seed, "osv-withdrawn", cve) < OSV_WITHDRAWN_AMONG_OTHER_CVES;
      const packages =
        owner >= 0
          ? [{ name: model.packageNames[owner] as string, affected: otherCveTracker(model, cve, owner).osv }]
          : [];
      emit(debianCveRecord(model, cve, packages, withdrawn));
      debianCveRecords += 1;
    }
    for (let serial = 0; serial < model.osvAdvisoryRecords; serial += 1) {
      const record = debianAdvisoryRecord(model, serial);
      if (!record) continue;
      emit(record);
      advisoryRecords += 1;
    }
    const files = records.commit();
    const archive = zip.commit();
    return {
      directory,
      zip: zipPath,
      records: debianCveRecords + advisoryRecords,
      debianCveRecords,
      advisoryRecords,
      withdrawn: withdrawnRecords,
      files,
      archive,
    };
  } catch (error) {
    records.discard();
    zip.discard();
    throw error;
  }
}
