import { Random } from "./random.ts";

/**
 * Made-up vulnerability descriptions in the usual NVD wording, one per CVE, shared by NVD, the tracker
 * and OSV (the tracker and OSV copy NVD's text), so records have realistic sizes and the sources agree.
 */

const weaknesses = [
  "A heap-based buffer overflow",
  "A use-after-free",
  "An out-of-bounds read",
  "An out-of-bounds write",
  "A NULL pointer dereference",
  "An integer overflow",
  "Improper input validation",
  "A race condition",
  "Uncontrolled recursion",
  "A double free",
  "Improper certificate validation",
  "A path traversal",
  "Cross-site scripting",
  "An infinite loop",
];
const components = [
  "the parser",
  "the decoder",
  "the TLS handshake code",
  "the archive reader",
  "the HTTP/2 implementation",
  "the image loader",
  "the configuration loader",
  "the regular expression engine",
  "the font renderer",
  "the network stack",
  "the authentication module",
];
const actors = [
  "remote attackers",
  "local users",
  "attackers",
  "authenticated users",
  "context-dependent attackers",
];
const impacts = [
  "cause a denial of service (crash)",
  "execute arbitrary code",
  "obtain sensitive information from process memory",
  "bypass intended access restrictions",
  "cause a denial of service (memory consumption)",
  "escalate privileges",
  "overwrite arbitrary files",
];
const vectors = [
  "a crafted file",
  "a malformed packet",
  "a long string",
  "a crafted certificate",
  "a specially crafted request",
  "unspecified vectors",
  "a symlink attack on a temporary file",
];
const productStems = ["lib", "x", "open", "g", "py", "net", "web", "mini", "fast", "core"];
const productRoots = [
  "archive",
  "image",
  "http",
  "crypt",
  "xml",
  "font",
  "mail",
  "sql",
  "zip",
  "ssh",
  "media",
];

export function productName(seed: number, cve: number): string {
  const random = Random.of(seed, "product", cve);
  return `${random.pick(productStems)}${random.pick(productRoots)}`;
}

export function cveDescription(seed: number, cve: number): string {
  const random = Random.of(seed, "description", cve);
  const product = productName(seed, cve);
  const version = `${random.between(0, 9)}.${random.between(0, 30)}.${random.between(0, 12)}`;
  const sentence = `${random.pick(weaknesses)} in ${random.pick(components)} in ${product} before ${version} allows ${random.pick(actors)} to ${random.pick(impacts)} via ${random.pick(vectors)}.`;
  return random.chance(0.35)
    ? `${sentence} This issue affects ${product} versions through ${version.replace(/\.\d+$/, ".x")}.`
    : sentence;
}

/** A short summary for the Spanish description NVD carries next to the English one. */
export function spanishDescription(seed: number, cve: number): string {
  const random = Random.of(seed, "description-es", cve);
  return `Se ha detectado una vulnerabilidad en ${productName(seed, cve)} que permite ${random.pick([
    "provocar una denegación de servicio",
    "ejecutar código arbitrario",
    "obtener información confidencial",
  ])} mediante ${random.pick(["un archivo manipulado", "una petición especialmente diseñada", "vectores no especificados"])}.`;
}
