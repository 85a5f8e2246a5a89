/**
 * Debian package versions, as Debian Policy §5.6.12 (Version) describes them:
 *
 *     [epoch:]upstream_version[-debian_revision]
 *
 * - epoch: a non-negative integer; absent means 0. Compared numerically.
 * - upstream_version: mandatory; must start with a digit; alphanumerics and `. + ~`, plus `-` only when a
 *   revision is present and `:` only when an epoch is present.
 * - debian_revision: everything after the LAST hyphen; alphanumerics and `. + ~`. When absent it compares
 *   equal to a revision of "0" (Policy: "The absence of a debian_revision is equivalent to a
 *   debian_revision of 0"), which the string algorithm below yields on its own.
 *
 * Upstream and revision strings are compared by the same algorithm: from the left, take the longest
 * prefix of non-digits from each and compare them lexically, where every letter sorts before every
 * non-letter and `~` sorts before everything, even the end of the part; then take the longest prefix of
 * digits from each and compare them numerically (an empty run counts as 0); repeat until both are used up.
 *
 * This module is pure: no I/O, no state.
 */
import { PipelineError } from "./errors.ts";

export interface DebianVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Thrown for text that is not a Debian version; `version` is the offending text. */
export class DebianVersionError extends PipelineError {
  readonly version: string;

  constructor(version: string, reason: string) {
    super(`invalid Debian version ${JSON.stringify(version)}: ${reason}`, {
      hint: "expected [epoch:]upstream_version[-debian_revision], see Debian Policy §5.6.12",
    });
    this.name = "DebianVersionError";
    this.version = version;
  }
}

/** dpkg stores the epoch in a C int; larger epochs are refused rather than silently mis-compared. */
const MAX_EPOCH = 2_147_483_647;
const EPOCH_WIDTH = String(MAX_EPOCH).length;

const REVISION_CHARS = /^[A-Za-z0-9.+~]+$/;

/** Splits and validates a version. Throws DebianVersionError with the reason when the text is invalid. */
export function parseDebianVersion(text: string): DebianVersion {
  if (typeof text !== "string") throw new DebianVersionError(String(text), "not a string");
  if (text === "") throw new DebianVersionError(text, "it is empty");
  const bad = /[^A-Za-z0-9.+~:-]/.exec(text);
  if (bad) {
    const what = /\s/.test(bad[0]) ? "whitespace" : `character ${JSON.stringify(bad[0])}`;
    throw new DebianVersionError(text, `illegal ${what} at position ${bad.index + 1}`);
  }

  let rest = text;
  let epoch = 0;
  const colon = rest.indexOf(":");
  const hasEpoch = colon !== -1;
  if (hasEpoch) {
    const epochText = rest.slice(0, colon);
    if (epochText === "") throw new DebianVersionError(text, "the epoch before ':' is empty");
    if (!/^[0-9]+$/.test(epochText)) {
      throw new DebianVersionError(
        text,
        `the epoch ${JSON.stringify(epochText)} is not a non-negative integer ` +
          "(a ':' may appear in upstream_version only after an epoch)",
      );
    }
    epoch = Number(epochText);
    if (epoch > MAX_EPOCH) {
      throw new DebianVersionError(text, `the epoch ${epochText} is larger than ${MAX_EPOCH}`);
    }
    rest = rest.slice(colon + 1);
  }

  // Every ':' or '-' is taken as an epoch or revision separator, so "a colon in upstream_version without
  // an epoch" surfaces as a bad epoch and "a hyphen without a revision" as an empty revision.
  let upstream = rest;
  let revision = "";
  const hyphen = rest.lastIndexOf("-");
  const hasRevision = hyphen !== -1;
  if (hasRevision) {
    upstream = rest.slice(0, hyphen);
    revision = rest.slice(hyphen + 1);
    if (revision === "") {
      throw new DebianVersionError(
        text,
        "the debian_revision after the last '-' is empty " +
          "(a '-' may appear in upstream_version only when a debian_revision follows)",
      );
    }
    if (!REVISION_CHARS.test(revision)) {
      // Only ':' can get here: '-' cannot follow the last hyphen and other characters were refused above.
      throw new DebianVersionError(
        text,
        `the debian_revision ${JSON.stringify(revision)} may contain only alphanumerics and '.', '+', '~'`,
      );
    }
  }

  if (upstream === "") throw new DebianVersionError(text, "the upstream_version is empty");
  if (!/^[0-9]/.test(upstream)) {
    throw new DebianVersionError(
      text,
      `the upstream_version ${JSON.stringify(upstream)} does not start with a digit`,
    );
  }
  return { epoch, upstream, revision };
}

