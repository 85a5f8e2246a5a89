import { PipelineError } from "../../lib/errors.ts";
import { excerpt, type FetchItem, nestedDeeperThan, nestingReason } from "../types.ts";
import type { CveFacts, UpstreamObservation } from "../upstream.ts";

/*
 * Small helpers the three upstream parsers (debian_tracker, osv, nvd) share: JSON text, rejections, JSON
 * pointers and timestamps. They live here because OSV is their main user; they would sit as well one level
 * up, beside upstream.ts.
 */

export type UpstreamItem = FetchItem<UpstreamObservation, CveFacts>;

/**
 * Parses JSON text; a syntax error makes the whole input unusable, so it is a PipelineError. So is a
 * document nested absurdly deep: hashing or quoting it later would overflow the stack.
 */
export function parseJsonText(text: string, ref: string | null): unknown {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new PipelineError(`invalid JSON: ${errorText(error)}`, ref ? { location: { file: ref } } : {});
  }
  if (nestedDeeperThan(document)) {
    throw new PipelineError(`the document is ${nestingReason()}`, ref ? { location: { file: ref } } : {});
  }
  return document;
}

/** A rejection at `key` of the input `ref`, with the offending value shortened for the report. */
export function rejected(ref: string | null, key: string, reason: string, raw?: unknown): UpstreamItem {
  const text = raw === undefined ? undefined : typeof raw === "string" ? raw : JSON.stringify(raw);
  return {
    kind: "rejected",
    rejection: {
      location: ref ? { file: ref, key } : { key },
      reason,
      ...(text ? { excerpt: excerpt(text) } : {}),
    },
  };
}

/** RFC 6901: `~` and `/` inside a key are escaped as `~0` and `~1`. */
export function jsonPointer(keys: readonly (string | number)[]): string {
  return keys.map((key) => `/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

/** `<ref>#<pointer>`, or null when the caller gave no reference. */
export function payloadRef(ref: string | null, keys: readonly (string | number)[]): string | null {
  if (ref === null) return null;
  return keys.length === 0 ? ref : `${ref}#${jsonPointer(keys)}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** "null", "an array", "a number", … for messages about a value of the wrong type. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The first zod issue as `key` (dotted path below `baseKey`) and message. */
export function firstIssue(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  baseKey: string,
): { key: string; message: string } {
  const issue = issues[0];
  if (!issue) return { key: baseKey, message: "invalid value" };
  const path = issue.path
    .map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`))
    .join("");
  return { key: `${baseKey}${path}`, message: issue.message };
}

/**
 * Timestamps as the upstream sources write them, normalised to one sortable form:
 * `YYYY-MM-DDTHH:MM:SS[.fraction]Z` in UTC, the fraction kept digit for digit (OSV gives microseconds,
 * which a JavaScript Date would cut to milliseconds).
 *
 * OSV writes RFC 3339 with `Z`; NVD writes extended ISO-8601 without a zone (its times are UTC).
 */
const timestampPattern =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:?\d{2})?$/;

/** The UTC form of `raw`, or null when it is not a real date and time. A missing zone is taken as UTC. */
export function normaliseTimestamp(raw: string): string | null {
  const match = timestampPattern.exec(raw.trim());
  if (!match) return null;
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const parts = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [y, mo, d, h, mi, s] = parts;
  const epoch = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(epoch);
  // Date.UTC rolls 2026-02-30 over to March; a real timestamp survives the round trip unchanged.
  if (
    check.getUTCFullYear() !== y ||
    check.getUTCMonth() !== mo - 1 ||
    check.getUTCDate() !== d ||
    check.getUTCHours() !== h ||
    check.getUTCMinutes() !== mi ||
    check.getUTCSeconds() !== s
  ) {
    return null;
  }
  let utc = epoch;
  if (zone && zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
    if (offsetMinutes >= 24 * 60) return null;
    utc = epoch - sign * offsetMinutes * 60_000;
  }
  const base = new Date(utc).toISOString().slice(0, 19);
  return `${base}${fraction ? `.${fraction}` : ""}Z`;
}

/** Orders two normalised timestamps (negative when `a` is earlier), fractions compared digit by digit. */
export function compareTimestamps(a: string, b: string): number {
  const secondsA = a.slice(0, 19);
  const secondsB = b.slice(0, 19);
  if (secondsA !== secondsB) return secondsA < secondsB ? -1 : 1;
  const fractionA = fractionOf(a);
  const fractionB = fractionOf(b);
  return fractionA === fractionB ? 0 : fractionA < fractionB ? -1 : 1;
}

function fractionOf(timestamp: string): string {
  const fraction = /\.(\d+)Z$/.exec(timestamp)?.[1] ?? "";
  return fraction.padEnd(9, "0");
}
