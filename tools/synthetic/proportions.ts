/**
 * The proportions the generator reproduces.
 *
 * MEASURED: counted by `node tools/synthetic/measure.ts` on the real snapshot in ../shared/data
 * (data/echo/data.json and advisory_not_applicable.csv, early 2026; the 170 NVD records in
 * data/upstream/nvd; the Debian tracker excerpt). Only the figures are kept here, never records.
 *
 * ASSUMED: what the shared data cannot tell (the tracker excerpt covers none of the vendor's packages, the
 * NVD sample holds no rejected record, there is one OSV record). Each says why its value was chosen; change
 * them here, nowhere else.
 */

// ---------------------------------------------------------------------------------------------------------
// data.json (MEASURED on data/echo/data.json)

/** Advisories (package/vulnerability pairs) at scale 1: the vendor's real size. */
export const VENDOR_ADVISORIES = 40_625;
/** Packages (keys of data.json) at scale 1. */
export const VENDOR_PACKAGES = 3_727;
/** Advisories without a fixed_version: 2,141 of 40,625, all outside the largest package. */
export const VENDOR_OPEN_ADVISORIES = 2_141;
/**
 * The largest package (the kernel) holds 10,323 of the 40,625 advisories, none of them open, and 1,858 of
 * the 1,969 not-applicable rows (fixed_version "1": "every version").
 */
export const LARGEST_PACKAGE_ADVISORIES = 10_323;
export const LARGEST_PACKAGE_CSV_ROWS = 1_858;
/** The other packages: 30,302 advisories, 2,141 open, 111 not-applicable rows. */
export const OTHER_PACKAGES_ADVISORIES = 30_302;
export const OTHER_PACKAGES_CSV_ROWS = 111;
/** Debian TEMP ids (TEMP-NNNNNNN-XXXXXX): 436 of 40,625 advisories. */
export const TEMP_ID_ADVISORIES = 436;
/** Distinct vulnerability ids: 37,791 for 40,625 advisories (2,208 ids appear in more than one package). */
export const DISTINCT_VULN_IDS = 37_791;
/** Packages listed with no advisory at all (`{}`): 371 of 3,727. */
export const EMPTY_PACKAGES = 371;
/** Packages whose versions carry an epoch: 249 of 3,727 (every version of such a package has one). */
export const PACKAGES_WITH_EPOCH = 249;

/**
 * Advisories per package, excluding the largest: quantiles of the measured distribution (the empty
 * packages are the bottom 10 %). Interpolated on a log scale between the points.
 */
export const ADVISORIES_PER_PACKAGE_QUANTILES: readonly (readonly [number, number])[] = [
  [0, 0],
  [0.0995, 0],
  [0.1, 1],
  [0.4, 1],
  [0.5, 2],
  [0.6, 2],
  [0.7, 3],
  [0.8, 6],
  [0.9, 13],
  [0.95, 27],
  [0.98, 57],
  [0.99, 108],
  [0.995, 191],
  [0.998, 425],
  [0.999, 658],
  [1, 1_946],
];

/** CVE years of the distinct CVE ids in data.json (2026 holds only January). */
export const CVE_YEARS: Readonly<Record<string, number>> = {
  "1999": 4,
  "2000": 5,
  "2001": 13,
  "2002": 123,
  "2003": 183,
  "2004": 310,
  "2005": 409,
  "2006": 465,
  "2007": 502,
  "2008": 515,
  "2009": 472,
  "2010": 476,
  "2011": 565,
  "2012": 731,
  "2013": 960,
  "2014": 1_090,
  "2015": 1_079,
  "2016": 1_730,
  "2017": 2_634,
  "2018": 2_091,
  "2019": 2_186,
  "2020": 2_269,
  "2021": 2_949,
  "2022": 4_590,
  "2023": 3_722,
  "2024": 3_963,
  "2025": 3_334,
  "2026": 3,
};

/** Shapes of the 38,484 fixed versions in data.json, as shares of them. */
export const FIXED_VERSION_SHAPES = {
  /** `-1.1` style non-maintainer revisions: 1,706. */
  nonMaintainerRevision: 1_706 / 38_484,
  /** Native packages, no Debian revision: 2,527. */
  noRevision: 2_527 / 38_484,
  /** `+dfsg` repacks: 3,416; `+ds`: 428. */
  dfsgRepack: 3_416 / 38_484,
  dsRepack: 428 / 38_484,
  /** Stable updates: `~debNNuM` 1,734, `+debNNuM` 1,435. */
  stableUpdateTilde: 1_734 / 38_484,
  stableUpdatePlus: 1_435 / 38_484,
  /** Echo's own rebuilds (`+eN` / `-eN`): 202. */
  echoRebuild: 202 / 38_484,
} as const;

