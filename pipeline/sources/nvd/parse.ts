import { z } from "zod";
import { PipelineError } from "../../lib/errors.ts";
import { contentHash } from "../../lib/hash.ts";
import {
  describeValue,
  firstIssue,
  isPlainObject,
  normaliseTimestamp,
  parseJsonText,
  payloadRef,
  rejected,
  type UpstreamItem,
} from "../osv/helpers.ts";
import { cveIdPattern, nestedDeeperThan, nestingReason } from "../types.ts";
import {
  type CveFacts,
  type CvssScore,
  cvssVersions,
  type UpstreamObservation,
  type UpstreamSignal,
} from "../upstream.ts";

/**
 * NVD API 2.0 (`/rest/json/cves/2.0`): a response page `{ resultsPerPage, startIndex, totalResults,
 * format: "NVD_CVE", version: "2.0", timestamp, vulnerabilities: [{ cve }] }`, or one bare `cve` object.
 *
 * One observation per CVE, package-agnostic (package_name and release null):
 * - vulnStatus `Rejected` → rejected;
 * - a `disputed` cveTag (whoever set it) or an English description marked `** DISPUTED **` → disputed,
 *   the detail saying which, and the vulnStatus;
 * - otherwise undetermined, the detail being the vulnStatus (Deferred, Awaiting Analysis, Modified, …).
 * urgency: the baseSeverity of the newest CVSS version the record carries (v4.0, else v3.1, v3.0, v2),
 * the highest among that version's sources; upstream_modified_at: lastModified in UTC with `Z`.
 * payload_hash: the canonical hash of the `cve` object; payload_ref: `<ref>` or `<ref>#/vulnerabilities/<i>/cve`.
 *
 * Beside the observation, the record's facts (CveFacts, landed in landing.cve_facts): the English
 * description, vulnStatus, published and lastModified (UTC, `Z`), every CVSS score with its vector, source
 * and type (newest version first, Primary before Secondary), the CWE ids of `weaknesses` and the references.
 * A record NVD has not analysed simply has no metrics or weaknesses: those facts are empty, not an error.
 */

export interface NvdOptions {
  /** Where the page or record came from: the rejections' file and the base of payload_ref. */
  ref?: string | null;
}

const severityRank: Readonly<Record<string, number>> = { NONE: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 };

const nvdMetric = z.looseObject({
  source: z.string().optional(),
  type: z.string().optional(),
  // v3.x and v4.0 carry baseSeverity inside cvssData, v2 beside it.
  baseSeverity: z.string().optional(),
  cvssData: z
    .looseObject({
      baseSeverity: z.string().optional(),
      baseScore: z.number().min(0).max(10).optional(),
      vectorString: z.string().optional(),
    })
    .optional(),
});

const textField = (field: string) =>
  z.string({ error: (issue) => `${field} must be a string, found ${describeValue(issue.input)}` });

const nvdCve = z.looseObject(
  {
    id: z.string({ error: (issue) => `id must be a string, found ${describeValue(issue.input)}` }),
    vulnStatus: z.string({
      error: (issue) =>
        issue.input === undefined
          ? "vulnStatus is missing"
          : `vulnStatus must be a string, found ${describeValue(issue.input)}`,
    }),
    lastModified: z.string({
      error: (issue) =>
        issue.input === undefined
          ? "lastModified is missing"
          : `lastModified must be a string, found ${describeValue(issue.input)}`,
    }),
    published: textField("published").optional(),
    descriptions: z
      .array(z.looseObject({ lang: z.string(), value: z.string() }), {
        error: "descriptions must be a list of {lang, value}",
      })
      .optional(),
    cveTags: z
      .array(z.looseObject({ sourceIdentifier: z.string().optional(), tags: z.array(z.string()) }), {
        error: "cveTags must be a list of {sourceIdentifier, tags}",
      })
      .optional(),
    weaknesses: z
      .array(
        z.looseObject({ description: z.array(z.looseObject({ lang: z.string(), value: z.string() })) }),
        { error: "weaknesses must be a list of {source, type, description: [{lang, value}]}" },
      )
      .optional(),
    references: z
      .array(
        z.looseObject({
          url: textField("url"),
          source: textField("source").optional(),
          tags: z.array(textField("tag")).optional(),
        }),
        { error: "references must be a list of {url, source, tags}" },
      )
      .optional(),
    metrics: z
      .looseObject(
        {
          cvssMetricV40: z.array(nvdMetric).optional(),
          cvssMetricV31: z.array(nvdMetric).optional(),
          cvssMetricV30: z.array(nvdMetric).optional(),
          cvssMetricV2: z.array(nvdMetric).optional(),
        },
        { error: "metrics must be an object" },
      )
      .optional(),
  },
  { error: (issue) => `a CVE record must be an object, found ${describeValue(issue.input)}` },
);
export type NvdCve = z.infer<typeof nvdCve>;

