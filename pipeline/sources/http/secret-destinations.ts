/**
 * Where a source's secret (an API key from the environment) may be sent. Each source with a secret declares
 * its rule in its own folder; config loading refuses settings that would send the secret anywhere else, and
 * the source checks every request again before attaching it.
 */

/** A scheme and a host as URL.host gives it: lower case, `host:port`, no port when it is the default. */
export interface SecretDestination {
  scheme: "https:" | "http:";
  host: string;
}

export interface SecretRule {
  /** The only places the secret may go. */
  destinations: readonly SecretDestination[];
  /** The rule in words, quoted by the errors: "the NVD API key is sent only over https to …". */
  rule: string;
  /** What to do instead, besides unsetting the variable: the config error ends with it. */
  hint: string;
}

/** Whether `url` is one of `destinations` (and carries no credentials of its own). */
export function mayReceiveSecret(url: string | URL, destinations: readonly SecretDestination[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return false;
  }
  if (parsed.username !== "" || parsed.password !== "") return false;
  return destinations.some(
    (destination) => destination.scheme === parsed.protocol && destination.host === parsed.host,
  );
}
