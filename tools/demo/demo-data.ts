/**
 * The mock data `npm run demo` feeds the pipeline, generated in code and written in the real formats: the
 * vendor's `data.json`, the research team's not-applicable CSV, the Debian Security Tracker's JSON and NVD
 * CVE records (file mode). It is small (30 packages) and deterministic: the same scenario step always gives
 * byte-identical files. Nothing here decides a state; it only sets up what each source says.
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

type TrackerRelease = Record<string, unknown>;
type TrackerDocument = Record<
  string,
  Record<string, { description: string; releases: Record<string, TrackerRelease> }>
>;

const repositoryVersion = "1.0-1";

/** One release entry in the tracker's shape (`repositories` names the version in that suite). */
function release(codename: string, fields: TrackerRelease): TrackerRelease {
  return { status: "open", repositories: { [codename]: repositoryVersion }, urgency: "medium", ...fields };
}

/** The same verdict in bookworm, trixie and sid, as the tracker usually has it. */
function allReleases(fields: (codename: string) => TrackerRelease): Record<string, TrackerRelease> {
  return Object.fromEntries(
    ["bookworm", "trixie", "sid"].map((codename) => [codename, release(codename, fields(codename))]),
  );
}

/** A later version for the releases after bookworm, so each release's fix is its own. */
function newerVersion(version: string): string {
  return version.replace(/\+deb12u\d+$/, "");
}

function addTrackerEntry(
  tracker: TrackerDocument,
  packageName: string,
  cveId: string,
  releases: Record<string, TrackerRelease>,
) {
  const entries = tracker[packageName] ?? {};
  entries[cveId] = { description: `Mock advisory ${cveId} in ${packageName}.`, releases };
  tracker[packageName] = entries;
}

type VendorData = Record<string, Record<string, { fixed_version?: string }>>;

function setVendorEntry(
  data: VendorData,
  packageName: string,
  cveId: string,
  entry: { fixed_version?: string },
) {
  const entries = data[packageName] ?? {};
  entries[cveId] = entry;
  data[packageName] = entries;
}

function nvdRecord(cveId: string, status: "Rejected"): string {
  return `${JSON.stringify(
    {
      id: cveId,
      sourceIdentifier: "cve@mitre.org",
      published: "2025-06-02T10:15:00.000",
      lastModified: "2026-02-20T12:00:00.000",
      vulnStatus: status,
      descriptions: [
        {
          lang: "en",
          value:
            "** REJECT ** This candidate was withdrawn by its CNA. Further investigation showed that it was not a security issue.",
        },
      ],
      references: [],
    },
    null,
    2,
  )}\n`;
}

/** A CSV field, quoted when it has to be. */
function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Every input file for one step of the scenario. */
export function demoFiles(step: DemoStep): DemoFiles {
  const advisories = generateAdvisories();
  const data: VendorData = {};
  const tracker: TrackerDocument = {};
  const csvRows: string[][] = [];
  const nvd: Record<string, string> = {};

  for (const advisory of advisories) {
    const { packageName, cveId, kind, version } = advisory;
    setVendorEntry(data, packageName, cveId, kind === "vendor_fixed" ? { fixed_version: version } : {});
    switch (kind) {
      case "vendor_fixed":
        // Debian agrees with the vendor on some of them.
        if (cveId.endsWith("7")) {
          addTrackerEntry(tracker, packageName, cveId, {
            bookworm: release("bookworm", { status: "resolved", fixed_version: version }),
          });
        }
        break;
      case "upstream_fixed":
        addTrackerEntry(
          tracker,
          packageName,
          cveId,
          allReleases((codename) => ({
            status: "resolved",
            fixed_version: codename === "bookworm" ? version : newerVersion(version),
          })),
        );
        break;
      case "pending":
        addTrackerEntry(
          tracker,
          packageName,
          cveId,
          allReleases(() => ({ status: "open" })),
        );
        break;
      case "wont_fix":
        addTrackerEntry(
          tracker,
          packageName,
          cveId,
          allReleases(() => ({
            status: "open",
            urgency: "low",
            nodsa: "Minor issue",
            nodsa_reason: "ignored",
          })),
        );
        break;
      case "not_affected":
        addTrackerEntry(
          tracker,
          packageName,
          cveId,
          allReleases(() => ({ status: "resolved", urgency: "unimportant", fixed_version: "0" })),
        );
        break;
      case "override":
        csvRows.push([
          cveId,
          packageName,
          "not_applicable",
          "",
          overrideReasons[csvRows.length % overrideReasons.length] as string,
        ]);
        break;
      case "rejected":
        nvd[`${cveId}.json`] = nvdRecord(cveId, "Rejected");
        break;
      case "silent":
        break;
    }
  }

  // The overridden subject: no vendor fix, Debian resolved it in every release.
  const overridden = demoSubjects.overridden;
  setVendorEntry(data, overridden.packageName, overridden.cveId, {});
  addTrackerEntry(
    tracker,
    overridden.packageName,
    overridden.cveId,
    allReleases((codename) => ({
      status: "resolved",
      fixed_version: codename === "bookworm" ? "2.9.14+dfsg-1.3~deb12u2" : "2.12.7+dfsg-3",
    })),
  );
  if (step.overrideRow) {
    csvRows.push([overridden.cveId, overridden.packageName, "not_applicable", "", overrideStatus]);
  }

  // The pending subject: Debian open everywhere, then fixed.
  const pending = demoSubjects.pending;
  setVendorEntry(data, pending.packageName, pending.cveId, {});
  addTrackerEntry(
    tracker,
    pending.packageName,
    pending.cveId,
    step.pendingFixed
      ? allReleases((codename) => ({
          status: "resolved",
          urgency: "high",
          fixed_version: codename === "bookworm" ? "3.0.17-1~deb12u3" : "3.5.2-1",
        }))
      : allReleases(() => ({ status: "open", urgency: "high" })),
  );

  const sortedData = Object.fromEntries(
    Object.keys(data)
      .sort()
      .map((packageName) => {
        const entries = data[packageName] ?? {};
        return [
          packageName,
          Object.fromEntries(
            Object.keys(entries)
              .sort()
              .map((id) => [id, entries[id]]),
          ),
        ];
      }),
  );
  const csv = [
    ["cve_id", "package", "status", "fixed_version", "internal_status"],
    ...csvRows.sort((a, b) => `${a[1]}:${a[0]}`.localeCompare(`${b[1]}:${b[0]}`)),
  ]
    .map((row) => row.map(csvField).join(","))
    .join("\n");

  return {
    "data.json": `${JSON.stringify(sortedData, null, 2)}\n`,
    "advisory_not_applicable.csv": `${csv}\n`,
    "debian_tracker.json": `${JSON.stringify(tracker, null, 2)}\n`,
    nvd,
  };
}
