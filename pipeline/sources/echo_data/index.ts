import { z } from "zod";
import { debianVersionSortKeyOrNull } from "../../lib/dpkg-version.ts";
import { PipelineError } from "../../lib/errors.ts";
import type { HttpClient } from "../http/client.ts";
import { decodeUtf8, lineAndColumn, readInput } from "../read-input.ts";
import {
  debianPackagePattern,
  debianVersionPattern,
  defineAdapter,
  excerpt,
  type FetchItem,
  type LandingTable,
  type LandingValue,
  maxNestingDepth,
  nestedDeeperThan,
  nestingReason,
  type SourceAdapter,
  tooLong,
  vulnerabilityIdPattern,
} from "../types.ts";
import { findDuplicateKeys } from "./duplicate-keys.ts";

/** Unknown fields are kept (extra_fields), but not without bound. */
const maxExtraFieldsLength = 64 * 1024;

/**
 * The vendor's published advisory dataset (data.json):
 * `{ "<source package>": { "<vuln id>": { "fixed_version"?: "<dpkg version>", "severity"?: "..." } } }`.
 */
export const echoAdvisoryObservation = z.object({
  package_name: z.string(),
  vuln_id: z.string(),
  fixed_version: z.string().nullable(),
  severity: z.string().nullable(),
  /** Fields we do not model yet, kept so nothing the vendor published is lost. */
  extra_fields: z.string().nullable(),
});
export type EchoAdvisoryObservation = z.infer<typeof echoAdvisoryObservation>;

const mustBeString = (field: string) => ({
  error: (issue: { input: unknown }) =>
    `${field} must be a string, found ${issue.input === null ? "null" : Array.isArray(issue.input) ? "an array" : typeof issue.input}`,
});

const entrySchema = z.looseObject(
  {
    fixed_version: z.string(mustBeString("fixed_version")).optional(),
    severity: z.string(mustBeString("severity")).optional(),
  },
  { error: 'an entry must be an object such as {"fixed_version": "1.2-1"}' },
);

export function parseEchoData(text: string, file: string): Generator<FetchItem<EchoAdvisoryObservation>> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw jsonSyntaxError(error, text, file);
  }
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    const found = document === null ? "null" : Array.isArray(document) ? "an array" : `a ${typeof document}`;
    throw new PipelineError(`the top level must be an object keyed by package name, found ${found}`, {
      location: { file },
    });
  }
  return iterateEntries(document as Record<string, unknown>, file, findDuplicateKeys(text));
}

/** `"name"` for keys and messages, shortened: a key can be megabytes long. */
function quoted(name: string): string {
  return JSON.stringify(excerpt(name, 100));
}

function repeatedReason(what: string, lines: readonly number[]): string {
  return `${what} appears ${lines.length} times (lines ${lines.join(", ")}); which entry is meant cannot be told, so none is used`;
}

function* iterateEntries(
  document: Record<string, unknown>,
  file: string,
  duplicates: ReadonlyMap<string, readonly number[]>,
): Generator<FetchItem<EchoAdvisoryObservation>> {
  for (const [packageName, vulnerabilities] of Object.entries(document)) {
    const packageKey = quoted(packageName);
    const packageLines = duplicates.get(JSON.stringify([packageName]));
    if (packageLines) {
      yield rejected(file, packageKey, repeatedReason(`package ${packageKey}`, packageLines));
      continue;
    }
    if (packageName.length > 100 || !debianPackagePattern.test(packageName)) {
      yield rejected(
        file,
        packageKey,
        `package name ${packageKey} is not a valid Debian source package name`,
      );
      continue;
    }
    if (vulnerabilities === null || typeof vulnerabilities !== "object" || Array.isArray(vulnerabilities)) {
      yield rejected(file, packageKey, "the value of a package must be an object keyed by vulnerability id");
      continue;
    }
    for (const [vulnId, entry] of Object.entries(vulnerabilities as Record<string, unknown>)) {
      const key = `${packageKey}.${quoted(vulnId)}`;
      const entryLines = duplicates.get(JSON.stringify([packageName, vulnId]));
      if (entryLines) {
        yield rejected(file, key, repeatedReason(`vulnerability ${quoted(vulnId)}`, entryLines));
        continue;
      }
      if (vulnId.length > 100 || !vulnerabilityIdPattern.test(vulnId)) {
        yield rejected(
          file,
          key,
          `vulnerability id ${quoted(vulnId)} is neither CVE-YYYY-NNNN nor TEMP-NNNNNNN-XXXXXX`,
        );
        continue;
      }
      // Checked before anything walks the entry recursively (zod, JSON.stringify), which would overflow.
      if (nestedDeeperThan(entry, maxNestingDepth)) {
        yield rejected(file, key, `the entry is ${nestingReason()}`);
        continue;
      }
      const parsed = entrySchema.safeParse(entry);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue?.path.length ? `.${issue.path.join(".")}` : "";
        yield rejected(file, `${key}${field}`, issue?.message ?? "invalid entry", JSON.stringify(entry));
        continue;
      }
      const { fixed_version: fixedVersionRaw, severity, ...extra } = parsed.data;
      const fixedVersion = fixedVersionRaw?.trim() ? fixedVersionRaw.trim() : null;
      const oversized = [
        {
          field: "fixed_version",
          reason: fixedVersion === null ? null : tooLong("fixed_version", fixedVersion),
        },
        { field: "severity", reason: severity === undefined ? null : tooLong("severity", severity) },
      ].find((check) => check.reason !== null);
      if (oversized?.reason) {
        yield rejected(file, `${key}.${oversized.field}`, oversized.reason);
        continue;
      }
      if (fixedVersion !== null && !debianVersionPattern.test(fixedVersion)) {
        yield rejected(file, `${key}.fixed_version`, `${quoted(fixedVersion)} is not a Debian version`);
        continue;
      }
      const extraFields = Object.keys(extra).length > 0 ? JSON.stringify(extra) : null;
      if (extraFields !== null && extraFields.length > maxExtraFieldsLength) {
        yield rejected(
          file,
          key,
          `the entry's other fields (${Object.keys(extra).map(quoted).join(", ")}) take ${extraFields.length} characters, more than the ${maxExtraFieldsLength} allowed`,
        );
        continue;
      }
      yield {
        kind: "observation",
        observation: {
          package_name: packageName,
          vuln_id: vulnId,
          fixed_version: fixedVersion,
          severity: severity?.trim() ? severity.trim() : null,
          extra_fields: extraFields,
        },
      };
    }
  }
}

