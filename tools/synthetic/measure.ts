#!/usr/bin/env node
/**
 * Measures, from the real snapshot in ../shared/data, the proportions the generator reproduces
 * (proportions.ts records the results as named constants). It prints figures only, never records, so
 * nothing of the real data ends up in the repository.
 *
 *   node tools/synthetic/measure.ts [shared data dir, default ../shared/data]
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

type Entry = { fixed_version?: string };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = resolve(process.argv[2] ?? join(repoRoot, "../shared/data"));

function tally(values: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function quantiles(sorted: readonly number[], points: readonly number[]): Record<string, number> {
  return Object.fromEntries(
    points.map((point) => [String(point), sorted[Math.floor(point * (sorted.length - 1))] ?? 0]),
  );
}

const vendor = JSON.parse(readFileSync(join(dataDir, "echo/data.json"), "utf8")) as Record<
  string,
  Record<string, Entry>
>;
const packageSizes = Object.entries(vendor).map(([name, entries]) => ({
  name,
  size: Object.keys(entries).length,
  open: Object.values(entries).filter((entry) => !entry.fixed_version).length,
}));
const largest = [...packageSizes].sort((a, b) => b.size - a.size)[0];
const pairs = Object.entries(vendor).flatMap(([name, entries]) =>
  Object.entries(entries).map(([id, entry]) => ({ name, id, fixed: entry.fixed_version ?? "" })),
);
const fixedVersions = pairs.map((pair) => pair.fixed).filter((version) => version !== "");
const countMatching = (pattern: RegExp) => fixedVersions.filter((version) => pattern.test(version)).length;
const distinctIds = new Map<string, number>();
for (const pair of pairs) distinctIds.set(pair.id, (distinctIds.get(pair.id) ?? 0) + 1);
const sortedSizes = packageSizes.map((entry) => entry.size).sort((a, b) => a - b);
const withoutLargest = packageSizes.filter((entry) => entry !== largest);

const csvText = readFileSync(join(dataDir, "echo/advisory_not_applicable.csv"), "utf8");
const csvRows = csvText
  .split(/\r?\n/)
  .slice(1)
  .filter((line) => line.trim() !== "")
  .map((line) => line.split(",").map((field) => field.replace(/^"|"$/g, "")));
const csvOnLargest = csvRows.filter((row) => row[1] === largest?.name);
const csvFixedKinds = tally(
  csvRows.map((row) => {
    const version = row[3] ?? "";
    if (version === "") return "empty";
    if (version === "1") return "every_version_1";
    if (/^\d+(\.\d+)?$/.test(version)) return "bare_upstream_number";
    return "debian_version";
  }),
);

const nvdDir = join(dataDir, "upstream/nvd");
const nvdRecords = readdirSync(nvdDir)
  .filter((name) => name.endsWith(".json"))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(nvdDir, name), "utf8")) as Record<string, unknown>);
const tagsOf = (record: Record<string, unknown>) =>
  ((record.cveTags as { tags: string[] }[] | undefined) ?? []).flatMap((entry) => entry.tags);
const descriptionDisputed = (record: Record<string, unknown>) =>
  ((record.descriptions as { lang: string; value: string }[] | undefined) ?? []).some(
    (description) => description.lang === "en" && /\*\*\s*DISPUTED\s*\*\*/.test(description.value),
  );

const tracker = JSON.parse(
  readFileSync(join(dataDir, "upstream/debian/tracker-excerpt.json"), "utf8"),
) as Record<
  string,
  Record<
    string,
    { releases: Record<string, { status: string; fixed_version?: string; urgency?: string }> | [] }
  >
>;
const trackerEntries = Object.values(tracker).flatMap((entries) => Object.values(entries));
const trackerReleases = trackerEntries.flatMap((entry) =>
  Array.isArray(entry.releases) ? [] : Object.values(entry.releases),
);

