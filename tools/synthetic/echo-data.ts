import { byCodeUnits } from "./debian-tracker.ts";
import { CSV_QUOTED_HEADER } from "./proportions.ts";
import type { TextSink } from "./sinks.ts";

/**
 * The vendor's two files: data.json (`{ package: { vuln_id: { fixed_version? } } }`, compact as
 * published) and the research team's not-applicable CSV (the overrides), with the measured quoting:
 * header and fixed_version quoted, LF line ends. Both are written package by package in name order.
 */

const csvColumns = ["cve_id", "package", "status", "fixed_version", "internal_status"] as const;

function csvQuoted(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/** A field the real file leaves bare, quoted only when it has to be. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? csvQuoted(value) : value;
}

export class DataJsonWriter {
  private readonly sink: TextSink;
  packages = 0;
  advisories = 0;

  constructor(sink: TextSink) {
    this.sink = sink;
    sink.write("{");
  }

  /** One package's advisories (a null fixed version is an open advisory, `{}`), in id order. */
  package(name: string, entries: { vulnId: string; fixedVersion: string | null }[]): void {
    const sorted = [...entries].sort((a, b) => byCodeUnits(a.vulnId, b.vulnId));
    const body = sorted.map(
      (entry) =>
        `${JSON.stringify(entry.vulnId)}:${JSON.stringify(entry.fixedVersion === null ? {} : { fixed_version: entry.fixedVersion })}`,
    );
    this.sink.write(`${this.packages > 0 ? "," : ""}${JSON.stringify(name)}:{${body.join(",")}}`);
    this.packages += 1;
    this.advisories += sorted.length;
  }

  close(): void {
    this.sink.write("}\n");
  }
}

export interface NotApplicableRow {
  vulnId: string;
  packageName: string;
  fixedVersion: string;
  internalStatus: string;
}

export class NotApplicableCsvWriter {
  private readonly sink: TextSink;
  rows = 0;

  constructor(sink: TextSink) {
    this.sink = sink;
    sink.write(`${csvColumns.map((name) => (CSV_QUOTED_HEADER ? csvQuoted(name) : name)).join(",")}\n`);
  }

  row(row: NotApplicableRow): void {
    this.sink.write(
      `${csvField(row.vulnId)},${csvField(row.packageName)},not_applicable,${csvQuoted(row.fixedVersion)},${csvField(row.internalStatus)}\n`,
    );
    this.rows += 1;
  }
}