const nvdPage = z.looseObject({
  resultsPerPage: z.number().int().nonnegative(),
  startIndex: z.number().int().nonnegative(),
  totalResults: z.number().int().nonnegative(),
  format: z.string(),
  version: z.string(),
  timestamp: z.string(),
  vulnerabilities: z.array(z.unknown()),
});

const disputedMarker = /\*\*\s*DISPUTED\s*\*\*/;

/** Signal and detail for a validated CVE record (see the module comment for the rules). */
export function nvdVerdict(cve: NvdCve): { signal: UpstreamSignal; detail: string } {
  if (cve.vulnStatus === "Rejected") return { signal: "rejected", detail: "Rejected" };
  const taggers = (cve.cveTags ?? [])
    .filter((entry) => entry.tags.includes("disputed"))
    .map((entry) => entry.sourceIdentifier ?? "unknown source");
  const marked = (cve.descriptions ?? []).some(
    (description) => description.lang === "en" && disputedMarker.test(description.value),
  );
  if (taggers.length > 0 || marked) {
    const why: string[] = [];
    if (taggers.length > 0) why.push(`cveTags disputed (${[...new Set(taggers)].join(", ")})`);
    if (marked) why.push("description marked ** DISPUTED **");
    return { signal: "disputed", detail: `${why.join(" and ")}; vulnStatus ${cve.vulnStatus}` };
  }
  return { signal: "undetermined", detail: cve.vulnStatus };
}

/** The baseSeverity of the newest CVSS version present, the highest across its sources; null without any. */
export function nvdSeverity(metrics: NvdCve["metrics"]): string | null {
  for (const { key } of cvssVersions) {
    const severities = (metrics?.[key] ?? [])
      .map((metric) => (metric.cvssData?.baseSeverity ?? metric.baseSeverity)?.toUpperCase())
      .filter((severity): severity is string => severity !== undefined && severity in severityRank);
    if (severities.length > 0) {
      return severities.reduce((best, severity) =>
        (severityRank[severity] ?? 0) > (severityRank[best] ?? 0) ? severity : best,
      );
    }
  }
  return null;
}

/** Every CVSS score of the record: newest version first, then Primary before Secondary, then as listed. */
export function nvdCvssScores(metrics: NvdCve["metrics"]): CvssScore[] {
  const scores: CvssScore[] = [];
  for (const { version, key } of cvssVersions) {
    const listed = (metrics?.[key] ?? []).flatMap((metric): CvssScore[] => {
      const data = metric.cvssData;
      if (data?.baseScore === undefined || data.vectorString === undefined) return [];
      return [
        {
          version,
          base_score: data.baseScore,
          base_severity: (data.baseSeverity ?? metric.baseSeverity)?.toUpperCase() ?? null,
          vector: data.vectorString,
          source: metric.source ?? null,
          type: metric.type ?? null,
        },
      ];
    });
    // A stable sort: Primary scores first, the others in the record's order.
    scores.push(...listed.sort((a, b) => Number(b.type === "Primary") - Number(a.type === "Primary")));
  }
  return scores;
}

/** The CWE ids of `weaknesses`, distinct and in numeric order; NVD-CWE-noinfo and NVD-CWE-Other are left out. */
export function nvdCwes(weaknesses: NvdCve["weaknesses"]): string[] {
  const ids = new Set<string>();
  for (const weakness of weaknesses ?? []) {
    for (const entry of weakness.description) {
      const id = entry.value.trim();
      if (/^CWE-\d+$/.test(id)) ids.add(id);
    }
  }
  return [...ids].sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
}

