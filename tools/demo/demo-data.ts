import {
  type ReleaseState,
  type TrackerEntry,
  TrackerJsonWriter,
  type TrackerRelease,
  trackerEntry,
  trackerRelease,
} from "../synthetic/debian-tracker.ts";
import { DataJsonWriter, NotApplicableCsvWriter, type NotApplicableRow } from "../synthetic/echo-data.ts";
import { NvdFlag, nvdRecordInYear } from "../synthetic/nvd.ts";
import { StringSink } from "../synthetic/sinks.ts";

/**
 * The mock data `npm run demo` feeds the pipeline, written in the real formats by the synthetic-data
 * library (tools/synthetic): the vendor's `data.json`, the research team's not-applicable CSV, the Debian
 * Security Tracker's JSON and NVD CVE records (file mode). It is small (30 packages) and deterministic: the
 * same scenario step always gives byte-identical files. Nothing here decides a state; it only sets up what
 * each source says.
 */

/** The package/CVE pairs the scenario is about. */
export const demoSubjects = {
  /** Debian has a fix; the analysts override it as not applicable in run 2 and withdraw that in run 4. */
  overridden: { packageName: "libxml2", cveId: "CVE-2025-40101" },
  /** Debian lists it open; Debian publishes a fix in run 3. */
  pending: { packageName: "openssl", cveId: "CVE-2025-40202" },
} as const;

export const advisoryIdOf = (subject: { packageName: string; cveId: string }): string =>
  `${subject.packageName}:${subject.cveId}`;

/** The override row the analysts add in run 2 (an internal_status from override_reasons.csv). */
const overrideStatus = "code_not_in_use";

/** Which inputs differ between the demo's runs. */
export interface DemoStep {
  /** The analysts' not-applicable row for the overridden subject is in the CSV. */
  overrideRow: boolean;
  /** Debian has published a fix for the pending subject. */
  pendingFixed: boolean;
}

export interface DemoFiles {
  "data.json": string;
  "advisory_not_applicable.csv": string;
  "debian_tracker.json": string;
  /** NVD CVE records, one file each, by file name. */
  nvd: Record<string, string>;
}

/** What the sources say about one generated advisory (the subjects are set separately). */
type Kind =
  | "vendor_fixed"
  | "upstream_fixed"
  | "pending"
  | "wont_fix"
  | "not_affected"
  | "override"
  | "rejected"
  | "silent";

/** Cycled over the generated advisories: most are fixed, every other kind appears a few times. */
const kindCycle: readonly Kind[] = [
  "vendor_fixed",
  "upstream_fixed",
  "vendor_fixed",
  "pending",
  "silent",
  "not_affected",
  "vendor_fixed",
  "override",
  "wont_fix",
  "vendor_fixed",
  "upstream_fixed",
  "rejected",
  "silent",
];

const packages: readonly string[] = [
  "apr-util",
  "bash",
  "binutils",
  "busybox",
  "bzip2",
  "coreutils",
  "curl",
  "dpkg",
  "expat",
  "gdk-pixbuf",
  "git",
  "glib2.0",
  "glibc",
  "gnutls28",
  "gzip",
  "krb5",
  "libpng1.6",
  "libssh",
  "libxml2",
  "libxslt",
  "nghttp2",
  "nginx",
  "openldap",
  "openssh",
  "openssl",
  "perl",
  "python3.11",
  "sqlite3",
  "tar",
  "zlib",
];

const overrideReasons = ["code_not_in_use", "code_not_released", "os_specific", "disputed"] as const;

interface Generated {
  packageName: string;
  cveId: string;
  kind: Kind;
  /** A version for the fixed kinds, made up but valid for dpkg. */
  version: string;
}

/** Two or three advisories a package, ids and versions derived from the positions: no randomness. */
function generateAdvisories(): Generated[] {
  const advisories: Generated[] = [];
  let serial = 0;
  packages.forEach((packageName, packageIndex) => {
    const count = 2 + (packageIndex % 2);
    for (let index = 0; index < count; index += 1) {
      const kind = kindCycle[serial % kindCycle.length] as Kind;
      const year = 2023 + (serial % 3);
      advisories.push({
        packageName,
        cveId: `CVE-${year}-${String(31000 + serial * 137).padStart(5, "0")}`,
        kind,
        version: `${1 + (packageIndex % 5)}.${packageIndex % 12}.${index + 1}-${1 + (serial % 3)}+deb12u${1 + (serial % 2)}`,
      });
      serial += 1;
    }
  });
  return advisories;
}

/** The seed of the NVD records' streams. */
const demoSeed = 1;
/** The version every suite has, where a release entry names none of its own. */
const repositoryVersion = "1.0-1";

/** The same verdict in bookworm, trixie and sid, as the tracker usually has it. */
function allReleases(
  state: (codename: string) => ReleaseState,
  urgency = "medium",
): Record<string, TrackerRelease> {
  return Object.fromEntries(
    ["bookworm", "trixie", "sid"].map((codename) => [
      codename,
      trackerRelease(codename, state(codename), urgency, repositoryVersion),
    ]),
  );
}

/** What Debian says, in bookworm, trixie and sid alike, about the kinds it has no fix for. */
const sameInEveryRelease: Readonly<Record<"pending" | "wont_fix" | "not_affected", ReleaseState>> = {
  pending: { kind: "open" },
  wont_fix: { kind: "open", urgency: "low", nodsa: "Minor issue", reason: "ignored" },
  not_affected: { kind: "not_affected" },
};

