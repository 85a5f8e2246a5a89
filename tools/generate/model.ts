import { NvdFlag } from "../synthetic/nvd.ts";
import {
  ADVISORIES_PER_PACKAGE_QUANTILES,
  CVE_YEARS,
  FIXED_SCENARIOS,
  FULL_UPSTREAM_SCALE,
  LARGEST_PACKAGE_ADVISORIES,
  LARGEST_PACKAGE_CSV_ROWS,
  NOT_APPLICABLE_SCENARIOS,
  NVD_DESCRIPTION_ONLY_DISPUTED,
  NVD_FULL_RECORDS,
  NVD_REJECTED_AMONG_OTHER_CVES,
  NVD_REJECTED_AMONG_VENDOR_CVES,
  NVD_TAGGED_DISPUTED,
  OPEN_SCENARIOS,
  OSV_FULL_RECORDS,
  OTHER_CVES_ON_VENDOR_PACKAGES,
  OTHER_CVES_WITH_DEBIAN_PACKAGE,
  OTHER_PACKAGES_ADVISORIES,
  OTHER_PACKAGES_CSV_ROWS,
  OTHER_PACKAGES_PER_VENDOR_PACKAGE,
  PACKAGE_NAME_PREFIXES,
  PACKAGE_NAMES_ENDING_IN_DIGIT,
  TEMP_ID_ADVISORIES,
  VENDOR_ADVISORIES,
  VENDOR_OPEN_ADVISORIES,
  VENDOR_PACKAGES,
} from "../synthetic/proportions.ts";
import { allocate, hashUnit, Random } from "../synthetic/random.ts";

/**
 * The dataset as compact arrays: which advisories exist, which CVE each names and what every source says
 * about it (a scenario code). The writers derive every detail (versions, texts, dates) from these and the
 * seed, one entity at a time, so nothing bigger than these arrays is ever held (about 10 bytes an
 * advisory: 10 MB at scale 25).
 *
 * Scale: scale 1 is the vendor's real size; upstream is full size at scale 25. Every advisory CVE is drawn
 * from one universe of NVD_FULL_RECORDS CVE ids (as the vendor's are drawn from NVD's), so at scale 25
 * NVD is whole; below, the CVEs the vendor lists are always kept and the others in proportion to the scale.
 */

export type StatusClass = "open" | "fixed" | "not_applicable";

type ScenarioName =
  | keyof typeof OPEN_SCENARIOS
  | keyof typeof FIXED_SCENARIOS
  | keyof typeof NOT_APPLICABLE_SCENARIOS;

export interface Scenario {
  statusClass: StatusClass;
  name: ScenarioName;
}

/** Every scenario, by code (the index stored per advisory). */
export const scenarios: readonly Scenario[] = [
  ...Object.keys(OPEN_SCENARIOS).map((name) => ({
    statusClass: "open" as const,
    name: name as ScenarioName,
  })),
  ...Object.keys(FIXED_SCENARIOS).map((name) => ({
    statusClass: "fixed" as const,
    name: name as ScenarioName,
  })),
  ...Object.keys(NOT_APPLICABLE_SCENARIOS).map((name) => ({
    statusClass: "not_applicable" as const,
    name: name as ScenarioName,
  })),
];

function scenarioCode(statusClass: StatusClass, name: string): number {
  return scenarios.findIndex((scenario) => scenario.statusClass === statusClass && scenario.name === name);
}

/** What upstream knows about a CVE the vendor does not list. */
export const OtherCve = { notIncluded: -1, notForUs: -2 } as const;