/** True when `text` is a valid Debian version. */
export function isDebianVersion(text: string): boolean {
  try {
    parseDebianVersion(text);
    return true;
  } catch (error) {
    if (error instanceof DebianVersionError) return false;
    throw error;
  }
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

const TILDE = 126;

/**
 * Rank of a character inside a non-digit part, with `undefined` meaning "the part has ended":
 * `~` < end < letters (ASCII order) < other characters (ASCII order).
 */
function rank(code: number | undefined): number {
  if (code === undefined) return 0;
  if (code === TILDE) return -1;
  if (isLetter(code)) return code;
  return code + 256;
}

/** One non-digit run followed by one digit run (leading zeros stripped, "" means 0). */
interface Segment {
  text: string;
  digits: string;
}

/**
 * Cuts an upstream or revision string into (non-digit, digit) segments. The result is canonical: leading
 * zeros are stripped and trailing ("", 0) segments, which compare equal to the string's end, are dropped,
 * so two strings compare equal exactly when their segment lists are identical.
 */
function segments(part: string): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  while (i < part.length) {
    const textStart = i;
    while (i < part.length && !isDigit(part.charCodeAt(i))) i++;
    const digitStart = i;
    while (i < part.length && isDigit(part.charCodeAt(i))) i++;
    out.push({
      text: part.slice(textStart, digitStart),
      digits: part.slice(digitStart, i).replace(/^0+/, ""),
    });
  }
  while (out.length > 0 && out[out.length - 1]?.text === "" && out[out.length - 1]?.digits === "") out.pop();
  return out;
}

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function compareText(a: string, b: string): -1 | 0 | 1 {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const ra = rank(i < a.length ? a.charCodeAt(i) : undefined);
    const rb = rank(i < b.length ? b.charCodeAt(i) : undefined);
    if (ra !== rb) return sign(ra - rb);
  }
  return 0;
}

