/**
 * The Debian releases whose verdicts count when the config names none, most preferred first: bookworm
 * (Debian 12, the base of the vendor's images), trixie (Debian 13) and sid (unstable, where upstream fixes
 * land first). The one list in TypeScript; dbt's debian_releases seed ranks the same releases, and a test
 * keeps the two in agreement.
 */
export const defaultDebianReleases: readonly string[] = ["bookworm", "trixie", "sid"];
