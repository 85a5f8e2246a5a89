import { type ReleaseState, type TrackerRelease, trackerRelease } from "../synthetic/debian-tracker.ts";
import {
  CSV_FIXED_VERSION_KINDS,
  CSV_INTERNAL_STATUS,
  EPOCH_WEIGHTS,
  FIXED_VERSION_SHAPES,
  PACKAGES_WITH_EPOCH,
  TRACKER_URGENCY_FROM_NVD,
  UPSTREAM_VERSION_PARTS,
  VENDOR_PACKAGES,
} from "../synthetic/proportions.ts";
import { Random } from "../synthetic/random.ts";
import { type DatasetModel, type Scenario, scenarios, vulnIdOf } from "./model.ts";

/**
 * What every source says about one advisory, derived from its scenario and the seed alone, so that the
 * data.json, CSV, tracker and OSV writers (each walking the data in its own order) agree.
 */

export interface OsvAffectedView {
  ecosystem: "Debian:11" | "Debian:12" | "Debian:13";
  /** The fixed event's version; null for an unfixed range. */
  fixed: string | null;
  urgency: string;
}

export interface AdvisoryView {
  advisory: number;
  packageName: string;
  vulnId: string;
  /** Universe index of the CVE; -1 for a TEMP id. */
  cve: number;
  scenario: Scenario;
  vendorFixed: string | null;
  csv: { fixedVersion: string; internalStatus: string } | null;
  /** Releases by codename; null when the tracker has no entry. */
  tracker: Record<string, TrackerRelease> | null;
  osv: { affected: OsvAffectedView[]; withdrawn: boolean } | null;
}

// --- versions ----------------------------------------------------------------------------------------

interface PackageProfile {
  epoch: string;
  parts: number;
  repack: string;
  native: boolean;
  baseMajor: number;
  growthPerYear: number;
}

export function packageProfile(seed: number, packageIndex: number): PackageProfile {
  const random = Random.of(seed, "package-profile", packageIndex);
  const repackDraw = random.next();
  return {
    epoch: random.chance(PACKAGES_WITH_EPOCH / VENDOR_PACKAGES) ? random.weighted(EPOCH_WEIGHTS) : "",
    parts: Number(random.weighted(UPSTREAM_VERSION_PARTS)),
    repack:
      repackDraw < FIXED_VERSION_SHAPES.dfsgRepack
        ? "+dfsg"
        : repackDraw < FIXED_VERSION_SHAPES.dfsgRepack + FIXED_VERSION_SHAPES.dsRepack
          ? "+ds"
          : "",
    native: random.chance(FIXED_VERSION_SHAPES.noRevision),
    baseMajor: random.between(0, 9),
    growthPerYear: random.pick([0, 0.05, 0.1, 0.2, 0.5, 1]),
  };
}

interface Version {
  epoch: string;
  upstream: number[];
  repack: string;
  revision: string;
  suffix: string;
}

export function formatVersion(version: Version): string {
  const epoch = version.epoch ? `${version.epoch}:` : "";
  const revision = version.revision ? `-${version.revision}${version.suffix}` : version.suffix;
  return `${epoch}${version.upstream.join(".")}${version.repack}${revision}`;
}

function baseVersion(profile: PackageProfile, year: number, random: Random): Version {
  const upstream = [profile.baseMajor + Math.floor(Math.max(0, year - 1999) * profile.growthPerYear)];
  for (let part = 1; part < profile.parts; part += 1) upstream.push(random.int(part === 1 ? 20 : 12));
  const nonMaintainer = FIXED_VERSION_SHAPES.nonMaintainerRevision / (1 - FIXED_VERSION_SHAPES.noRevision);
  const revision = profile.native
    ? ""
    : `${random.between(1, 5)}${random.chance(nonMaintainer) ? `.${random.between(1, 2)}` : ""}`;
  return { epoch: profile.epoch, upstream, repack: profile.repack, revision, suffix: "" };
}

function laterVersion(version: Version): Version {
  const upstream = [...version.upstream];
  upstream[upstream.length - 1] = (upstream.at(-1) as number) + 1;
  return { ...version, upstream, suffix: "" };
}