/** Epochs of the 4,902 versions that have one. */
export const EPOCH_WEIGHTS: Readonly<Record<string, number>> = {
  "1": 2_585,
  "2": 961,
  "3": 57,
  "4": 296,
  "5": 58,
  "6": 9,
  "7": 351,
  "8": 585,
};

/** Dot-separated parts of the upstream version (1,2,3,4,5+ parts): 2,121 / 2,860 / 25,573 / 6,705 / 1,225. */
export const UPSTREAM_VERSION_PARTS: Readonly<Record<string, number>> = {
  "1": 2_121,
  "2": 2_860,
  "3": 25_573,
  "4": 6_705,
  "5": 1_225,
};

/** Package name prefixes among the 3,727 names (the rest are plain names). */
export const PACKAGE_NAME_PREFIXES: Readonly<Record<string, number>> = {
  lib: 437,
  "node-": 150,
  "rust-": 133,
  "python-": 122,
  "golang-": 97,
  "ruby-": 95,
  "php-": 53,
  "": 3_727 - 437 - 150 - 133 - 122 - 97 - 95 - 53,
};
/** Names ending in a version number (`libpng1.6`, `python3.11`): 319 of 3,727. */
export const PACKAGE_NAMES_ENDING_IN_DIGIT = 319 / 3_727;

// ---------------------------------------------------------------------------------------------------------
// The not-applicable CSV (MEASURED on data/echo/advisory_not_applicable.csv: 1,969 rows)

/**
 * Every row names an advisory that data.json lists WITH a fixed_version (1,969 of 1,969), and 1,967 carry
 * the very same version: the vendor publishes "unaffected from" that way.
 */
export const CSV_INTERNAL_STATUS: Readonly<Record<string, number>> = {
  code_not_in_use: 1_890,
  disputed: 58,
  code_not_released: 9,
  os_specific: 8,
  not_reproducible: 4,
};
/** fixed_version column: "1" 1,859 (the kernel's "every version"), a Debian version 105, a bare upstream number 5. */
export const CSV_FIXED_VERSION_KINDS = {
  everyVersion: 1_859,
  debianVersion: 105,
  bareUpstreamNumber: 5,
} as const;
/** The header's names are quoted, and so is every fixed_version; the other fields are not. LF line ends. */
export const CSV_QUOTED_HEADER = true;

// ---------------------------------------------------------------------------------------------------------
// NVD (MEASURED on the 170 records in data/upstream/nvd, a sample of the vendor's advisories)

export const NVD_VULN_STATUS: Readonly<Record<string, number>> = {
  Modified: 87,
  "Awaiting Analysis": 28,
  Analyzed: 24,
  Received: 19,
  Deferred: 6,
  "Undergoing Analysis": 6,
};
/** Tagged `disputed` in cveTags: 7 of 170; DISPUTED only in the description: 1 of 170. */
export const NVD_TAGGED_DISPUTED = 7 / 170;
export const NVD_DESCRIPTION_ONLY_DISPUTED = 1 / 170;
/** Older snapshots lack the cveTags field: 28 of 170. */
export const NVD_WITHOUT_CVE_TAGS = 28 / 170;
/** A Spanish description next to the English one: 118 of 170; configurations: 118; weaknesses: 155. */
export const NVD_WITH_SPANISH_DESCRIPTION = 118 / 170;
export const NVD_WITH_CONFIGURATIONS = 118 / 170;
export const NVD_WITH_WEAKNESSES = 155 / 170;
/** Which CVSS versions a record carries (counts of 170). */
export const NVD_CVSS_VERSIONS: Readonly<Record<string, number>> = {
  V31: 64,
  "V2+V31": 33,
  "V2+V30": 22,
  V2: 13,
  none: 13,
  "V2+V31+V40": 8,
  "V31+V40": 8,
  V40: 3,
  "V2+V30+V31": 3,
  V30: 2,
  "V30+V31": 1,
};

/**
 * ASSUMED: rejected CVEs. The sample has none (0 of 170, so below about 2 % among the vendor's CVEs); a
 * rejected CVE rarely stays listed, so 0.5 % of the vendor's CVEs. Across all of NVD about 4 % of CVE ids
 * are rejected (the NVD benchmark's synthetic server uses about 3 %).
 */
export const NVD_REJECTED_AMONG_VENDOR_CVES = 0.005;
export const NVD_REJECTED_AMONG_OTHER_CVES = 0.04;

// ---------------------------------------------------------------------------------------------------------
// Debian tracker excerpt (MEASURED on data/upstream/debian/tracker-excerpt.json; 6 entries, shape only)