export interface DatasetModel {
  scale: number;
  seed: number;
  universe: CveUniverse;
  /** Package names: the vendor's first (0 … vendorPackages-1), then packages only Debian has. */
  packageNames: string[];
  vendorPackages: number;
  /** How many of the vendor's packages are kernel-like (the largest package's profile); they come first. */
  kernelPackages: number;
  /** The vendor packages' advisories are contiguous: package p holds advisoryStart[p] … advisoryStart[p+1]-1. */
  advisoryStart: Int32Array;
  /** Per advisory: the universe index of its CVE, or -(1 + n) for the n-th TEMP id. */
  advisoryVuln: Int32Array;
  advisoryPackage: Int32Array;
  advisoryScenario: Uint8Array;
  /** Per universe CVE: the vendor's advisories naming it, as a CSR index (cveAdvisoryStart has size+1 slots). */
  cveAdvisoryStart: Int32Array;
  cveAdvisories: Int32Array;
  /** Per universe CVE (NvdFlag). */
  nvdFlag: Uint8Array;
  /** Per universe CVE the vendor does not list: OtherCve, or the package Debian tracks it against. */
  otherCvePackage: Int32Array;
  /** Debian-wide advisories (DSA, DLA) to write as OSV records besides the DEBIAN-CVE ones. */
  osvAdvisoryRecords: number;
}

export const advisoryCount = (model: DatasetModel): number => model.advisoryVuln.length;
export const isVendorCve = (model: DatasetModel, cve: number): boolean =>
  (model.cveAdvisoryStart[cve + 1] as number) > (model.cveAdvisoryStart[cve] as number);

/**
 * The CVE id universe: NVD_FULL_RECORDS ids spread over the years as the vendor's CVEs are (measured),
 * numbered upwards within a year, so index order is id order. Independent of the scale; the seed moves
 * the numbers a little.
 */
export class CveUniverse {
  readonly size = NVD_FULL_RECORDS;
  private readonly yearStarts: { year: number; start: number }[] = [];
  private readonly seed: number;

  constructor(seed: number) {
    this.seed = seed;
    const perYear = allocate(this.size, CVE_YEARS);
    let start = 0;
    for (const year of Object.keys(CVE_YEARS).sort()) {
      this.yearStarts.push({ year: Number(year), start });
      start += perYear[year] ?? 0;
    }
  }

  /** The year whose block of ids holds `index` (the last start at or before it), by binary search. */
  private yearStartOf(index: number): { year: number; start: number } {
    let low = 0;
    let high = this.yearStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.yearStarts[middle] as { start: number }).start <= index) low = middle;
      else high = middle - 1;
    }
    return this.yearStarts[low] as { year: number; start: number };
  }

  yearOf(index: number): number {
    return this.yearStartOf(index).year;
  }

  idOf(index: number): string {
    const { year, start } = this.yearStartOf(index);
    // Two numbers per slot, one taken: ascending within the year, with gaps as real numbering has.
    const within = index - start;
    const number = 1000 + within * 2 + (hashUnit(this.seed, "cve-number", index) < 0.5 ? 0 : 1);
    return `CVE-${year}-${number}`;
  }
}

export function temporaryIdOf(seed: number, serial: number): string {
  // Debian's TEMP ids: seven digits (often a bug number) and six upper-case hex digits of a hash.
  const digits = String(Math.floor(hashUnit(seed, "temp-digits", serial) * 1_000_000) + serial * 7)
    .padStart(7, "0")
    .slice(-7);
  const hex = Math.floor(hashUnit(seed, "temp-hex", serial) * 0x1000000)
    .toString(16)
    .toUpperCase()
    .padStart(6, "0");
  return `TEMP-${digits}-${hex}`;
}

/** The advisory's vulnerability id (CVE or TEMP). */
export function vulnIdOf(model: DatasetModel, advisory: number): string {
  const vuln = model.advisoryVuln[advisory] as number;
  return vuln >= 0 ? model.universe.idOf(vuln) : temporaryIdOf(model.seed, -vuln - 1);
}

