/**
 * Keeps secrets out of logs, errors and results: header values sent under a secret header name, URL
 * credentials and query parameters whose name looks like a credential.
 */

/** Header names always treated as secret, whatever the configuration says (compared lower-case). */
export const alwaysSecretHeaders: readonly string[] = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "apikey",
  "api-key",
  "x-api-key",
  "private-token",
];

const secretQueryName =
  /^(api[-_]?key|key|token|access[-_]?token|auth|password|passwd|secret|sig|signature)$/i;
const replacement = "[redacted]";

/** The values of `headers` sent under a secret name. */
export function secretHeaderValues(headers: Record<string, string>, secretNames: Iterable<string>): string[] {
  const names = new Set([...alwaysSecretHeaders, ...[...secretNames].map((name) => name.toLowerCase())]);
  return Object.entries(headers)
    .filter(([name, value]) => names.has(name.toLowerCase()) && value !== "")
    .map(([, value]) => value);
}

/** Replaces every occurrence of a secret (raw or URL-encoded) in `text`. */
export function redactText(text: string, secrets: readonly string[]): string {
  let result = text;
  // Longest first, so that a secret containing another is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret === "") continue;
    result = result.replaceAll(secret, replacement);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) result = result.replaceAll(encoded, replacement);
  }
  return result;
}

/** The URL without user:password, with credential-like query values replaced, and without any secret. */
export function redactUrl(url: string | URL, secrets: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return redactText(String(url), secrets);
  }
  parsed.username = "";
  parsed.password = "";
  for (const name of new Set(parsed.searchParams.keys())) {
    if (secretQueryName.test(name)) parsed.searchParams.set(name, "REDACTED");
  }
  return redactText(parsed.href, secrets);
}
