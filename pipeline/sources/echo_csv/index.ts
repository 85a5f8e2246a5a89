import { parse } from "csv-parse/sync";
import { z } from "zod";
import { errorMessage, PipelineError } from "../../lib/errors.ts";
import type { HttpClient } from "../http/client.ts";
import { decodeUtf8, readInput } from "../read-input.ts";
import {
  debianPackagePattern,
  debianVersionPattern,
  defineAdapter,
  excerpt,
  type FetchItem,
  type LandingTable,
  type LandingValue,
  type SourceAdapter,
  tooLong,
  vulnerabilityIdPattern,
} from "../types.ts";
import { readOverrideReasonCodes, unknownReasonCode } from "./reasons.ts";

/**
 * The research team's not-applicable feed: `cve_id,package,status,fixed_version,internal_status`.
 * A live table: rows come and go between runs, so each run's file is a full snapshot.
 */
export const requiredColumns = ["cve_id", "package", "status", "fixed_version", "internal_status"] as const;
export const allowedStatuses = ["not_applicable"] as const;

export const notApplicableObservation = z.object({
  line_number: z.number().int().positive(),
  cve_id: z.string(),
  package_name: z.string(),
  status: z.enum(allowedStatuses),
  fixed_version: z.string().nullable(),
  internal_status: z.string(),
});
export type NotApplicableObservation = z.infer<typeof notApplicableObservation>;

/**
 * Five short fields fit in far less; csv-parse takes seconds over a line of megabytes, so a longer line is
 * rejected before it is parsed.
 */
const maxLineLength = 4096;

function parseLine(line: string): string[] {
  const [record] = parse(line, { relax_quotes: false, trim: true }) as string[][];
  return record ?? [];
}

/**
 * `reasonCodes` are the internal_status codes of the override_reasons seed (readOverrideReasonCodes): a row
 * with another code is rejected, never landed, so it decides nothing.
 */
