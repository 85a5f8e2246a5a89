import { z } from "zod";
import { PipelineError } from "../../lib/errors.ts";
import { contentHash } from "../../lib/hash.ts";
import { jsonSyntaxError } from "../echo_data/index.ts";
import { describeValue, firstIssue, isPlainObject, normaliseTimestamp, payloadRef } from "../osv/helpers.ts";
import {
  cveIdPattern,
  excerpt,
  type FetchItem,
  nestedDeeperThan,
  nestingReason,
  type Rejection,
  tooLong,
} from "../types.ts";

/**
 * CISA's Known Exploited Vulnerabilities catalogue (known_exploited_vulnerabilities.json, CISA's JSON Schema
 * beside the real copy in ../shared/data/upstream/kev/): `{ title, catalogVersion, dateReleased, count,
 * vulnerabilities: [ { cveID, vendorProject, product, vulnerabilityName, dateAdded, shortDescription,
 * requiredAction, dueDate, knownRansomwareCampaignUse?, notes?, cwes? } ] }`.
 *
 * One observation per entry. The catalogue's own fields (catalogVersion, dateReleased, count, the list) must
 * be sound or the whole document is refused (a PipelineError naming the file and the key): without them no
 * entry can be dated to a catalogue. A bad entry is rejected alone, named by its position and CVE id, and the
 * others go on. A CVE listed twice keeps its first entry; the later ones are rejected.
 */

export const ransomwareUses = ["known", "unknown"] as const;

export const kevEntry = z.object({
  cve_id: z.string(),
  vendor_project: z.string(),
  product: z.string(),
  vulnerability_name: z.string().nullable(),
  short_description: z.string().nullable(),
  /** YYYY-MM-DD. */
  date_added: z.string(),
  /** YYYY-MM-DD. */
  due_date: z.string(),
  required_action: z.string().nullable(),
  known_ransomware_use: z.enum(ransomwareUses),
  notes: z.string().nullable(),
  cwes: z.array(z.string()),
  /** The catalogue the entry was read from: its catalogVersion and dateReleased (UTC, `Z`). */
  catalog_version: z.string(),
  catalog_released_at: z.string(),
  /** sha256 of the raw entry as received; where it stood (`<ref>#/vulnerabilities/<i>`). */
  payload_hash: z.string(),
  payload_ref: z.string().nullable(),
});
export type KevEntry = z.infer<typeof kevEntry>;
export type KevItem = FetchItem<KevEntry>;

/** Real texts are under 600 characters; far longer ones are a broken export. */
const maxTextLength = 16 * 1024;
const isoDate = /^(\d{4})-(\d{2})-(\d{2})$/;
const cwePattern = /^CWE-\d+$/;

/** Whether `value` is a real calendar date written YYYY-MM-DD. */
export function isCalendarDate(value: string): boolean {
  const match = isoDate.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const text = (field: string) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `${field} is missing`
          : `${field} must be a string, found ${describeValue(issue.input)}`,
    })
    .max(maxTextLength, `${field} is longer than ${maxTextLength} characters`);

const date = (field: string) =>
  text(field).refine(isCalendarDate, {
    error: (issue) => `${field} ${shown(issue.input)} is not a date (YYYY-MM-DD)`,
  });

const entrySchema = z.looseObject(
  {
    cveID: text("cveID").refine((value) => cveIdPattern.test(value), {
      error: (issue) => `cveID ${shown(issue.input)} is not a CVE id (CVE-YYYY-NNNN)`,
    }),
    vendorProject: text("vendorProject"),
    product: text("product"),
    vulnerabilityName: text("vulnerabilityName"),
    dateAdded: date("dateAdded"),
    shortDescription: text("shortDescription"),
    requiredAction: text("requiredAction"),
    dueDate: date("dueDate"),
    knownRansomwareCampaignUse: z
      .enum(["Known", "Unknown"], {
        error: (issue) =>
          `knownRansomwareCampaignUse must be "Known" or "Unknown", found ${shown(issue.input)}`,
      })
      .optional(),
    notes: text("notes").optional(),
    cwes: z
      .array(
        z
          .string({ error: (issue) => `a CWE must be a string, found ${describeValue(issue.input)}` })
          .regex(cwePattern, "a CWE must be written CWE-NNN"),
        { error: (issue) => `cwes must be a list of CWE ids, found ${describeValue(issue.input)}` },
      )
      .optional(),
  },
  { error: (issue) => `an entry must be an object, found ${describeValue(issue.input)}` },
);

