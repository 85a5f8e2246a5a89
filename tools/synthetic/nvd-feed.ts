import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * A synthetic NVD API 2.0, generated deterministically from a record's index so that nothing is held in
 * memory: record `i` is always the same CVE, 2–4 KB of JSON in the real `cve` shape (descriptions, CVSS
 * v3.1 and sometimes v2 metrics, weaknesses, configurations, references). About 3% are Rejected, about 2%
 * tagged disputed and some more say ** DISPUTED ** in the description only.
 */

const recordsPerYear = 12_500;

/** mulberry32: a tiny deterministic generator, seeded per record. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticCveId(index: number): string {
  return `CVE-${1999 + Math.floor(index / recordsPerYear)}-${10_000 + (index % recordsPerYear)}`;
}

export function isSyntheticRejected(index: number): boolean {
  return index % 31 === 7;
}

export function isSyntheticDisputed(index: number): boolean {
  return !isSyntheticRejected(index) && (index % 53 === 11 || index % 211 === 5);
}

const base = Date.UTC(2018, 0, 1);
const span = Date.UTC(2026, 0, 1) - base;

/** lastModified without a zone, as NVD writes it. */
export function syntheticLastModified(index: number): string {
  const next = random(index * 7 + 3);
  return new Date(base + Math.floor(next() * span)).toISOString().slice(0, 23);
}

const words = (
  "buffer overflow in the parser allows remote attackers to cause a denial of service or possibly execute " +
  "arbitrary code via a crafted file heap use after free null pointer dereference integer overflow when " +
  "processing malformed input in the handling of certificates cross site scripting improper validation"
).split(" ");
const products = [
  "openssl",
  "curl",
  "libxml2",
  "glibc",
  "zlib",
  "expat",
  "busybox",
  "sqlite",
  "nginx",
  "perl",
];
const severities = [
  ["LOW", 3.1],
  ["MEDIUM", 5.5],
  ["HIGH", 7.5],
  ["CRITICAL", 9.8],
] as const;
const statuses = ["Analyzed", "Modified", "Awaiting Analysis", "Deferred", "Received", "Undergoing Analysis"];

function sentence(next: () => number, length: number): string {
  const out: string[] = [];
  for (let i = 0; i < length; i += 1) out.push(words[Math.floor(next() * words.length)] as string);
  return out.join(" ");
}