function earlierVersion(version: Version): Version {
  const upstream = [...version.upstream];
  for (let index = upstream.length - 1; index >= 0; index -= 1) {
    if ((upstream[index] as number) > 0) {
      upstream[index] = (upstream[index] as number) - 1;
      return { ...version, upstream, suffix: "" };
    }
  }
  // All zeros: a pre-release sorts before the release (`~` sorts before anything in dpkg).
  return { ...version, repack: `~rc1${version.repack}`, suffix: "" };
}

/** The vendor's version: Debian's, or a stable update of it, or Echo's own rebuild (measured shares). */
function vendorDecoration(version: Version, random: Random): Version {
  if (!version.revision) return version;
  const draw = random.next();
  const { stableUpdatePlus, stableUpdateTilde, echoRebuild } = FIXED_VERSION_SHAPES;
  if (draw < stableUpdatePlus) return { ...version, suffix: `+deb12u${random.between(1, 4)}` };
  if (draw < stableUpdatePlus + stableUpdateTilde) {
    return { ...version, suffix: `~deb${random.chance(0.9) ? 12 : 13}u${random.between(1, 2)}` };
  }
  if (draw < stableUpdatePlus + stableUpdateTilde + echoRebuild) {
    return { ...version, suffix: `+e${random.between(1, 3)}` };
  }
  return version;
}

// --- tracker verdicts --------------------------------------------------------------------------------

const urgencies = { "not yet assigned": 0.2, low: 0.3, medium: 0.3, high: 0.15, unimportant: 0.05 } as const;

function baseUrgency(random: Random): string {
  const urgency = random.weighted(urgencies);
  const rated = urgency === "low" || urgency === "medium" || urgency === "high";
  return rated && random.chance(TRACKER_URGENCY_FROM_NVD) ? `${urgency}**` : urgency;
}

/** The effective scenario: TEMP ids have no NVD or OSV record, so their OSV cases fall back to Debian's. */
function effectiveScenario(scenario: Scenario, isTemp: boolean): Scenario {
  if (!isTemp) return scenario;
  const fallback: Partial<Record<string, string>> = {
    tracker_fixed_osv_open: "tracker_fixed",
    osv_only_open: "tracker_open",
    tracker_osv_disagree: "tracker_same_version",
    osv_withdrawn: scenario.statusClass === "open" ? "tracker_open" : "tracker_same_version",
  };
  const name = fallback[scenario.name];
  if (!name) return scenario;
  return scenarios.find(
    (candidate) => candidate.statusClass === scenario.statusClass && candidate.name === name,
  ) as Scenario;
}

/** What Debian says per release (bookworm, trixie, sid) in each scenario. */
function debianStates(
  scenario: Scenario,
  versions: { bookworm: string; newer: string; later: string; earlier: string },
  random: Random,
): Record<"bookworm" | "trixie" | "sid", ReleaseState> | null {
  const fixed = (version: string): ReleaseState => ({ kind: "fixed", version });
  const open = (extra: Omit<Extract<ReleaseState, { kind: "open" }>, "kind"> = {}): ReleaseState => ({
    kind: "open",
    ...extra,
  });
  const sidFixedOrOpen = () => (random.chance(0.5) ? fixed(versions.newer) : open());
  switch (scenario.name) {
    case "tracker_open":
      return { bookworm: open(), trixie: open(), sid: sidFixedOrOpen() };
    case "tracker_minor_issue": {
      const minor = open({ nodsa: "Minor issue", reason: "" });
      return { bookworm: minor, trixie: minor, sid: open() };
    }
    case "tracker_postponed": {
      const postponed = open({ nodsa: "Minor issue, fix along with a future update", reason: "postponed" });
      return {
        bookworm: postponed,
        trixie: random.chance(0.5) ? postponed : fixed(versions.newer),
        sid: fixed(versions.newer),
      };
    }
    case "tracker_ignored": {
      const ignored = open({
        nodsa: random.pick(["Minor issue", "Intrusive to backport"]),
        reason: "ignored",
      });
      return { bookworm: ignored, trixie: ignored, sid: sidFixedOrOpen() };
    }
    case "tracker_end_of_life":
      return {
        bookworm: open({ urgency: "end-of-life" }),
        trixie: open({ urgency: "end-of-life" }),
        sid: open(),
      };
    case "tracker_unimportant": {
      const unimportant = open({ urgency: "unimportant" });
      return { bookworm: unimportant, trixie: unimportant, sid: unimportant };
    }
    case "tracker_undetermined":
      return {
        bookworm: { kind: "undetermined" },
        trixie: { kind: "undetermined" },
        sid: { kind: "undetermined" },
      };
    case "tracker_fixed":
    case "tracker_fixed_osv_open":
    case "tracker_same_version":
    case "tracker_osv_disagree":
    case "osv_withdrawn":
      if (scenario.name === "osv_withdrawn" && scenario.statusClass === "open") {
        return { bookworm: open(), trixie: open(), sid: open() };
      }
      return {
        bookworm: fixed(versions.bookworm),
        trixie: fixed(versions.newer),
        sid: fixed(versions.newer),
      };
    case "tracker_earlier_version":
      return {
        bookworm: fixed(versions.earlier),
        trixie: fixed(versions.earlier),
        sid: fixed(versions.earlier),
      };
    case "tracker_later_version":
      return { bookworm: fixed(versions.later), trixie: fixed(versions.later), sid: fixed(versions.later) };
    case "tracker_bookworm_open":
      return {
        bookworm: random.chance(0.5) ? open() : open({ nodsa: "Minor issue", reason: "postponed" }),
        trixie: fixed(versions.newer),
        sid: fixed(versions.newer),
      };
    case "tracker_not_affected":
      return {
        bookworm: { kind: "not_affected" },
        trixie: { kind: "not_affected" },
        sid: { kind: "not_affected" },
      };
    case "osv_only_open":
    case "no_debian_signal":
      return null;
  }
}

