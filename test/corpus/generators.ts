import { osvRecord } from "../../tools/synthetic/osv.ts";
import { buildZip, type ZipEntrySpec } from "../../tools/synthetic/zip.ts";

/*
 * Corpus inputs too large (or too binary) to check in: cases.yaml names them by `generator` (a file) or
 * `zip` (an OSV all.zip, as a list of entries so that the full run can put every hostile entry into one
 * archive). Each is built the same way every time.
 */

const tenMegabytes = 10 * 1024 * 1024;

/** Arrays nested this deep overflow a recursive walk (JSON.stringify gives up near 8,000). */
const absurdDepth = 100_000;

function deeplyNested(depth = absurdDepth): string {
  return `${"[".repeat(depth)}${"]".repeat(depth)}`;
}

/** A plain Debian record fixing curl in Debian:12: what the archive cases hide behind a hostile entry. */
const curlFixedIn = (fixed: string) => [{ name: "curl", ecosystem: "Debian:12", fixed }];
const modified = "2026-01-01T00:00:00Z";

export const fileGenerators: Record<string, () => Buffer> = {
  "data-json-ten-megabyte-string": () =>
    Buffer.from(
      JSON.stringify({ "corpus-huge-string": { "CVE-2025-10091": { severity: "A".repeat(tenMegabytes) } } }),
    ),
  "data-json-ten-megabyte-package-name": () =>
    Buffer.from(JSON.stringify({ [`corpus-${"a".repeat(tenMegabytes)}`]: { "CVE-2025-10092": {} } })),
  "data-json-deep-nesting": () =>
    Buffer.from(
      `{"corpus-deep": {"CVE-2025-10093": {"fixed_version": "1.0-1", "notes": ${deeplyNested()}}}}`,
    ),
  "csv-ten-megabyte-field": () =>
    Buffer.from(
      `cve_id,package,status,fixed_version,internal_status\nCVE-2025-20061,corpus-huge,not_applicable,,${"a".repeat(tenMegabytes)}\n`,
    ),
  // The YAML parser gives up far sooner, and takes seconds to reach 100,000 levels.
  "config-deep-nesting": () =>
    Buffer.from(
      `sources:\n  echo_data:\n    location: input/data.json\n  echo_csv:\n    location: input/na.csv\nreport: ${deeplyNested(10_000)}\n`,
    ),
  "tracker-deep-nesting": () =>
    Buffer.from(
      `{"curl": {"CVE-2025-30051": {"releases": {"bookworm": {"status": "open", "notes": ${deeplyNested()}}}}}}`,
    ),
  "osv-deep-nesting": () =>
    Buffer.from(
      `{"id": "DEBIAN-CVE-2025-40011", "modified": "2026-01-01T00:00:00Z", "database_specific": ${deeplyNested()}, "affected": []}`,
    ),
  "nvd-deep-nesting": () =>
    Buffer.from(
      `{"id": "CVE-2023-38545", "vulnStatus": "Analyzed", "lastModified": "2026-01-01T00:00:00.000", "configurations": ${deeplyNested()}}`,
    ),
  /** A real archive cut in half, as an interrupted download leaves it. */
  "osv-zip-truncated": () => {
    const whole = buildZip([
      {
        name: "DEBIAN-CVE-2025-40021.json",
        data: JSON.stringify(
          osvRecord({ id: "DEBIAN-CVE-2025-40021", modified, affected: curlFixedIn("1.0-1") }),
        ),
      },
    ]);
    return whole.subarray(0, Math.floor(whole.length / 2));
  },
};

export const zipGenerators: Record<string, () => ZipEntrySpec[]> = {
  "entry-climbs-out": () => [
    {
      name: "../../../etc/cron.d/DEBIAN-CVE-2025-40031.json",
      data: JSON.stringify(
        osvRecord({ id: "DEBIAN-CVE-2025-40031", modified, affected: curlFixedIn("1.0-1") }),
      ),
    },
  ],
  "entry-absolute-path": () => [
    {
      name: "/etc/cron.d/DEBIAN-CVE-2025-40032.json",
      data: JSON.stringify(
        osvRecord({ id: "DEBIAN-CVE-2025-40032", modified, affected: curlFixedIn("1.0-1") }),
      ),
    },
  ],
  "entry-backslash-path": () => [
    {
      name: "..\\..\\windows\\DEBIAN-CVE-2025-40033.json",
      data: JSON.stringify(
        osvRecord({ id: "DEBIAN-CVE-2025-40033", modified, affected: curlFixedIn("1.0-1") }),
      ),
    },
  ],
  /** 15 MiB of zeros deflate to about 15 KiB: refused from its headers, before a byte is inflated. */
  "decompression-bomb": () => [{ name: "DEBIAN-CVE-2025-40034.json", data: Buffer.alloc(15 * 1024 * 1024) }],
  /** Headers claiming 1 KB for 20 MiB of zeros: caught while inflating, never held whole. */
  "bomb-understating-its-size": () => [
    { name: "DEBIAN-CVE-2025-40035.json", data: Buffer.alloc(20 * 1024 * 1024), declaredSize: 1024 },
  ],
  /** Headers claiming nearly 4 GiB for a few bytes. */
  "entry-declaring-four-gigabytes": () => [
    { name: "DEBIAN-CVE-2025-40036.json", data: "{}", declaredSize: 0xfffffffe },
  ],
  "entry-not-json": () => [
    { name: "DEBIAN-CVE-2025-40037.json", data: "<html><body>Service Unavailable</body></html>" },
  ],
  "entry-hostile-fixed-version": () => [
    {
      name: "DEBIAN-CVE-2025-40038.json",
      data: JSON.stringify(
        osvRecord({ id: "DEBIAN-CVE-2025-40038", modified, affected: curlFixedIn("1.0-1\u0000<script>") }),
      ),
    },
  ],
};