const catalogueProblems = (document: Record<string, unknown>): string[] => {
  const problems: string[] = [];
  const { catalogVersion, dateReleased, count, vulnerabilities, title } = document;
  if (catalogVersion === undefined) problems.push("catalogVersion is missing");
  else if (typeof catalogVersion !== "string" || catalogVersion.trim() === "")
    problems.push(`catalogVersion must be a non-empty string, found ${shown(catalogVersion)}`);
  else if (tooLong("catalogVersion", catalogVersion))
    problems.push(tooLong("catalogVersion", catalogVersion) as string);
  if (dateReleased === undefined) problems.push("dateReleased is missing");
  else if (typeof dateReleased !== "string" || normaliseTimestamp(dateReleased) === null)
    problems.push(`dateReleased must be an ISO-8601 date and time, found ${shown(dateReleased)}`);
  if (title !== undefined && typeof title !== "string")
    problems.push(`title must be a string, found ${describeValue(title)}`);
  if (count === undefined) problems.push("count is missing");
  else if (typeof count !== "number" || !Number.isInteger(count) || count < 0)
    problems.push(`count must be a whole number, found ${shown(count)}`);
  if (vulnerabilities === undefined) problems.push("vulnerabilities is missing");
  else if (!Array.isArray(vulnerabilities))
    problems.push(`vulnerabilities must be a list, found ${shown(vulnerabilities)}`);
  else if (typeof count === "number" && Number.isInteger(count) && count !== vulnerabilities.length)
    problems.push(
      `count is ${count} but vulnerabilities holds ${vulnerabilities.length} entries (truncated?)`,
    );
  return problems;
};

function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(excerpt(value, 60));
  if (typeof value === "number") return String(value);
  return isPlainObject(value) ? "an object" : describeValue(value);
}

export interface KevOptions {
  /** Where the catalogue came from (a file path or URL): the rejections' file and the base of payload_ref. */
  ref?: string | null;
}

function rejection(ref: string | null, key: string, reason: string, raw?: unknown): KevItem {
  const text = raw === undefined ? undefined : typeof raw === "string" ? raw : JSON.stringify(raw);
  const found: Rejection = {
    location: ref ? { file: ref, key } : { key },
    reason,
    ...(text ? { excerpt: excerpt(text) } : {}),
  };
  return { kind: "rejected", rejection: found };
}

/**
 * The catalogue (JSON text or parsed) → one item per entry. Throws a PipelineError, naming the file and
 * every problem, when the document as a whole is unusable (see the module comment).
 */
export function parseKevCatalogue(input: unknown, options: KevOptions = {}): Generator<KevItem> {
  const ref = options.ref ?? null;
  const where = ref ? { file: ref } : {};
  let document = input;
  if (typeof input === "string") {
    try {
      document = JSON.parse(input);
    } catch (error) {
      if (ref) throw jsonSyntaxError(error, input, ref);
      throw new PipelineError(`invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (!isPlainObject(document)) {
    throw new PipelineError(
      `the KEV catalogue must be an object with catalogVersion, dateReleased, count and vulnerabilities, found ${describeValue(document)}`,
      { location: where },
    );
  }
  if (nestedDeeperThan(document)) {
    throw new PipelineError(`the catalogue is ${nestingReason()}`, { location: where });
  }
  const problems = catalogueProblems(document);
  if (problems.length > 0) {
    const key = /^(\w+)/.exec(problems[0] as string)?.[1];
    throw new PipelineError(`not a usable KEV catalogue: ${problems.join("; ")}`, {
      location: { ...where, ...(key ? { key } : {}) },
    });
  }
  return entries(
    document as { catalogVersion: string; dateReleased: string; vulnerabilities: unknown[] },
    ref,
  );
}

function* entries(
  catalogue: { catalogVersion: string; dateReleased: string; vulnerabilities: unknown[] },
  ref: string | null,
): Generator<KevItem> {
  const catalogVersion = catalogue.catalogVersion.trim();
  const released = normaliseTimestamp(catalogue.dateReleased) as string;
  const firstAt = new Map<string, number>();
  for (const [index, raw] of catalogue.vulnerabilities.entries()) {
    const position = `vulnerabilities[${index}]`;
    const id = isPlainObject(raw) && typeof raw.cveID === "string" ? raw.cveID : null;
    const label = id === null ? "" : `${excerpt(id, 40)}: `;
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = firstIssue(parsed.error.issues, position);
      yield rejection(ref, issue.key, `${label}${issue.message}`, raw);
      continue;
    }
    const entry = parsed.data;
    const long = tooLong("vendorProject", entry.vendorProject) ?? tooLong("product", entry.product);
    if (long) {
      yield rejection(ref, position, `${label}${long}`, raw);
      continue;
    }
    const first = firstAt.get(entry.cveID);
    if (first !== undefined) {
      yield rejection(
        ref,
        `${position}.cveID`,
        `${label}listed again (first at vulnerabilities[${first}], which is kept)`,
        raw,
      );
      continue;
    }
    firstAt.set(entry.cveID, index);
    yield {
      kind: "observation",
      observation: {
        cve_id: entry.cveID,
        vendor_project: entry.vendorProject,
        product: entry.product,
        vulnerability_name: blankToNull(entry.vulnerabilityName),
        short_description: blankToNull(entry.shortDescription),
        date_added: entry.dateAdded,
        due_date: entry.dueDate,
        required_action: blankToNull(entry.requiredAction),
        known_ransomware_use: entry.knownRansomwareCampaignUse === "Known" ? "known" : "unknown",
        notes: blankToNull(entry.notes),
        cwes: [...new Set(entry.cwes ?? [])].sort(),
        catalog_version: catalogVersion,
        catalog_released_at: released,
        payload_hash: contentHash(raw),
        payload_ref: payloadRef(ref, ["vulnerabilities", index]),
      },
    };
  }
}

function blankToNull(value: string | undefined): string | null {
  const trimmed = value?.trim() ?? "";
  return trimmed === "" ? null : trimmed;
}