/** Compares digit runs without leading zeros: longer is larger, then plain string order. */
function compareDigits(a: string, b: string): -1 | 0 | 1 {
  if (a.length !== b.length) return sign(a.length - b.length);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Policy's comparison of two upstream_version (or two debian_revision) strings. */
function comparePart(a: string, b: string): -1 | 0 | 1 {
  const sa = segments(a);
  const sb = segments(b);
  const end: Segment = { text: "", digits: "" };
  const length = Math.max(sa.length, sb.length);
  for (let i = 0; i < length; i++) {
    const x = sa[i] ?? end;
    const y = sb[i] ?? end;
    const byText = compareText(x.text, y.text);
    if (byText !== 0) return byText;
    const byDigits = compareDigits(x.digits, y.digits);
    if (byDigits !== 0) return byDigits;
  }
  return 0;
}

/** Strings are parsed; objects are taken as returned by parseDebianVersion. */
function toVersion(version: string | DebianVersion): DebianVersion {
  return typeof version === "string" ? parseDebianVersion(version) : version;
}

/**
 * -1, 0 or 1 as `a` is older than, equal to or newer than `b`. Strings are parsed first (and throw
 * DebianVersionError when invalid). Equal means equivalent: `1.01` equals `1.1`, `1.0` equals `0:1.0-0`.
 */
export function compareDebianVersions(a: string | DebianVersion, b: string | DebianVersion): -1 | 0 | 1 {
  const va = toVersion(a);
  const vb = toVersion(b);
  if (va.epoch !== vb.epoch) return sign(va.epoch - vb.epoch);
  return comparePart(va.upstream, vb.upstream) || comparePart(va.revision, vb.revision);
}

/*
 * Sort key
 * ========
 * debianVersionSortKey(v) is a printable-ASCII string whose plain byte / UTF-16 code-unit order is the
 * order of compareDebianVersions, and which is identical for versions that compare equal. So SQL can
 * `ORDER BY key` or `max(key)` (DuckDB compares VARCHAR bytewise) without a UDF.
 *
 *     key = EPOCH  PART(upstream)  "!"  PART(revision)
 *
 * EPOCH: the epoch in decimal, zero-padded to 10 digits (epochs are capped at 2^31-1).
 *
 * PART: the canonical segments (non-digit run, digit run) of the string — see segments() — each written
 * as the characters of its non-digit run, then END, then NUM(digit run); and after the last segment the
 * terminator END NUM(0) END, which is what the end of the string compares like (an endless run of empty
 * segments).
 *   non-digit characters   `~` -> "#"   letters -> themselves   `+` -> "{"   `-` -> "|"   `.` -> "}"
 *                          `:` -> "~"
 *   END (end of a run)     "$"
 * so that `~` ("#", 0x23) < END ("$", 0x24) < letters (0x41-0x7a) < `+ - . :` (0x7b-0x7e), exactly the
 * Policy's order, with END standing for "the non-digit part has ended".
 *
 * NUM(n): n without leading zeros, preceded by its length L written as LEN(L): "0".."8" for L < 9,
 * otherwise "9" followed by NUM(L) (recursively). So 0 -> "0", 7 -> "17", 10 -> "210", a 12-digit n ->
 * "9212" + n. Longer numbers sort after shorter ones and same-length numbers compare digit by digit, for
 * numbers of any length, and NUM is prefix-free so nothing after it is ever compared against it.
 *
 * Why the terminator is decisive: the next segment of the other string either starts with a non-digit
 * character (every segment after the first has a non-empty non-digit run), whose code compares with
 * END exactly as the Policy compares that character with the end of a part; or it is the first segment
 * with an empty run, which compares its NUM with NUM(0) and, if that is also 0, its second segment's
 * first character with the final END. Hence two PARTs that differ are decided before either ends, and the
 * "!" separator (0x21, below every other key character) is only ever compared with itself; it is there to
 * keep keys readable and to stay safe should the encoding change.
 *
 * Example: 1:1.2-1+deb12u1 -> "0000000001" + "$11}$12$0$" + "!" + "$11{deb$212u$11$0$".
 */

const KEY_CHAR: Record<string, string> = { "~": "#", "+": "{", "-": "|", ".": "}", ":": "~" };
const KEY_END = "$";
const KEY_SEPARATOR = "!";

function encodeLength(length: number): string {
  return length < 9 ? String(length) : `9${encodeNumber(String(length))}`;
}

/** `digits` has no leading zeros ("" is zero). */
function encodeNumber(digits: string): string {
  return encodeLength(digits.length) + digits;
}

function encodeText(text: string): string {
  let out = "";
  for (const char of text) out += KEY_CHAR[char] ?? char;
  return out;
}

function encodePart(part: string): string {
  let out = "";
  for (const segment of segments(part))
    out += encodeText(segment.text) + KEY_END + encodeNumber(segment.digits);
  return out + KEY_END + encodeNumber("") + KEY_END;
}

/** A string whose plain ordering equals compareDebianVersions ordering (see the encoding comment above). */
export function debianVersionSortKey(version: string | DebianVersion): string {
  const v = toVersion(version);
  return (
    String(v.epoch).padStart(EPOCH_WIDTH, "0") +
    encodePart(v.upstream) +
    KEY_SEPARATOR +
    encodePart(v.revision)
  );
}

/**
 * The sort key, or null when the text is not a Debian version. Landing rows carry it so that SQL compares
 * versions by dpkg's rules without re-implementing them; an invalid version simply has no key.
 */
export function debianVersionSortKeyOrNull(version: string | null): string | null {
  if (version === null || !isDebianVersion(version)) return null;
  return debianVersionSortKey(version);
}
