import { momentAfter, momentInYear, nvdTime, referenceTime } from "./dates.ts";
import {
  NVD_CVSS_VERSIONS,
  NVD_VULN_STATUS,
  NVD_WITH_CONFIGURATIONS,
  NVD_WITH_SPANISH_DESCRIPTION,
  NVD_WITH_WEAKNESSES,
  NVD_WITHOUT_CVE_TAGS,
} from "./proportions.ts";
import { Random } from "./random.ts";
import { cveDescription, productName, spanishDescription } from "./text.ts";

/**
 * NVD API 2.0 in the real shape: CVE records (`vulnerabilities[].cve`) with the measured mix of statuses,
 * CVSS versions and disputed tags, and the response page around them. The generator writes them as files
 * (tools/generate/nvd.ts); the NVD feed (nvd-feed.ts) serves them by index over HTTP.
 */

/** NVD's verdict on one CVE. */
export const NvdFlag = { plain: 0, rejected: 1, taggedDisputed: 2, descriptionDisputed: 3 } as const;
export type NvdFlagValue = (typeof NvdFlag)[keyof typeof NvdFlag];

/** What a full paged pull receives per page (NVD's maximum). */
export const nvdResultsPerPage = 2000;

/** The CNAs that assigned the sampled records (the eight most frequent, measured counts of 170). */
const sources: Readonly<Record<string, number>> = {
  "cve@mitre.org": 76,
  "secalert@redhat.com": 19,
  "security-advisories@github.com": 14,
  "cna@vuldb.com": 8,
  "security@apache.org": 5,
  "talos-cna@cisco.com": 5,
  "secure@intel.com": 4,
  "psirt@nvidia.com": 4,
};

const severities = [
  { severity: "LOW", score: 3.3, vector: "AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N" },
  { severity: "MEDIUM", score: 5.5, vector: "AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H" },
  { severity: "MEDIUM", score: 6.5, vector: "AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H" },
  { severity: "HIGH", score: 7.5, vector: "AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" },
  { severity: "HIGH", score: 8.8, vector: "AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H" },
  { severity: "CRITICAL", score: 9.8, vector: "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" },
] as const;

function cvss3(version: "3.0" | "3.1", pick: (typeof severities)[number], source: string, primary: boolean) {
  const [av, ac, pr, ui, s, c, i, a] = pick.vector.split("/").map((part) => part.split(":")[1]);
  const word: Record<string, string> = { N: "NONE", L: "LOW", H: "HIGH", R: "REQUIRED", U: "UNCHANGED" };
  const vectorWord: Record<string, string> = {
    N: "NETWORK",
    L: "LOCAL",
    A: "ADJACENT_NETWORK",
    P: "PHYSICAL",
  };
  return {
    source,
    type: primary ? "Primary" : "Secondary",
    cvssData: {
      version,
      vectorString: `CVSS:${version}/${pick.vector}`,
      baseScore: pick.score,
      baseSeverity: pick.severity,
      attackVector: vectorWord[av ?? "N"],
      attackComplexity: word[ac ?? "L"],
      privilegesRequired: word[pr ?? "N"],
      userInteraction: ui === "R" ? "REQUIRED" : "NONE",
      scope: s === "U" ? "UNCHANGED" : "CHANGED",
      confidentialityImpact: word[c ?? "N"],
      integrityImpact: word[i ?? "N"],
      availabilityImpact: word[a ?? "N"],
    },
    exploitabilityScore: pick.score >= 7 ? 3.9 : 1.8,
    impactScore: pick.score >= 9 ? 5.9 : 3.6,
  };
}

function cvss2(pick: (typeof severities)[number]) {
  const score = Math.min(10, Math.round((pick.score - 0.3) * 10) / 10);
  return {
    source: "nvd@nist.gov",
    type: "Primary",
    cvssData: {
      version: "2.0",
      vectorString: score >= 7 ? "AV:N/AC:L/Au:N/C:P/I:P/A:P" : "AV:N/AC:M/Au:N/C:N/I:N/A:P",
      baseScore: score,
      accessVector: "NETWORK",
      accessComplexity: score >= 7 ? "LOW" : "MEDIUM",
      authentication: "NONE",
      confidentialityImpact: score >= 7 ? "PARTIAL" : "NONE",
      integrityImpact: score >= 7 ? "PARTIAL" : "NONE",
      availabilityImpact: "PARTIAL",
    },
    baseSeverity: score >= 7 ? "HIGH" : score >= 4 ? "MEDIUM" : "LOW",
    exploitabilityScore: 10.0,
    impactScore: score >= 7 ? 6.4 : 2.9,
    acInsufInfo: false,
    obtainAllPrivilege: false,
    obtainUserPrivilege: false,
    obtainOtherPrivilege: false,
    userInteractionRequired: false,
  };
}

function cvss4(pick: (typeof severities)[number], source: string) {
  return {
    source,
    type: "Secondary",
    cvssData: {
      version: "4.0",
      vectorString: `CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:${pick.score >= 7 ? "H" : "L"}/VI:N/VA:H/SC:N/SI:N/SA:N`,
      baseScore: Math.min(10, pick.score + 0.4),
      baseSeverity: pick.severity,
      attackVector: "NETWORK",
      attackComplexity: "LOW",
      attackRequirements: "NONE",
      privilegesRequired: "NONE",
      userInteraction: "NONE",
    },
  };
}

/** What decides one record: its stream (seed and index), its id, NVD's verdict and its two dates. */
export interface NvdSubject {
  seed: number;
  /** The record's index in its universe: the coordinate of its descriptions and product name. */
  cve: number;
  id: string;
  flag: NvdFlagValue;
  /** Moments (ms since the epoch). */
  published: number;
  lastModified: number;
}