/** The record's facts (see the module comment); `published` and `lastModified` are already normalised. */
export function nvdFacts(
  cve: NvdCve,
  times: { published: string | null; lastModified: string },
  payload: { hash: string; ref: string | null },
): CveFacts {
  const english = (cve.descriptions ?? []).find((description) => description.lang === "en");
  return {
    source: "nvd",
    vuln_id: cve.id,
    record_id: cve.id,
    package_name: null,
    description: english?.value.trim() ? english.value.trim() : null,
    vuln_status: cve.vulnStatus,
    published: times.published,
    last_modified: times.lastModified,
    cvss: nvdCvssScores(cve.metrics),
    cwes: nvdCwes(cve.weaknesses),
    references: (cve.references ?? []).map((reference) => ({
      url: reference.url,
      source: reference.source ?? null,
      tags: reference.tags ?? [],
    })),
    payload_hash: payload.hash,
    payload_ref: payload.ref,
  };
}

/** One bare `cve` object (JSON text or parsed) → its observation and facts, or its rejection. */
export function* parseNvdRecord(input: unknown, options: NvdOptions = {}): Generator<UpstreamItem> {
  const ref = options.ref ?? null;
  const raw = typeof input === "string" ? parseJsonText(input, ref) : input;
  if (nestedDeeperThan(raw)) {
    yield rejected(ref, "cve", `the record is ${nestingReason()}`);
    return;
  }
  yield* recordItems(raw, ref, [], "cve");
}

function* recordItems(
  raw: unknown,
  ref: string | null,
  pointer: (string | number)[],
  fallbackKey: string,
): Generator<UpstreamItem> {
  const item = recordItem(raw, ref, pointer, fallbackKey);
  if (item.kind !== "record") {
    yield item;
    return;
  }
  // The facts first: a reader filtering by CVE (the adapter's kept()) sees them before the observation.
  yield { kind: "facts", facts: item.facts };
  yield { kind: "observation", observation: item.observation };
}

function recordItem(
  raw: unknown,
  ref: string | null,
  pointer: (string | number)[],
  fallbackKey: string,
): UpstreamItem | { kind: "record"; observation: UpstreamObservation; facts: CveFacts } {
  const recordKey = isPlainObject(raw) && typeof raw.id === "string" ? JSON.stringify(raw.id) : fallbackKey;
  const parsed = nvdCve.safeParse(raw);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error.issues, recordKey);
    return rejected(ref, issue.key, issue.message, raw);
  }
  const cve = parsed.data;
  if (!cveIdPattern.test(cve.id)) {
    return rejected(ref, `${recordKey}.id`, `${JSON.stringify(cve.id)} is not a CVE id (CVE-YYYY-NNNN)`);
  }
  const modified = normaliseTimestamp(cve.lastModified);
  if (modified === null) {
    return rejected(
      ref,
      `${recordKey}.lastModified`,
      `lastModified ${JSON.stringify(cve.lastModified)} is not an ISO-8601 time`,
    );
  }
  const published = cve.published === undefined ? null : normaliseTimestamp(cve.published);
  if (cve.published !== undefined && published === null) {
    return rejected(
      ref,
      `${recordKey}.published`,
      `published ${JSON.stringify(cve.published)} is not an ISO-8601 time`,
    );
  }
  const verdict = nvdVerdict(cve);
  const payload = { hash: contentHash(raw), ref: payloadRef(ref, pointer) };
  return {
    kind: "record",
    facts: nvdFacts(cve, { published, lastModified: modified }, payload),
    observation: {
      source: "nvd",
      vuln_id: cve.id,
      record_id: cve.id,
      aliases: [],
      package_name: null,
      release: null,
      signal: verdict.signal,
      fixed_version: null,
      urgency: nvdSeverity(cve.metrics),
      upstream_modified_at: modified,
      detail: verdict.detail,
      payload_hash: payload.hash,
      payload_ref: payload.ref,
    },
  };
}