/** A later version for the releases after bookworm, so each release's fix is its own. */
function newerVersion(version: string): string {
  return version.replace(/\+deb12u\d+$/, "");
}

/** What the sources say, by package: the vendor's advisories and the tracker's entries. */
class Sources {
  readonly vendor = new Map<string, Map<string, string | null>>();
  readonly tracker = new Map<string, [string, TrackerEntry][]>();

  setVendor(packageName: string, cveId: string, fixedVersion: string | null): void {
    const entries = this.vendor.get(packageName) ?? new Map<string, string | null>();
    entries.set(cveId, fixedVersion);
    this.vendor.set(packageName, entries);
  }

  addTracker(packageName: string, cveId: string, releases: Record<string, TrackerRelease>): void {
    const entries = this.tracker.get(packageName) ?? [];
    entries.push([
      cveId,
      trackerEntry({ description: `Mock advisory ${cveId} in ${packageName}.` }, releases),
    ]);
    this.tracker.set(packageName, entries);
  }
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every input file for one step of the scenario. */
export function demoFiles(step: DemoStep): DemoFiles {
  const advisories = generateAdvisories();
  const sources = new Sources();
  const csvRows: NotApplicableRow[] = [];
  const nvd: Record<string, string> = {};

  advisories.forEach((advisory, serial) => {
    const { packageName, cveId, kind, version } = advisory;
    sources.setVendor(packageName, cveId, kind === "vendor_fixed" ? version : null);
    switch (kind) {
      case "vendor_fixed":
        // Debian agrees with the vendor on some of them.
        if (cveId.endsWith("7")) {
          sources.addTracker(packageName, cveId, {
            bookworm: trackerRelease("bookworm", { kind: "fixed", version }, "medium", repositoryVersion),
          });
        }
        break;
      case "upstream_fixed":
        sources.addTracker(
          packageName,
          cveId,
          allReleases((codename) => ({
            kind: "fixed",
            version: codename === "bookworm" ? version : newerVersion(version),
          })),
        );
        break;
      case "pending":
      case "wont_fix":
      case "not_affected": {
        const state = sameInEveryRelease[kind];
        sources.addTracker(
          packageName,
          cveId,
          allReleases(() => state),
        );
        break;
      }
      case "override":
        csvRows.push({
          vulnId: cveId,
          packageName,
          fixedVersion: "",
          internalStatus: overrideReasons[csvRows.length % overrideReasons.length] as string,
        });
        break;
      case "rejected": {
        const record = nvdRecordInYear(demoSeed, serial, cveId, Number(cveId.slice(4, 8)), NvdFlag.rejected);
        nvd[`${cveId}.json`] = `${JSON.stringify(record)}\n`;
        break;
      }
      case "silent":
        break;
    }
  });

  // The overridden subject: no vendor fix, Debian resolved it in every release.
  const overridden = demoSubjects.overridden;
  sources.setVendor(overridden.packageName, overridden.cveId, null);
  sources.addTracker(
    overridden.packageName,
    overridden.cveId,
    allReleases((codename) => ({
      kind: "fixed",
      version: codename === "bookworm" ? "2.9.14+dfsg-1.3~deb12u2" : "2.12.7+dfsg-3",
    })),
  );
  if (step.overrideRow) {
    csvRows.push({
      vulnId: overridden.cveId,
      packageName: overridden.packageName,
      fixedVersion: "",
      internalStatus: overrideStatus,
    });
  }

  // The pending subject: Debian open everywhere, then fixed.
  const pending = demoSubjects.pending;
  sources.setVendor(pending.packageName, pending.cveId, null);
  sources.addTracker(
    pending.packageName,
    pending.cveId,
    step.pendingFixed
      ? allReleases(
          (codename) => ({
            kind: "fixed",
            version: codename === "bookworm" ? "3.0.17-1~deb12u3" : "3.5.2-1",
          }),
          "high",
        )
      : allReleases(() => ({ kind: "open" }), "high"),
  );

  const dataJson = new StringSink();
  const vendorData = new DataJsonWriter(dataJson);
  for (const packageName of [...sources.vendor.keys()].sort(byName)) {
    const entries = sources.vendor.get(packageName) ?? new Map<string, string | null>();
    vendorData.package(
      packageName,
      [...entries].map(([vulnId, fixedVersion]) => ({ vulnId, fixedVersion })),
    );
  }
  vendorData.close();
  const tracker = new StringSink();
  const trackerJson = new TrackerJsonWriter(tracker);
  for (const packageName of [...sources.tracker.keys()].sort(byName)) {
    trackerJson.package(packageName, sources.tracker.get(packageName) ?? []);
  }
  trackerJson.close();
  const csv = new StringSink();
  const notApplicable = new NotApplicableCsvWriter(csv);
  const rowKey = (row: NotApplicableRow) => `${row.packageName}:${row.vulnId}`;
  for (const row of csvRows.sort((a, b) => rowKey(a).localeCompare(rowKey(b)))) notApplicable.row(row);

  return {
    "data.json": dataJson.text(),
    "advisory_not_applicable.csv": csv.text(),
    "debian_tracker.json": tracker.text(),
    nvd,
  };
}
