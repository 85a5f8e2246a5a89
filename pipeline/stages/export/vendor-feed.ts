import type { Database } from "../../lib/db.ts";

interface VendorFeedRow {
  package_name: string;
  vuln_id: string;
  published_fixed_version: string | null;
  severity: string | null;
  extra_fields: string | null;
}

/** One entry of data.json: the vendor's fields, with fixed_version as decided. */
type VendorEntry = Record<string, unknown>;

/**
 * data.json rewritten from the decisions (marts.mart_vendor_data_feed), in the vendor's published shape
 * `{package: {vulnerability: {fixed_version?, …}}}`: every package/CVE of the input, the vendor's other
 * fields unchanged, no new fields, so scanners that read data.json keep working. Sorted by package and
 * vulnerability id (byte order), one package per line so that it diffs by package; written a package at a
 * time.
 */
export async function* vendorFeedText(db: Database): AsyncGenerator<string> {
  const chunks = db.stream<VendorFeedRow>(
    `select package_name, vuln_id, published_fixed_version, severity, extra_fields
     from marts.mart_vendor_data_feed
     order by package_name, vuln_id`,
  );
  yield "{\n";
  let packageName: string | undefined;
  let body = "";
  let written = 0;
  const packageLine = () => `${written === 0 ? "" : ",\n"}${JSON.stringify(packageName)}:{${body}}`;
  for await (const rows of chunks) {
    let text = "";
    for (const row of rows) {
      if (row.package_name !== packageName) {
        if (packageName !== undefined) {
          text += packageLine();
          written += 1;
        }
        packageName = row.package_name;
        body = "";
      }
      body += `${body === "" ? "" : ","}${JSON.stringify(row.vuln_id)}:${JSON.stringify(vendorEntry(row))}`;
    }
    yield text;
  }
  yield `${packageName === undefined ? "" : packageLine()}\n}\n`;
}

function vendorEntry(row: VendorFeedRow): VendorEntry {
  const entry: VendorEntry = {};
  if (row.published_fixed_version !== null) entry.fixed_version = row.published_fixed_version;
  if (row.severity !== null) entry.severity = row.severity;
  if (row.extra_fields !== null) Object.assign(entry, JSON.parse(row.extra_fields) as VendorEntry);
  return entry;
}