/** 8 of 21 release entries carry an urgency copied from NVD (`medium**`); 1 of 6 entries has `releases: []`. */
export const TRACKER_URGENCY_FROM_NVD = 8 / 21;
export const TRACKER_EMPTY_RELEASES = 1 / 6;

// ---------------------------------------------------------------------------------------------------------
// Sizes (from the brief and ../shared/reference/upstream-sources.md)

/** Scale at which the upstream outputs are full size. */
export const FULL_UPSTREAM_SCALE = 25;
/** NVD holds about 340,000 CVE records (2026): the CVE universe every advisory CVE is drawn from. */
export const NVD_FULL_RECORDS = 340_000;
/** OSV's Debian all.zip at full size (the brief's figure; not measurable offline). */
export const OSV_FULL_RECORDS = 520_000;

// ---------------------------------------------------------------------------------------------------------
// What upstream says about the vendor's advisories (ASSUMED: the shared tracker excerpt and the single
// OSV record cover none of the vendor's packages, so these shares are judgement, chosen so that every
// rule and every kind of disagreement appears in a few percent of the advisories)

/** Open advisories (no vendor fix). */
export const OPEN_SCENARIOS = {
  /** Debian open in bookworm (fixed in sid or not): pending. */
  tracker_open: 0.2,
  /** Debian no-dsa "Minor issue" (open, empty reason). */
  tracker_minor_issue: 0.1,
  tracker_postponed: 0.12,
  tracker_ignored: 0.1,
  /** Security support ended for the package in that release (urgency end-of-life). */
  tracker_end_of_life: 0.05,
  /** Open with urgency unimportant: Debian will not fix it. */
  tracker_unimportant: 0.08,
  tracker_undetermined: 0.03,
  /** Debian fixed it; the vendor has not published the fix yet. */
  tracker_fixed: 0.12,
  /** Debian resolved it with version 0: not affected. */
  tracker_not_affected: 0.03,
  /** Conflict: Debian fixed it in bookworm, OSV's mirror still says unfixed. */
  tracker_fixed_osv_open: 0.04,
  /** Debian open, the OSV record withdrawn. */
  osv_withdrawn: 0.02,
  /** Only OSV knows it (no tracker entry): unfixed. */
  osv_only_open: 0.04,
  /** No Debian or OSV entry at all (NVD only, or nothing for a TEMP id). */
  no_debian_signal: 0.07,
} as const;

/** Advisories with a vendor fixed_version and no not-applicable row. */
export const FIXED_SCENARIOS = {
  /** Debian fixed it in the same version. */
  tracker_same_version: 0.62,
  /** Debian's fix is earlier than the vendor's (agrees). */
  tracker_earlier_version: 0.1,
  /** Debian knows only a later fix (dissents: still vulnerable at the vendor's version). */
  tracker_later_version: 0.04,
  /** Debian fixed it in sid and trixie only; bookworm still open. */
  tracker_bookworm_open: 0.05,
  tracker_not_affected: 0.03,
  /** Conflict: Debian and OSV name different fixed versions. */
  tracker_osv_disagree: 0.03,
  osv_withdrawn: 0.01,
  /** Echo fixed it; no Debian entry. */
  no_debian_signal: 0.12,
} as const;

/** Advisories the CSV marks not applicable (all have a vendor fixed_version, as measured). */
export const NOT_APPLICABLE_SCENARIOS = {
  /** Conflict: the analysts say not applicable, Debian fixed it in a version. */
  tracker_fixed: 0.45,
  tracker_not_affected: 0.25,
  tracker_open: 0.1,
  tracker_ignored: 0.05,
  no_debian_signal: 0.15,
} as const;

/** Share of CVEs not listed by the vendor that Debian tracks against a package (the others are NOT-FOR-US). */
export const OTHER_CVES_WITH_DEBIAN_PACKAGE = 0.6;
/** Of those, share tracked against one of the vendor's packages (pairs data.json does not list). */
export const OTHER_CVES_ON_VENDOR_PACKAGES = 0.15;
/** Packages in the tracker that the vendor does not ship, per vendor package. */
export const OTHER_PACKAGES_PER_VENDOR_PACKAGE = 1;
/** Debian-wide advisories (DSA for stable, DLA for LTS) among the OSV records that are not DEBIAN-CVE. */
export const OSV_ADVISORY_KINDS = { DSA: 0.6, DLA: 0.4 } as const;
/** OSV records withdrawn among the CVEs the vendor does not list (withdrawals of rejected CVEs). */
export const OSV_WITHDRAWN_AMONG_OTHER_CVES = 0.01;