const report = {
  data_json: {
    packages: packageSizes.length,
    empty_packages: packageSizes.filter((entry) => entry.size === 0).length,
    advisories: pairs.length,
    open_advisories: pairs.filter((pair) => pair.fixed === "").length,
    temp_ids: pairs.filter((pair) => pair.id.startsWith("TEMP-")).length,
    distinct_vuln_ids: distinctIds.size,
    ids_in_more_than_one_package: [...distinctIds.values()].filter((count) => count > 1).length,
    largest_package: { advisories: largest?.size, open: largest?.open },
    other_packages: {
      advisories: withoutLargest.reduce((sum, entry) => sum + entry.size, 0),
      open: withoutLargest.reduce((sum, entry) => sum + entry.open, 0),
    },
    advisories_per_package_quantiles: quantiles(
      sortedSizes,
      [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 1],
    ),
    cve_years: tally(
      [...distinctIds.keys()].filter((id) => id.startsWith("CVE-")).map((id) => id.slice(4, 8)),
    ),
    packages_with_an_epoch: Object.values(vendor).filter((entries) =>
      Object.values(entries).some((entry) => /^\d+:/.test(entry.fixed_version ?? "")),
    ).length,
    fixed_versions: {
      total: fixedVersions.length,
      epoch: countMatching(/^\d+:/),
      no_revision: countMatching(/^[^-]*$/),
      non_maintainer_revision: countMatching(/-\d+\.\d+$/),
      dfsg_repack: countMatching(/\+dfsg/),
      ds_repack: countMatching(/\+ds/),
      stable_update_tilde: countMatching(/~deb\d+u\d+/),
      stable_update_plus: countMatching(/\+deb\d+u\d+/),
      echo_rebuild: countMatching(/[+-]e\d+$/),
    },
  },
  not_applicable_csv: {
    rows: csvRows.length,
    rows_on_largest_package: csvOnLargest.length,
    rows_whose_advisory_has_a_vendor_fixed_version: csvRows.filter(
      (row) => vendor[row[1] ?? ""]?.[row[0] ?? ""]?.fixed_version,
    ).length,
    internal_status: tally(csvRows.map((row) => row[4] ?? "")),
    fixed_version_kinds: csvFixedKinds,
    crlf: csvText.includes("\r\n"),
    header_quoted: csvText.startsWith('"cve_id"'),
  },
  nvd_sample: {
    records: nvdRecords.length,
    vuln_status: tally(nvdRecords.map((record) => String(record.vulnStatus))),
    without_cve_tags_field: nvdRecords.filter((record) => !("cveTags" in record)).length,
    tagged_disputed: nvdRecords.filter((record) => tagsOf(record).includes("disputed")).length,
    disputed_in_description_only: nvdRecords.filter(
      (record) => !tagsOf(record).includes("disputed") && descriptionDisputed(record),
    ).length,
    rejected: nvdRecords.filter((record) => record.vulnStatus === "Rejected").length,
    cvss_versions: tally(
      nvdRecords.map(
        (record) =>
          Object.keys((record.metrics as Record<string, unknown>) ?? {})
            .filter((key) => key.startsWith("cvss"))
            .sort()
            .join("+") || "none",
      ),
    ),
    with_spanish_description: nvdRecords.filter((record) =>
      ((record.descriptions as { lang: string }[]) ?? []).some((description) => description.lang === "es"),
    ).length,
    with_configurations: nvdRecords.filter((record) => "configurations" in record).length,
    with_weaknesses: nvdRecords.filter((record) => "weaknesses" in record).length,
  },
  tracker_excerpt: {
    entries: trackerEntries.length,
    entries_with_empty_releases: trackerEntries.filter((entry) => Array.isArray(entry.releases)).length,
    release_entries: trackerReleases.length,
    resolved_with_version: trackerReleases.filter(
      (release) => release.status === "resolved" && release.fixed_version !== "0",
    ).length,
    resolved_not_affected: trackerReleases.filter((release) => release.fixed_version === "0").length,
    open_end_of_life: trackerReleases.filter(
      (release) => release.status === "open" && release.urgency === "end-of-life",
    ).length,
    urgency_copied_from_nvd: trackerReleases.filter((release) => release.urgency?.endsWith("**")).length,
  },
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