/**
 * Record `subject` as NVD serves it inside `vulnerabilities[].cve`, drawing the rest from `random` (the
 * record's own stream, which the caller may have drawn the dates from first).
 */
export function nvdRecord(subject: NvdSubject, random: Random): Record<string, unknown> {
  const { seed, cve, id, flag, published, lastModified } = subject;
  const source = random.weighted(sources);
  if (flag === NvdFlag.rejected) {
    return {
      id,
      sourceIdentifier: source,
      published: nvdTime(published),
      lastModified: nvdTime(lastModified),
      vulnStatus: "Rejected",
      cveTags: [],
      descriptions: [
        {
          lang: "en",
          value: random.chance(0.5)
            ? "Rejected reason: This CVE ID has been rejected or withdrawn by its CVE Numbering Authority."
            : "** REJECT ** DO NOT USE THIS CANDIDATE NUMBER. Reason: This candidate is a duplicate of another CVE.",
        },
      ],
      metrics: {},
      references: [],
    };
  }
  const product = productName(seed, cve);
  let description = cveDescription(seed, cve);
  if (flag === NvdFlag.descriptionDisputed) {
    description = `** DISPUTED ** ${description} NOTE: the vendor disputes this because the behaviour is documented.`;
  } else if (flag === NvdFlag.taggedDisputed) {
    description = `${description} NOTE: this is disputed by the supplier because it requires a crafted local configuration.`;
  }
  const descriptions: { lang: string; value: string }[] = [{ lang: "en", value: description }];
  if (random.chance(NVD_WITH_SPANISH_DESCRIPTION)) {
    descriptions.push({ lang: "es", value: spanishDescription(seed, cve) });
  }
  const pick = random.pick(severities);
  const versions = random.weighted(NVD_CVSS_VERSIONS).split("+");
  const metrics: Record<string, unknown[]> = {};
  if (versions.includes("V40")) metrics.cvssMetricV40 = [cvss4(pick, source)];
  if (versions.includes("V31")) metrics.cvssMetricV31 = [cvss3("3.1", pick, "nvd@nist.gov", true)];
  if (versions.includes("V30")) metrics.cvssMetricV30 = [cvss3("3.0", pick, "nvd@nist.gov", true)];
  if (versions.includes("V2")) metrics.cvssMetricV2 = [cvss2(pick)];
  const record: Record<string, unknown> = {
    id,
    sourceIdentifier: source,
    published: nvdTime(published),
    lastModified: nvdTime(lastModified),
    vulnStatus: random.weighted(NVD_VULN_STATUS),
  };
  const tagged = flag === NvdFlag.taggedDisputed;
  if (tagged || !random.chance(NVD_WITHOUT_CVE_TAGS)) {
    record.cveTags = tagged ? [{ sourceIdentifier: source, tags: ["disputed"] }] : [];
  }
  record.descriptions = descriptions;
  record.metrics = metrics;
  if (random.chance(NVD_WITH_WEAKNESSES)) {
    record.weaknesses = [
      {
        source: "nvd@nist.gov",
        type: "Primary",
        description: [
          { lang: "en", value: random.chance(0.2) ? "NVD-CWE-noinfo" : `CWE-${random.between(20, 1300)}` },
        ],
      },
    ];
  }
  if (random.chance(NVD_WITH_CONFIGURATIONS)) {
    const matches = random.between(1, 3);
    record.configurations = [
      {
        nodes: [
          {
            operator: "OR",
            negate: false,
            cpeMatch: Array.from({ length: matches }, (_, match) => ({
              vulnerable: true,
              criteria: `cpe:2.3:a:${product}:${product}:*:*:*:*:*:*:*:*`,
              versionEndExcluding: `${match + 1}.${random.between(0, 20)}.${random.between(0, 9)}`,
              matchCriteriaId: `${(cve * 2_654_435_761 + match).toString(16).slice(-8).toUpperCase().padStart(8, "0")}-${random
                .nextUint32()
                .toString(16)
                .toUpperCase()
                .padStart(8, "0")
                .slice(0, 4)}-4${String(match).padStart(3, "0")}-8000-${String(cve).padStart(12, "0")}`,
            })),
          },
        ],
      },
    ];
  }
  const referenceCount = random.chance(0.1) ? random.between(8, 17) : random.between(1, 6);
  record.references = Array.from({ length: referenceCount }, (_, reference) => ({
    url:
      reference === 0
        ? `https://security-tracker.debian.org/tracker/${id}`
        : `https://${product}.example.org/security/${id.toLowerCase()}-${reference}`,
    source,
    ...(reference < 3
      ? { tags: reference === 1 ? ["Patch", "Vendor Advisory"] : ["Third Party Advisory"] }
      : {}),
  }));
  return record;
}

/**
 * Record `cve` (its index in the caller's universe, `seed` its stream) as a dataset has it: published in
 * the year its id names, last modified in the four years before the reference time.
 */
export function nvdRecordInYear(
  seed: number,
  cve: number,
  id: string,
  year: number,
  flag: NvdFlagValue,
): Record<string, unknown> {
  const random = Random.of(seed, "nvd", cve);
  const published = momentInYear(year, random);
  const lastModified = momentAfter(Math.max(published, referenceTime - 4 * 365 * 86_400_000), random);
  return nvdRecord({ seed, cve, id, flag, published, lastModified }, random);
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
    timestamp: nvdTime(referenceTime),
    vulnerabilities: records.map((cve) => ({ cve })),
  };
}