function rejected(
  file: string,
  key: string,
  reason: string,
  raw?: string,
): FetchItem<EchoAdvisoryObservation> {
  return {
    kind: "rejected",
    rejection: { location: { file, key }, reason, ...(raw ? { excerpt: excerpt(raw) } : {}) },
  };
}

/** A JSON.parse error as a PipelineError naming the line and column (and saying when the text looks cut off). */
export function jsonSyntaxError(error: unknown, text: string, file: string): PipelineError {
  const message = error instanceof Error ? error.message : String(error);
  const position = jsonErrorPosition(message);
  const offset =
    position !== undefined
      ? position
      : /end of JSON input/.test(message)
        ? text.length
        : unexpectedTokenOffset(text);
  // V8 reports a cut-off document in several wordings; an error at the very end is the reliable sign.
  // (The wording alone misleads: "Unterminated fractional number" also happens mid-file, as in `1.}`.)
  const truncated = offset >= text.trimEnd().length;
  const { line, column } = lineAndColumn(text, offset);
  // Both "... in JSON at position N" and "... after JSON at position N" carry a position to drop.
  const summary = message.replace(/ (?:in JSON )?at position \d+(?: \(line \d+ column \d+\))?$/, "");
  return new PipelineError(`invalid JSON: ${summary}${truncated ? " (the file looks truncated)" : ""}`, {
    location: { file, line, column },
  });
}

/** Anchored at the end: "Unexpected token" messages quote the source, which may itself say "at position". */
function jsonErrorPosition(message: string): number | undefined {
  const position = / at position (\d+)(?: \(line \d+ column \d+\))?$/.exec(message)?.[1];
  return position === undefined ? undefined : Number(position);
}

/**
 * V8 gives no position for "Unexpected token" errors. A prefix that ends before the bad token fails only
 * for running out of input, and every prefix that includes it fails on that token, so the shortest prefix
 * that fails before its end (found by binary search) ends just after the token.
 */
function unexpectedTokenOffset(text: string): number {
  const failsBeforeItsEnd = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return false;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/end of JSON input/.test(message)) return false;
      const position = jsonErrorPosition(message);
      return position === undefined || position < length;
    }
  };
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (failsBeforeItsEnd(middle)) high = middle;
    else low = middle + 1;
  }
  return high - 1;
}

/** The landing table this source fills, created by the init stage. */
export const echoAdvisoriesLanding: LandingTable = {
  name: "echo_advisories",
  columns: [
    { name: "package_name", type: "VARCHAR" },
    { name: "vuln_id", type: "VARCHAR" },
    { name: "fixed_version", type: "VARCHAR" },
    { name: "severity", type: "VARCHAR" },
    { name: "extra_fields", type: "VARCHAR" },
    // dpkg order as a plain string (lib/dpkg-version.ts), so the models compare versions by Debian's rules.
    { name: "fixed_version_key", type: "VARCHAR" },
  ],
};

/** `http` reads a location that is a URL; without it, a URL is an error (see readInput). */
export function echoDataAdapter(location: string, http?: HttpClient): SourceAdapter<EchoAdvisoryObservation> {
  return defineAdapter({
    name: "echo_data",
    landing: echoAdvisoriesLanding,
    toLandingRow: (observation): LandingValue[] => [
      observation.package_name,
      observation.vuln_id,
      observation.fixed_version,
      observation.severity,
      observation.extra_fields,
      debianVersionSortKeyOrNull(observation.fixed_version),
    ],
    async *fetchItems(_context, health) {
      const bytes = await readInput(location, http);
      health.bytes = bytes.byteLength;
      yield* parseEchoData(decodeUtf8(bytes, location), location);
    },
  });
}