const osvEcosystemOf: Readonly<Record<string, OsvAffectedView["ecosystem"]>> = {
  bullseye: "Debian:11",
  bookworm: "Debian:12",
  trixie: "Debian:13",
};

/** OSV's DEBIAN-CVE mirror of the tracker: one affected entry per release, not-affected ones left out. */
function mirrorOfTracker(releases: Record<string, TrackerRelease>): OsvAffectedView[] {
  const affected: OsvAffectedView[] = [];
  for (const codename of ["bullseye", "bookworm", "trixie"]) {
    const release = releases[codename];
    const ecosystem = osvEcosystemOf[codename];
    if (!release || !ecosystem || release.fixed_version === "0") continue;
    affected.push({
      ecosystem,
      fixed: release.status === "resolved" ? (release.fixed_version ?? null) : null,
      urgency: release.urgency,
    });
  }
  return affected;
}

// --- the view ----------------------------------------------------------------------------------------

export function advisoryView(model: DatasetModel, advisory: number): AdvisoryView {
  const packageIndex = model.advisoryPackage[advisory] as number;
  const vuln = model.advisoryVuln[advisory] as number;
  const isTemp = vuln < 0;
  const year = isTemp ? 2015 + (advisory % 10) : model.universe.yearOf(vuln);
  const random = Random.of(model.seed, "advisory", advisory);
  const scenario = effectiveScenario(
    scenarios[model.advisoryScenario[advisory] as number] as Scenario,
    isTemp,
  );
  const profile = packageProfile(model.seed, packageIndex);
  const base = baseVersion(profile, year, random);
  const vendorVersion = vendorDecoration(base, random);
  const isKernel = packageIndex < model.kernelPackages;

  let vendorFixed: string | null = null;
  let csv: AdvisoryView["csv"] = null;
  if (scenario.statusClass === "fixed") vendorFixed = formatVersion(vendorVersion);
  if (scenario.statusClass === "not_applicable") {
    const internalStatus = random.weighted(CSV_INTERNAL_STATUS);
    if (isKernel) {
      // The kernel's rows say "1": every version is unaffected (measured: 1,858 rows), and data.json too.
      vendorFixed = "1";
      csv = { fixedVersion: "1", internalStatus };
    } else {
      vendorFixed = formatVersion(vendorVersion);
      const bare = random.chance(
        CSV_FIXED_VERSION_KINDS.bareUpstreamNumber /
          (CSV_FIXED_VERSION_KINDS.bareUpstreamNumber + CSV_FIXED_VERSION_KINDS.debianVersion),
      );
      csv = {
        fixedVersion: bare ? base.upstream.slice(0, 2).join(".") : vendorFixed,
        internalStatus,
      };
    }
  }

  const urgency = baseUrgency(random);
  // Debian's own fix: the vendor's version without Echo's rebuild suffix (stable updates are Debian's).
  const debianBookworm = vendorVersion.suffix.startsWith("+e") ? base : vendorVersion;
  const versions = {
    bookworm: formatVersion(debianBookworm),
    newer: formatVersion(base),
    later: formatVersion(laterVersion(base)),
    earlier: formatVersion(earlierVersion(base)),
  };
  const states = debianStates(scenario, versions, random);
  let tracker: AdvisoryView["tracker"] = null;
  if (states) {
    const releases: Record<string, TrackerRelease> = {};
    // Older releases appear too: bullseye (LTS) for about half the entries, buster (no longer supported,
    // end-of-life unless fixed long ago) for some. The pipeline reads only the configured ones.
    if (random.chance(0.5)) {
      const state = states.bookworm;
      releases.bullseye = trackerRelease(
        "bullseye",
        state.kind === "fixed" ? { kind: "fixed", version: `${versions.earlier}+deb11u1` } : state,
        urgency,
        versions.earlier,
      );
    }
    if (random.chance(0.15)) {
      releases.buster =
        states.sid.kind === "fixed" && year < 2019
          ? trackerRelease("buster", states.sid, urgency, versions.earlier)
          : trackerRelease("buster", { kind: "open", urgency: "end-of-life" }, urgency, versions.earlier);
    }
    releases.bookworm = trackerRelease("bookworm", states.bookworm, urgency, versions.earlier);
    releases.sid = trackerRelease("sid", states.sid, urgency, versions.later);
    releases.trixie = trackerRelease("trixie", states.trixie, urgency, versions.newer);
    tracker = Object.fromEntries(
      Object.keys(releases)
        .sort()
        .map((codename) => [codename, releases[codename] as TrackerRelease]),
    );
  }

  let osv: AdvisoryView["osv"] = null;
  if (!isTemp) {
    if (tracker) {
      let affected = mirrorOfTracker(tracker);
      if (scenario.name === "tracker_fixed_osv_open") {
        // The conflict: OSV's copy still says unfixed where Debian has a fix.
        affected = affected.map((entry) => ({ ...entry, fixed: null }));
      } else if (scenario.name === "tracker_osv_disagree") {
        affected = affected.map((entry) =>
          entry.ecosystem === "Debian:12" && entry.fixed !== null
            ? { ...entry, fixed: versions.later }
            : entry,
        );
      }
      osv = { affected, withdrawn: scenario.name === "osv_withdrawn" };
    } else if (scenario.name === "osv_only_open") {
      osv = {
        affected: [
          { ecosystem: "Debian:12", fixed: null, urgency },
          { ecosystem: "Debian:13", fixed: null, urgency },
        ],
        withdrawn: false,
      };
    }
  }

  return {
    advisory,
    packageName: model.packageNames[packageIndex] as string,
    vulnId: vulnIdOf(model, advisory),
    cve: isTemp ? -1 : vuln,
    scenario,
    vendorFixed,
    csv,
    tracker,
    osv,
  };
}

