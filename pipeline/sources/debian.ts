/**
 * Facts about Debian that more than one source needs, written once.
 *
 * The releases whose verdicts count when the config names none, most preferred first: bookworm (Debian 12,
 * the base of the vendor's images), trixie (Debian 13) and sid (unstable, where upstream fixes land first).
 * dbt's debian_releases seed ranks the same releases, and a test keeps the two in agreement.
 */
export const defaultDebianReleases: readonly string[] = ["bookworm", "trixie", "sid"];

/**
 * Debian writes "fixed in version 0" for a package that was never affected (the vulnerable code was never
 * in it): a verdict, not a version. The Debian tracker says so, and OSV's Debian records repeat the tracker.
 */
export function isNotAffectedVersion(version: string): boolean {
  return version === "0";
}