/**
 * What is wrong with a response page as a whole: its shape, format or version, or counts that do not add
 * up (more records than resultsPerPage, records past totalResults, a short page that is not the last).
 * Empty when the page is sound.
 */
export function nvdPageProblems(input: unknown): string[] {
  const parsed = nvdPage.safeParse(input);
  if (!parsed.success) {
    if (!isPlainObject(input))
      return [`an NVD response page must be an object, found ${describeValue(input)}`];
    return parsed.error.issues.map((issue) => {
      const field = issue.path.map(String).join(".");
      const value = isPlainObject(input) ? input[String(issue.path[0])] : undefined;
      // JSON.stringify would print a number too large for a double (1e400, read as Infinity) as null.
      const found = typeof value === "number" ? String(value) : JSON.stringify(value);
      return value === undefined ? `${field} is missing` : `${field}: ${issue.message} (found ${found})`;
    });
  }
  const page = parsed.data;
  const problems: string[] = [];
  if (page.format !== "NVD_CVE")
    problems.push(`format is ${JSON.stringify(page.format)}, expected "NVD_CVE"`);
  if (page.version !== "2.0") problems.push(`version is ${JSON.stringify(page.version)}, expected "2.0"`);
  if (normaliseTimestamp(page.timestamp) === null) {
    problems.push(`timestamp ${JSON.stringify(page.timestamp)} is not an ISO-8601 time`);
  }
  const count = page.vulnerabilities.length;
  const end = page.startIndex + count;
  if (count > page.resultsPerPage) {
    problems.push(`the page holds ${count} records but resultsPerPage is ${page.resultsPerPage}`);
  }
  if (end > page.totalResults) {
    problems.push(
      `records ${page.startIndex}–${end - 1} run past totalResults ${page.totalResults} (startIndex ${page.startIndex}, ${count} records)`,
    );
  } else if (count < page.resultsPerPage && end < page.totalResults) {
    problems.push(
      `the page is short: ${count} of resultsPerPage ${page.resultsPerPage} records, yet records ${end}–${page.totalResults - 1} remain (truncated?)`,
    );
  } else if (count === 0 && page.startIndex < page.totalResults) {
    problems.push(
      `the page is empty, yet startIndex ${page.startIndex} is below totalResults ${page.totalResults}`,
    );
  }
  return problems;
}

/**
 * One response page (JSON text or parsed) → one item per record. A page that is unusable as a whole
 * (see nvdPageProblems) throws a PipelineError naming every problem; a bad record inside a sound page is
 * rejected alone.
 */
export function parseNvdPage(input: unknown, options: NvdOptions = {}): Generator<UpstreamItem> {
  const ref = options.ref ?? null;
  const page = typeof input === "string" ? parseJsonText(input, ref) : input;
  const problems = nestedDeeperThan(page) ? [`the page is ${nestingReason()}`] : nvdPageProblems(page);
  if (problems.length > 0) {
    throw new PipelineError(
      `malformed NVD response page: ${problems.join("; ")}`,
      ref ? { location: { file: ref } } : {},
    );
  }
  return pageItems((page as { vulnerabilities: unknown[] }).vulnerabilities, ref);
}

function* pageItems(vulnerabilities: unknown[], ref: string | null): Generator<UpstreamItem> {
  for (const [index, item] of vulnerabilities.entries()) {
    if (!isPlainObject(item) || !isPlainObject(item.cve)) {
      yield rejected(ref, `vulnerabilities[${index}]`, "expected {cve: {...}}", item);
      continue;
    }
    yield* recordItems(item.cve, ref, ["vulnerabilities", index, "cve"], `vulnerabilities[${index}].cve`);
  }
}

/** A page or a bare record, told apart by shape (`vulnerabilities`/`format` make a page). */
export function parseNvd(input: unknown, options: NvdOptions = {}): Generator<UpstreamItem> {
  const document = typeof input === "string" ? parseJsonText(input, options.ref ?? null) : input;
  if (isPlainObject(document) && ("vulnerabilities" in document || "format" in document)) {
    return parseNvdPage(document, options);
  }
  return parseNvdRecord(document, options);
}