const consonants = ["b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "z"];
const vowels = ["a", "e", "i", "o", "u", "y"];
const endings = ["", "", "", "n", "r", "s", "x", "l", "m", "d", "t", "ng", "sh"];

/** Debian-looking source package names, unique, with the measured prefixes and version suffixes. */
function packageNames(seed: number, count: number, kernelPackages: number): string[] {
  const names: string[] = [];
  const taken = new Set<string>();
  for (let index = 0; index < kernelPackages; index += 1) {
    const name = index === 0 ? "linux" : `linux-${5 + Math.floor(index / 10)}.${index % 10}`;
    names.push(name);
    taken.add(name);
  }
  for (let index = kernelPackages; index < count; index += 1) {
    const random = Random.of(seed, "package-name", index);
    let name = "";
    for (let attempt = 0; name === "" || taken.has(name); attempt += 1) {
      const syllables = random.between(1, attempt > 3 ? 4 : 3);
      let stem = "";
      for (let syllable = 0; syllable < syllables; syllable += 1) {
        stem += random.pick(consonants) + random.pick(vowels);
      }
      stem += random.pick(endings);
      const prefix = random.weighted(PACKAGE_NAME_PREFIXES);
      const suffix = random.chance(PACKAGE_NAMES_ENDING_IN_DIGIT)
        ? random.chance(0.5)
          ? String(random.between(2, 5))
          : `${random.between(1, 3)}.${random.between(0, 12)}`
        : "";
      name = `${prefix}${stem}${suffix}`;
    }
    names.push(name);
    taken.add(name);
  }
  return names;
}

/** Advisories per package from the measured quantiles, interpolated on a log scale. */
function quantileSize(point: number): number {
  const table = ADVISORIES_PER_PACKAGE_QUANTILES;
  for (let index = 1; index < table.length; index += 1) {
    const [upper, upperSize] = table[index] as readonly [number, number];
    if (point <= upper) {
      const [lower, lowerSize] = table[index - 1] as readonly [number, number];
      if (lowerSize === 0) return point < upper ? 0 : upperSize;
      const fraction = (point - lower) / (upper - lower);
      return Math.exp(Math.log(lowerSize) + fraction * (Math.log(upperSize) - Math.log(lowerSize)));
    }
  }
  return (table.at(-1) as readonly [number, number])[1];
}

/** Splits `total` over items proportionally to `weights` (largest remainder), zero weights staying zero. */
function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((acc, weight) => acc + weight, 0);
  if (weights.length === 0) return [];
  if (sum <= 0) return weights.map((_, index) => (index === 0 ? total : 0));
  const exact = weights.map((weight) => (total * weight) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((acc, part) => acc + part, 0);
  const order = exact
    .map((value, index) => ({ index, remainder: value - Math.floor(value) }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (let index = 0; left > 0; index = (index + 1) % order.length, left -= 1) {
    const slot = (order[index] as { index: number }).index;
    parts[slot] = (parts[slot] as number) + 1;
  }
  return parts;
}

export interface ModelOptions {
  scale: number;
  seed: number;
}

export function buildModel({ scale, seed }: ModelOptions): DatasetModel {
  const universe = new CveUniverse(seed);
  const advisoriesTotal = Math.max(1, Math.round(VENDOR_ADVISORIES * scale));
  const vendorPackages = Math.max(1, Math.round(VENDOR_PACKAGES * scale));
  // One kernel-like package per whole unit of scale (the real vendor has one), at least one.
  const kernelPackages = Math.min(vendorPackages, Math.max(1, Math.round(scale)));
  const otherPackagesCount = vendorPackages - kernelPackages;
  const kernelAdvisories =
    otherPackagesCount === 0
      ? advisoriesTotal
      : Math.round((advisoriesTotal * LARGEST_PACKAGE_ADVISORIES) / VENDOR_ADVISORIES);
  const otherAdvisories = advisoriesTotal - kernelAdvisories;

  // Package sizes: the kernel-like ones share their part evenly; the others follow the measured
  // distribution by stratified quantiles (so even seven packages look like the real mix), in shuffled order.
  const random = Random.of(seed, "model");
  const quantilePoints = Array.from(
    { length: otherPackagesCount },
    (_, index) => (index + 0.5) / otherPackagesCount,
  );
  random.shuffle(quantilePoints);
  const otherSizes = apportion(otherAdvisories, quantilePoints.map(quantileSize));
  const sizes = [...apportion(kernelAdvisories, new Array(kernelPackages).fill(1)), ...otherSizes];
  const advisoryStart = new Int32Array(vendorPackages + 1);
  for (let p = 0; p < vendorPackages; p += 1) {
    advisoryStart[p + 1] = (advisoryStart[p] as number) + (sizes[p] as number);
  }
  const names = packageNames(
    seed,
    vendorPackages + Math.round(vendorPackages * OTHER_PACKAGES_PER_VENDOR_PACKAGE),
    kernelPackages,
  );

  // Which advisories are TEMP ids, then each package's CVEs, distinct within the package.
  const advisoryVuln = new Int32Array(advisoriesTotal);
  const advisoryPackage = new Int32Array(advisoriesTotal);
  const tempCount = Math.round((advisoriesTotal * TEMP_ID_ADVISORIES) / VENDOR_ADVISORIES);
  const isTemp = new Uint8Array(advisoriesTotal);
  const order = random.shuffle(Int32Array.from({ length: advisoriesTotal }, (_, index) => index));
  for (let index = 0; index < tempCount; index += 1) isTemp[order[index] as number] = 1;
  let tempSerial = 0;
  for (let p = 0; p < vendorPackages; p += 1) {
    const start = advisoryStart[p] as number;
    const end = advisoryStart[p + 1] as number;
    const packageRandom = Random.of(seed, "package-cves", p);
    const seen = new Set<number>();
    for (let advisory = start; advisory < end; advisory += 1) {
      advisoryPackage[advisory] = p;
      if (isTemp[advisory]) {
        advisoryVuln[advisory] = -1 - tempSerial;
        tempSerial += 1;
        continue;
      }
      let cve = packageRandom.int(universe.size);
      while (seen.has(cve)) cve = packageRandom.int(universe.size);
      seen.add(cve);
      advisoryVuln[advisory] = cve;
    }
  }

  // Status classes: no open advisory in the kernel-like packages (measured), then the scenarios.
  const advisoryScenario = new Uint8Array(advisoriesTotal);
  const kernelEnd = advisoryStart[kernelPackages] as number;
  const assignClasses = (from: number, to: number, openShare: number, csvShare: number) => {
    const members = random.shuffle(Int32Array.from({ length: to - from }, (_, index) => from + index));
    const counts = allocate(to - from, {
      open: openShare,
      not_applicable: csvShare,
      fixed: 1 - openShare - csvShare,
    });
    let cursor = 0;
    for (const [statusClass, table] of [
      ["open", OPEN_SCENARIOS],
      ["not_applicable", NOT_APPLICABLE_SCENARIOS],
      ["fixed", FIXED_SCENARIOS],
    ] as const) {
      const perScenario = allocate(counts[statusClass], table as Record<string, number>, true);
      for (const [name, count] of Object.entries(perScenario)) {
        const code = scenarioCode(statusClass, name);
        for (let index = 0; index < count; index += 1, cursor += 1) {
          advisoryScenario[members[cursor] as number] = code;
        }
      }
    }
  };
  assignClasses(0, kernelEnd, 0, LARGEST_PACKAGE_CSV_ROWS / LARGEST_PACKAGE_ADVISORIES);
  assignClasses(
    kernelEnd,
    advisoriesTotal,
    VENDOR_OPEN_ADVISORIES / OTHER_PACKAGES_ADVISORIES,
    OTHER_PACKAGES_CSV_ROWS / OTHER_PACKAGES_ADVISORIES,
  );

  // CVE → advisories (counting sort).
  const cveAdvisoryStart = new Int32Array(universe.size + 1);
  for (let advisory = 0; advisory < advisoriesTotal; advisory += 1) {
    const cve = advisoryVuln[advisory] as number;
    if (cve >= 0) cveAdvisoryStart[cve + 1] = (cveAdvisoryStart[cve + 1] as number) + 1;
  }
  for (let cve = 0; cve < universe.size; cve += 1) {
    cveAdvisoryStart[cve + 1] = (cveAdvisoryStart[cve + 1] as number) + (cveAdvisoryStart[cve] as number);
  }
  const cveAdvisories = new Int32Array(cveAdvisoryStart[universe.size] as number);
  const fill = cveAdvisoryStart.slice(0, universe.size);
  for (let advisory = 0; advisory < advisoriesTotal; advisory += 1) {
    const cve = advisoryVuln[advisory] as number;
    if (cve < 0) continue;
    cveAdvisories[fill[cve] as number] = advisory;
    fill[cve] = (fill[cve] as number) + 1;
  }

  // NVD verdicts: exact counts among the vendor's CVEs (so a tiny dataset still has each), by chance
  // among the others.
  const nvdFlag = new Uint8Array(universe.size);
  const vendorCves: number[] = [];
  for (let cve = 0; cve < universe.size; cve += 1) {
    if ((cveAdvisoryStart[cve + 1] as number) > (cveAdvisoryStart[cve] as number)) vendorCves.push(cve);
  }
  const vendorVerdicts = allocate(
    vendorCves.length,
    {
      rejected: NVD_REJECTED_AMONG_VENDOR_CVES,
      taggedDisputed: NVD_TAGGED_DISPUTED,
      descriptionDisputed: NVD_DESCRIPTION_ONLY_DISPUTED,
      plain: 1 - NVD_REJECTED_AMONG_VENDOR_CVES - NVD_TAGGED_DISPUTED - NVD_DESCRIPTION_ONLY_DISPUTED,
    },
    true,
  );
  random.shuffle(vendorCves);
  let cursor = 0;
  for (const verdict of ["rejected", "taggedDisputed", "descriptionDisputed"] as const) {
    for (let index = 0; index < vendorVerdicts[verdict]; index += 1, cursor += 1) {
      nvdFlag[vendorCves[cursor] as number] = NvdFlag[verdict];
    }
  }

  // The CVEs the vendor does not list: kept in proportion to the scale (all at full scale).
  const keepShare = Math.min(1, scale / FULL_UPSTREAM_SCALE);
  const otherCvePackage = new Int32Array(universe.size).fill(OtherCve.notIncluded);
  const otherPackageCount = names.length - vendorPackages;
  let debianCveRecords = 0;
  for (let cve = 0; cve < universe.size; cve += 1) {
    if ((cveAdvisoryStart[cve + 1] as number) > (cveAdvisoryStart[cve] as number)) {
      const start = cveAdvisoryStart[cve] as number;
      const end = cveAdvisoryStart[cve + 1] as number;
      for (let index = start; index < end; index += 1) {
        const scenario = scenarios[advisoryScenario[cveAdvisories[index] as number] as number] as Scenario;
        if (scenario.name !== "no_debian_signal") {
          debianCveRecords += 1;
          break;
        }
      }
      continue;
    }
    if (hashUnit(seed, "keep-cve", cve) >= keepShare) continue;
    debianCveRecords += 1;
    const draw = hashUnit(seed, "nvd-verdict", cve);
    if (draw < NVD_REJECTED_AMONG_OTHER_CVES) nvdFlag[cve] = NvdFlag.rejected;
    else if (draw < NVD_REJECTED_AMONG_OTHER_CVES + NVD_TAGGED_DISPUTED)
      nvdFlag[cve] = NvdFlag.taggedDisputed;
    const where = Random.of(seed, "other-cve", cve);
    if (!where.chance(OTHER_CVES_WITH_DEBIAN_PACKAGE)) {
      otherCvePackage[cve] = OtherCve.notForUs;
    } else if (otherPackageCount === 0 || where.chance(OTHER_CVES_ON_VENDOR_PACKAGES)) {
      // A pair data.json does not list, on one of the vendor's ordinary packages (the kernel-like ones
      // only when there is nothing else).
      const ordinary = vendorPackages - kernelPackages;
      otherCvePackage[cve] = ordinary > 0 ? kernelPackages + where.int(ordinary) : where.int(vendorPackages);
    } else {
      otherCvePackage[cve] = vendorPackages + where.int(otherPackageCount);
    }
  }

  // DSA/DLA records fill OSV up to its full size at scale 25, and keep their share below it.
  const osvTarget = Math.round((OSV_FULL_RECORDS * scale) / FULL_UPSTREAM_SCALE);
  const osvAdvisoryRecords = Math.max(
    osvTarget - debianCveRecords,
    Math.round(((OSV_FULL_RECORDS - NVD_FULL_RECORDS) * scale) / FULL_UPSTREAM_SCALE),
  );

  return {
    scale,
    seed,
    universe,
    packageNames: names,
    vendorPackages,
    kernelPackages,
    advisoryStart,
    advisoryVuln,
    advisoryPackage,
    advisoryScenario,
    cveAdvisoryStart,
    cveAdvisories,
    nvdFlag,
    otherCvePackage,
    osvAdvisoryRecords,
  };
}