/**
 * A CVE the vendor does not list, tracked against `packageIndex`: mostly fixed, some open or not affected,
 * as Debian's own data for other packages.
 */
export function otherCveTracker(
  model: DatasetModel,
  cve: number,
  packageIndex: number,
): { tracker: Record<string, TrackerRelease> | []; osv: OsvAffectedView[] } {
  const random = Random.of(model.seed, "other-cve-view", cve);
  // Some entries have no release at all (`releases: []`), as for packages removed from Debian.
  if (packageIndex >= model.vendorPackages && random.chance(0.05)) return { tracker: [], osv: [] };
  const profile = packageProfile(model.seed, packageIndex);
  const year = model.universe.yearOf(cve);
  const base = baseVersion(profile, year, random);
  const urgency = baseUrgency(random);
  const version = formatVersion(base);
  const draw = random.next();
  const state: ReleaseState =
    draw < 0.75
      ? { kind: "fixed", version }
      : draw < 0.85
        ? { kind: "not_affected" }
        : draw < 0.95
          ? { kind: "open" }
          : { kind: "open", nodsa: "Minor issue", reason: "ignored" };
  const current = formatVersion(earlierVersion(base));
  const releases: Record<string, TrackerRelease> = {
    bookworm: trackerRelease("bookworm", state, urgency, current),
    sid: trackerRelease("sid", state, urgency, current),
    trixie: trackerRelease("trixie", state, urgency, current),
  };
  return { tracker: releases, osv: mirrorOfTracker(releases) };
}