/** Record `index` as NVD serves it inside `vulnerabilities[].cve`. */
export function syntheticCve(index: number): Record<string, unknown> {
  const next = random(index * 7 + 1);
  const id = syntheticCveId(index);
  const lastModified = syntheticLastModified(index);
  const published = new Date(Date.parse(`${lastModified}Z`) - Math.floor(next() * 400) * 86_400_000)
    .toISOString()
    .slice(0, 23);
  if (isSyntheticRejected(index)) {
    return {
      id,
      sourceIdentifier: "cve@mitre.org",
      published,
      lastModified,
      vulnStatus: "Rejected",
      cveTags: [],
      descriptions: [
        {
          lang: "en",
          value: `Rejected reason: DO NOT USE THIS CANDIDATE NUMBER. ConsultIDs: none. Reason: ${sentence(next, 30)}.`,
        },
      ],
      metrics: {},
      references: [],
    };
  }
  const product = products[Math.floor(next() * products.length)] as string;
  const [severity, score] = severities[Math.floor(next() * severities.length)] as (typeof severities)[number];
  const disputed = isSyntheticDisputed(index);
  const tagged = disputed && index % 53 === 11;
  const description = `${disputed && !tagged ? "** DISPUTED ** " : ""}A ${sentence(next, 35 + Math.floor(next() * 60))} in ${product}.`;
  const cvss31 = {
    source: "nvd@nist.gov",
    type: "Primary",
    cvssData: {
      version: "3.1",
      vectorString: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
      baseScore: score,
      baseSeverity: severity,
      attackVector: "NETWORK",
      attackComplexity: "LOW",
      privilegesRequired: "NONE",
      userInteraction: "NONE",
      scope: "UNCHANGED",
      confidentialityImpact: "HIGH",
      integrityImpact: "HIGH",
      availabilityImpact: "HIGH",
    },
    exploitabilityScore: 3.9,
    impactScore: 5.9,
  };
  const metrics: Record<string, unknown> = { cvssMetricV31: [cvss31] };
  if (next() < 0.4) {
    metrics.cvssMetricV2 = [
      {
        source: "nvd@nist.gov",
        type: "Primary",
        cvssData: {
          version: "2.0",
          vectorString: "AV:N/AC:L/Au:N/C:P/I:P/A:P",
          baseScore: 7.5,
          accessVector: "NETWORK",
          accessComplexity: "LOW",
          authentication: "NONE",
          confidentialityImpact: "PARTIAL",
          integrityImpact: "PARTIAL",
          availabilityImpact: "PARTIAL",
        },
        baseSeverity: "HIGH",
        exploitabilityScore: 10.0,
        impactScore: 6.4,
        acInsufInfo: false,
        obtainAllPrivilege: false,
        obtainUserPrivilege: false,
        obtainOtherPrivilege: false,
        userInteractionRequired: false,
      },
    ];
  }
  const matches = 1 + Math.floor(next() * 4);
  const referenceCount = 2 + Math.floor(next() * 7);
  return {
    id,
    sourceIdentifier: "cve@mitre.org",
    published,
    lastModified,
    vulnStatus: statuses[Math.floor(next() * statuses.length)],
    cveTags: tagged ? [{ sourceIdentifier: "cve@mitre.org", tags: ["disputed"] }] : [],
    descriptions: [
      { lang: "en", value: description },
      { lang: "es", value: `Un fallo en ${product}: ${sentence(next, 12)}.` },
    ],
    metrics,
    weaknesses: [
      {
        source: "nvd@nist.gov",
        type: "Primary",
        description: [{ lang: "en", value: `CWE-${100 + Math.floor(next() * 800)}` }],
      },
    ],
    configurations: [
      {
        nodes: [
          {
            operator: "OR",
            negate: false,
            cpeMatch: Array.from({ length: matches }, (_, match) => ({
              vulnerable: true,
              criteria: `cpe:2.3:a:${product}:${product}:*:*:*:*:*:*:*:*`,
              versionEndExcluding: `${1 + match}.${Math.floor(next() * 20)}.${Math.floor(next() * 10)}`,
              matchCriteriaId: `${(index * 2654435761 + match).toString(16).padStart(8, "0").toUpperCase()}-0000-4000-8000-${String(index).padStart(12, "0")}`,
            })),
          },
        ],
      },
    ],
    references: Array.from({ length: referenceCount }, (_, reference) => ({
      url: `https://${product}.example.org/security/advisories/${id.toLowerCase()}-${reference}.html`,
      source: "cve@mitre.org",
      tags: reference === 0 ? ["Vendor Advisory", "Patch"] : ["Third Party Advisory"],
    })),
  };
}

/** An API 2.0 response page around the given `cve` records. */
export function nvdPage(
  records: readonly unknown[],
  startIndex: number,
  resultsPerPage: number,
  totalResults: number,
): Record<string, unknown> {
  return {
    resultsPerPage,
    startIndex,
    totalResults,
    format: "NVD_CVE",
    version: "2.0",
    timestamp: "2026-01-15T10:00:00.000",
    vulnerabilities: records.map((cve) => ({ cve })),
  };
}

/**
 * A request handler serving `total` synthetic records: full paged pulls (`resultsPerPage` ≤ 2000,
 * `startIndex`) and per-CVE look-ups (`cveId`). Date windows are not modelled (the benchmark pulls all).
 */
export function syntheticNvdHandler(total: number) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const params = url.searchParams;
    const send = (status: number, body: string) => {
      response.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      response.end(body);
    };
    if (params.has("lastModStartDate") || params.has("lastModEndDate")) {
      send(400, JSON.stringify({ message: "date windows are not modelled by this server" }));
      return;
    }
    const cveId = params.get("cveId");
    if (cveId !== null) {
      const match = /^CVE-(\d{4})-(\d+)$/.exec(cveId);
      const index = match ? (Number(match[1]) - 1999) * recordsPerYear + Number(match[2]) - 10_000 : -1;
      const found = index >= 0 && index < total && syntheticCveId(index) === cveId;
      send(200, JSON.stringify(nvdPage(found ? [syntheticCve(index)] : [], 0, found ? 1 : 0, found ? 1 : 0)));
      return;
    }
    const perPage = Math.min(2000, Math.max(1, Number(params.get("resultsPerPage") ?? 2000) || 2000));
    const startIndex = Math.max(0, Number(params.get("startIndex") ?? 0) || 0);
    const end = Math.min(total, startIndex + perPage);
    const records: unknown[] = [];
    for (let index = startIndex; index < end; index += 1) records.push(syntheticCve(index));
    send(200, JSON.stringify(nvdPage(records, startIndex, perPage, total)));
  };
}