export function* parseNotApplicableCsv(
  text: string,
  file: string,
  reasonCodes: readonly string[],
): Generator<FetchItem<NotApplicableObservation>> {
  // One physical line is one record in this feed; parsing lines one by one keeps a bad quote from
  // swallowing the rows after it. A lone CR ends a line too (old Mac exports): left inside a line, the CSV
  // parser would take it as a record end and silently drop the rest of the line.
  const lines = text.split(/\r\n|\r|\n/);
  const headerIndex = lines.findIndex((line) => line.trim() !== "");
  if (headerIndex === -1) {
    throw new PipelineError("the file is empty: expected a header line", {
      location: { file, line: 1 },
      hint: `the header is ${requiredColumns.join(",")}`,
    });
  }
  const headerLine = lines[headerIndex] ?? "";
  if (headerLine.length > maxLineLength) {
    throw new PipelineError(
      `the header line is ${headerLine.length} characters long, more than the ${maxLineLength} allowed`,
      { location: { file, line: headerIndex + 1 }, hint: `the header is ${requiredColumns.join(",")}` },
    );
  }
  let header: string[];
  try {
    header = parseLine(headerLine).map((name) => name.toLowerCase());
  } catch (error) {
    throw new PipelineError(`the header line cannot be read: ${errorMessage(error)}`, {
      location: { file, line: headerIndex + 1 },
    });
  }
  const missing = requiredColumns.filter((column) => !header.includes(column));
  if (missing.length > 0) {
    throw new PipelineError(`missing column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`, {
      location: { file, line: headerIndex + 1 },
      hint: `the header must name ${requiredColumns.join(",")}`,
    });
  }
  // With a required column named twice, which one holds the value would be a guess.
  const repeated = requiredColumns.filter((column) => header.indexOf(column) !== header.lastIndexOf(column));
  if (repeated.length > 0) {
    throw new PipelineError(`column${repeated.length > 1 ? "s" : ""} ${repeated.join(", ")} named twice`, {
      location: { file, line: headerIndex + 1 },
      hint: `the header must name ${requiredColumns.join(",")} once each`,
    });
  }
  const index = Object.fromEntries(
    requiredColumns.map((column) => [column, header.indexOf(column)]),
  ) as Record<(typeof requiredColumns)[number], number>;
  const firstLineOfPair = new Map<string, number>();

  for (let lineIndex = headerIndex + 1; lineIndex < lines.length; lineIndex += 1) {
    const raw = lines[lineIndex] ?? "";
    if (raw.trim() === "") continue;
    const lineNumber = lineIndex + 1;
    const reject = (reason: string, column?: string): FetchItem<NotApplicableObservation> => ({
      kind: "rejected",
      rejection: {
        location: { file, line: lineNumber, ...(column ? { key: column } : {}) },
        reason,
        excerpt: excerpt(raw),
      },
    });
    if (raw.length > maxLineLength) {
      yield reject(`the line is ${raw.length} characters long, more than the ${maxLineLength} allowed`);
      continue;
    }
    let fields: string[];
    try {
      fields = parseLine(raw);
    } catch (error) {
      yield reject(`cannot be read as CSV: ${errorMessage(error).replace(/ at line \d+/, "")}`);
      continue;
    }
    if (fields.length !== header.length) {
      yield reject(`has ${fields.length} fields, the header has ${header.length}`);
      continue;
    }
    const value = (column: (typeof requiredColumns)[number]) => fields[index[column]] ?? "";
    const cveId = value("cve_id");
    const packageName = value("package");
    const status = value("status");
    const fixedVersion = value("fixed_version");
    const internalStatus = value("internal_status");
    // A field of megabytes is a broken export; it is named by its length, never quoted whole.
    const oversized = requiredColumns
      .map((column) => ({ column, reason: tooLong(column, value(column)) }))
      .find((check) => check.reason !== null);
    if (oversized?.reason) {
      yield reject(oversized.reason, oversized.column);
      continue;
    }
    if (!vulnerabilityIdPattern.test(cveId)) {
      yield reject(
        `cve_id ${JSON.stringify(excerpt(cveId, 60))} is not a CVE id (CVE-YYYY-NNNN) or Debian TEMP id`,
        "cve_id",
      );
      continue;
    }
    if (!debianPackagePattern.test(packageName)) {
      yield reject(
        `package ${JSON.stringify(excerpt(packageName, 60))} is not a valid Debian source package name`,
        "package",
      );
      continue;
    }
    if (!(allowedStatuses as readonly string[]).includes(status)) {
      yield reject(
        `unknown status ${JSON.stringify(excerpt(status, 60))} (allowed: ${allowedStatuses.join(", ")})`,
        "status",
      );
      continue;
    }
    if (fixedVersion !== "" && !debianVersionPattern.test(fixedVersion)) {
      yield reject(
        `fixed_version ${JSON.stringify(excerpt(fixedVersion, 60))} is not a Debian version`,
        "fixed_version",
      );
      continue;
    }
    if (!/^[a-z][a-z0-9_]*$/.test(internalStatus)) {
      yield reject(
        `internal_status ${JSON.stringify(excerpt(internalStatus, 60))} must be a lower-case code such as code_not_in_use`,
        "internal_status",
      );
      continue;
    }
    if (!reasonCodes.includes(internalStatus)) {
      yield reject(unknownReasonCode(excerpt(internalStatus, 60), reasonCodes), "internal_status");
      continue;
    }
    const pair = `${packageName}\u0000${cveId}`;
    const firstLine = firstLineOfPair.get(pair);
    if (firstLine !== undefined) {
      yield reject(`duplicate of line ${firstLine} (same package and cve_id); the first row is kept`);
      continue;
    }
    firstLineOfPair.set(pair, lineNumber);
    yield {
      kind: "observation",
      observation: {
        line_number: lineNumber,
        cve_id: cveId,
        package_name: packageName,
        status: "not_applicable",
        fixed_version: fixedVersion === "" ? null : fixedVersion,
        internal_status: internalStatus,
      },
    };
  }
}

/** The landing table this source fills, created by the init stage. */
export const notApplicableLanding: LandingTable = {
  name: "echo_not_applicable",
  columns: [
    { name: "cve_id", type: "VARCHAR" },
    { name: "package_name", type: "VARCHAR" },
    { name: "status", type: "VARCHAR" },
    { name: "fixed_version", type: "VARCHAR" },
    { name: "internal_status", type: "VARCHAR" },
  ],
};

/**
 * `dbtProjectDir` holds the override_reasons seed the rows' codes are checked against. `http` reads a
 * location that is a URL; without it, a URL is an error (see readInput).
 */
export function echoCsvAdapter(
  location: string,
  dbtProjectDir: string,
  http?: HttpClient,
): SourceAdapter<NotApplicableObservation> {
  return defineAdapter({
    name: "echo_csv",
    landing: notApplicableLanding,
    // The line number is bookkeeping, not content: moving a row must not make it a new observation.
    toLandingRow: (observation): LandingValue[] => [
      observation.cve_id,
      observation.package_name,
      observation.status,
      observation.fixed_version,
      observation.internal_status,
    ],
    positionOf: (observation) => observation.line_number,
    async *fetchItems(_context, health) {
      const reasonCodes = await readOverrideReasonCodes(dbtProjectDir);
      const bytes = await readInput(location, http);
      health.bytes = bytes.byteLength;
      yield* parseNotApplicableCsv(decodeUtf8(bytes, location), location, reasonCodes);
    },
  });
}
