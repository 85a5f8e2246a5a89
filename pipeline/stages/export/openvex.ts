import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import type { PublishedAdvisory } from "../../formats/advisory.ts";
import { ListedDocument, listedItemTexts } from "../../formats/listed-document.ts";
import {
  defaultPurlNamespace,
  defaultPurlQualifiers,
  type OpenVexDocument,
  type OpenVexStatement,
  openVexAuthor,
  openVexContext,
  openVexDocumentVersion,
  openVexTooling,
  type VexJustification,
  type VexStatus,
  vexJustifications,
  vexStatuses,
} from "../../formats/openvex.ts";
import type { Database } from "../../lib/db.ts";
import { PipelineError } from "../../lib/errors.ts";
import type { StagedRelease } from "../../lib/files.ts";
import { log } from "../../lib/log.ts";
import type { Config } from "../config.ts";
import { type BinaryPackageMap, readBinaryPackageMap } from "./binary-packages.ts";

/**
 * output/openvex.json: every advisory as one OpenVEX v0.2.0 statement
 * (https://github.com/openvex/spec/blob/main/OPENVEX-SPEC.md).
 *
 * Nothing here decides anything. Each advisory's OpenVEX status and justification are columns of
 * marts.mart_advisory_current (`vex_status`, `vex_justification`), which dbt takes from the rule catalogue
 * (rule_catalogue.csv, joined on the deciding rule_id) and, for analyst overrides, from the override reason
 * (override_reasons.csv). This module only reads them and writes the document.
 */

/** The OpenVEX status and justification dbt decided for one advisory (as the mart stores them). */
export interface VexDecision {
  status: string;
  justification: string | null;
}

/** The fields of a published advisory a statement is made of. */
export type VexAdvisory = Pick<
  PublishedAdvisory,
  "advisory_id" | "cve_id" | "package_name" | "fixed_version" | "explanation" | "decided_at"
>;

export interface OpenVexOptions {
  /** The run's clock: the document's timestamp. Never the wall clock, so a pinned clock reproduces it. */
  asOf: Date;
  /** config site.public_url: the document's @id is then under the published site. */
  publicUrl?: string | undefined;
  /** How products are named (config `openvex:`); the vendor's own purls when left out. */
  products?: ProductNaming | undefined;
  /**
   * A published openvex.json whose statements are this document's (stages/export.ts carries them over
   * when the marts and everything else they are made from are unchanged): read instead of the marts.
   */
  statementsFrom?: string | undefined;
}

/**
 * How a statement names its products: `pkg:deb/<namespace>/<name>[@<version>]?<qualifiers>`, one product per
 * binary package of the advisory's source package when a map is given (and the source package is in it),
 * else the source package's own name.
 */
export interface ProductNaming {
  namespace: string;
  qualifiers: Readonly<Record<string, string>>;
  binaryPackages?: BinaryPackageMap | undefined;
}

/** What the products are named after without any config: the vendor's images, as syft names their packages. */
export const defaultProductNaming: ProductNaming = {
  namespace: defaultPurlNamespace,
  qualifiers: defaultPurlQualifiers,
};

/** The product naming a config asks for, its Sources index read. */
export async function productNamingOf(settings: Config["openvex"]): Promise<ProductNaming> {
  return {
    namespace: settings.purl_namespace,
    qualifiers: settings.purl_qualifiers,
    ...(settings.binary_packages === undefined
      ? {}
      : { binaryPackages: await readBinaryPackageMap(settings.binary_packages) }),
  };
}

/** An advisory with the OpenVEX status and justification dbt decided for it. */
export interface VexRow extends VexAdvisory {
  vex_status: string;
  vex_justification: string | null;
}

/**
 * Every advisory's statement fields, ordered by advisory_id, a chunk at a time. Each row comes as one JSON
 * text, parsed here: DuckDB hands rows to JavaScript value by value, which at a million advisories took
 * half of this file's time, and JSON.parse is native.
 */
export async function* streamVexRows(db: Database): AsyncGenerator<VexRow[]> {
  const chunks = db.stream<{ fields: string }>(`
    select
      to_json(struct_pack(
        advisory_id,
        cve_id,
        package_name,
        fixed_version,
        explanation,
        decided_at := strftime(decided_at, '%Y-%m-%dT%H:%M:%SZ'),
        vex_status,
        vex_justification
      ))::varchar as fields
    from marts.mart_advisory_current
    order by advisory_id
  `);
  for await (const rows of chunks) yield rows.map((row) => JSON.parse(row.fields) as VexRow);
}

/** The statements of openvex.json, ordered as given, as VexRow chunks from streamVexRows. */
export function statementsOf(
  rows: readonly VexRow[],
  naming: ProductNaming = defaultProductNaming,
): OpenVexStatement[] {
  return rows.map((row) =>
    buildStatement(row, { status: row.vex_status, justification: row.vex_justification }, naming),
  );
}

/**
 * The document's @id, derived from a SHA-256 of everything else in it (statements, timestamp, author…), so
 * that the same inputs and clock give the same @id and any change of content gives a new one. With
 * site.public_url it is the address the file is published at, with the hash as fragment
 * (`<public_url>/openvex.json#sha256-<16 hex>`); without, it is in OpenVEX's shared public namespace
 * (`https://openvex.dev/docs/public/echo-advisory-<16 hex>`).
 *
 * The hash is of the document's canonical JSON (lib/hash.ts, keys sorted) without the @id, fed a statement
 * at a time: a million statements are never held together.
 */
class OpenVexIdHasher {
  private readonly hash = createHash("sha256");
  private readonly options: OpenVexOptions;
  private statementCount = 0;

  constructor(options: OpenVexOptions) {
    this.options = options;
    // Sorted keys: "@context", "author", then "statements", whose items follow; the rest in finish().
    this.hash.update(
      `{"@context":${JSON.stringify(openVexContext)},"author":${JSON.stringify(openVexAuthor)},"statements":[`,
    );
  }

  update(statements: readonly OpenVexStatement[]): void {
    for (const statement of statements) {
      this.hash.update(`${this.statementCount === 0 ? "" : ","}${canonicalStatementJson(statement)}`);
      this.statementCount += 1;
    }
  }

  finish(): string {
    this.hash.update(
      `],"timestamp":${JSON.stringify(rfc3339Seconds(this.options.asOf))},"tooling":${JSON.stringify(openVexTooling)},"version":${openVexDocumentVersion}}`,
    );
    return openVexId(this.options.publicUrl, this.hash.digest("hex").slice(0, 16));
  }
}

/** A statement's members (openVexStatementSchema, which allows no others) in sorted order. */
const sortedStatementMembers = [
  "action_statement",
  "impact_statement",
  "justification",
  "products",
  "status",
  "status_notes",
  "timestamp",
  "vulnerability",
] as const satisfies readonly (keyof OpenVexStatement)[];

/**
 * canonicalJson(statement), written by JSON.stringify from a copy with the members in sorted order: walking
 * every value in JavaScript was half of openvex.json's cost. The nested objects are already sorted as
 * buildStatement makes them (a product's one "@id"; the vulnerability's "@id" before "name"), and a member
 * left undefined is left out by both.
 */
export function canonicalStatementJson(statement: OpenVexStatement): string {
  const sorted: Partial<Record<keyof OpenVexStatement, unknown>> = {};
  for (const member of sortedStatementMembers) sorted[member] = statement[member];
  return JSON.stringify(sorted);
}

function openVexId(publicUrl: string | undefined, digest: string): string {
  return publicUrl
    ? `${publicUrl.replace(/\/+$/, "")}/openvex.json#sha256-${digest}`
    : `https://openvex.dev/docs/public/echo-advisory-${digest}`;
}

type OpenVexHeader = Omit<OpenVexDocument, "statements">;

function documentHeader(id: string, options: OpenVexOptions): OpenVexHeader {
  return {
    "@context": openVexContext,
    "@id": id,
    author: openVexAuthor,
    timestamp: rfc3339Seconds(options.asOf),
    version: openVexDocumentVersion,
    tooling: openVexTooling,
  };
}

/** The members before the statements, in file order. */
function headerMembers(header: OpenVexHeader): [string, unknown][] {
  return [
    ["@context", header["@context"]],
    ["@id", header["@id"]],
    ["author", header.author],
    ["timestamp", header.timestamp],
    ["version", header.version],
    ["tooling", header.tooling],
  ];
}

export function buildOpenVexDocument(
  advisories: readonly VexAdvisory[],
  vexByAdvisory: ReadonlyMap<string, VexDecision>,
  options: OpenVexOptions,
): OpenVexDocument {
  // JavaScript string comparison (UTF-16 code units), as advisory_current.json: no locale or collation.
  const sorted = [...advisories].sort((a, b) =>
    a.advisory_id < b.advisory_id ? -1 : a.advisory_id > b.advisory_id ? 1 : 0,
  );
  const statements = sorted.map((advisory) =>
    buildStatement(
      advisory,
      vexByAdvisory.get(advisory.advisory_id),
      options.products ?? defaultProductNaming,
    ),
  );
  const hasher = new OpenVexIdHasher(options);
  hasher.update(statements);
  return { ...documentHeader(hasher.finish(), options), statements };
}

/**
 * openvex.json written a chunk at a time, for a document too large to build whole: its @id depends on every
 * statement, so the header is written with a placeholder digest of the same length, and idPatch() says
 * which bytes to overwrite once the last statement is through.
 */
export class OpenVexWriter {
  private readonly hasher: OpenVexIdHasher;
  private readonly layout: ListedDocument;
  private readonly placeholder: string;
  private finalId: string | undefined;

  constructor(statementCount: number, options: OpenVexOptions) {
    this.hasher = new OpenVexIdHasher(options);
    this.placeholder = openVexId(options.publicUrl, "0".repeat(16));
    this.layout = new ListedDocument(
      headerMembers(documentHeader(this.placeholder, options)),
      "statements",
      statementCount,
    );
  }

  start(): string {
    return this.layout.start();
  }

  statements(statements: readonly OpenVexStatement[]): string {
    this.hasher.update(statements);
    return this.layout.items(statements.map((statement) => JSON.stringify(statement)));
  }

  /** Statements as an earlier document wrote them (JSON.stringify of each), written again as they are. */
  statementLines(lines: readonly string[]): string {
    this.hasher.update(lines.map((line) => JSON.parse(line) as OpenVexStatement));
    return this.layout.items(lines);
  }

  end(): string {
    const text = this.layout.end();
    this.finalId = this.hasher.finish();
    return text;
  }

  /** Where in the written bytes the placeholder @id is, and the bytes of the real one. */
  idPatch(): { position: number; bytes: Buffer } {
    if (this.finalId === undefined) throw new Error("the OpenVEX document is not finished");
    const start = this.start();
    const member = `"@id": ${JSON.stringify(this.placeholder)}`;
    const position = Buffer.byteLength(start.slice(0, start.indexOf(member) + '"@id": '.length));
    const bytes = Buffer.from(JSON.stringify(this.finalId));
    if (bytes.length !== Buffer.byteLength(JSON.stringify(this.placeholder)))
      throw new Error("the OpenVEX @id changed length");
    return { position, bytes };
  }
}

/**
 * Stages openvex.json in a release, a chunk of statements at a time, and writes its final @id into the
 * staged file once every statement has been hashed. Returns the staged file's path.
 */
export async function writeOpenVex(
  release: StagedRelease,
  path: string,
  db: Database,
  statementCount: number,
  options: OpenVexOptions,
): Promise<string> {
  const writer = new OpenVexWriter(statementCount, options);
  const naming = options.products ?? defaultProductNaming;
  const unmapped = new Set<string>();
  const { statementsFrom } = options;
  async function* text(): AsyncGenerator<string> {
    yield writer.start();
    if (statementsFrom !== undefined) {
      for await (const lines of listedItemTexts(statementsFrom, "statements"))
        yield writer.statementLines(lines);
      if (naming.binaryPackages) {
        const packages = await db.all<{ package_name: string }>(
          "select distinct package_name from marts.mart_advisory_current",
        );
        for (const { package_name } of packages)
          if (!naming.binaryPackages.has(package_name)) unmapped.add(package_name);
      }
    } else {
      for await (const rows of streamVexRows(db)) {
        if (naming.binaryPackages) {
          for (const row of rows)
            if (!naming.binaryPackages.has(row.package_name)) unmapped.add(row.package_name);
        }
        yield writer.statements(statementsOf(rows, naming));
      }
    }
    yield writer.end();
  }
  const staged = await release.stage(path, text());
  if (unmapped.size > 0) {
    const names = [...unmapped].sort();
    log.warn(
      "source packages missing from openvex.binary_packages: their statements name the source package, which a scanner matches only to a binary package of the same name",
      { count: names.length, packages: names.slice(0, 20) },
    );
  }
  const { position, bytes } = writer.idPatch();
  const file = await open(staged, "r+");
  try {
    await file.write(bytes, 0, bytes.length, position);
  } finally {
    await file.close();
  }
  return staged;
}

function buildStatement(
  advisory: VexAdvisory,
  decision: VexDecision | undefined,
  naming: ProductNaming,
): OpenVexStatement {
  if (decision === undefined) {
    throw new PipelineError(`${advisory.advisory_id}: no OpenVEX status in marts.mart_advisory_current`);
  }
  const status = checkedStatus(advisory, decision.status);
  const justification = checkedJustification(advisory, decision.justification);
  const statement: OpenVexStatement = {
    vulnerability: vulnerability(advisory.cve_id),
    timestamp: advisory.decided_at,
    products: productIds(advisory, status, naming).map((id) => ({ "@id": id })),
    status,
  };
  // The explanation is the customer-facing sentence; each status has the field the spec meant for it.
  if (status === "not_affected") {
    // The spec requires a justification or an impact statement, and recommends the machine-readable label
    // enriched by the text: the label when dbt gives one, the explanation as impact statement always.
    if (justification !== null) statement.justification = justification;
    statement.impact_statement = advisory.explanation;
  } else if (status === "affected") {
    // Required for affected: what the customer can expect (a fix pending, or none planned).
    statement.action_statement = advisory.explanation;
  } else {
    statement.status_notes = advisory.explanation;
  }
  return statement;
}

function vulnerability(id: string): OpenVexStatement["vulnerability"] {
  // A CVE has a public record to link to; Debian's TEMP-… ids (and anything else) are named only.
  return /^CVE-\d{4}-\d{4,}$/.test(id)
    ? { "@id": `https://nvd.nist.gov/vuln/detail/${id}`, name: id }
    : { name: id };
}

/**
 * The packages a statement is about, as purls (https://github.com/package-url/purl-spec):
 * `pkg:deb/<namespace>/<binary package>?<qualifiers>`, one per binary package the advisory's source package
 * builds when the map knows it, else the source package's own name. Scanners (grype through go-vex) match a
 * statement when a product's type, namespace and name equal the installed package's, the product's version
 * (if any) equals its version, and each of the product's qualifiers is on the package: so a package is named
 * as a scanner names it, binary package and all, not as a subcomponent of a source package.
 *
 * A `fixed` statement names the fixed version (`…/<binary>@<version>?…`): OpenVEX says "these product
 * versions contain a fix", so a versionless purl would claim that every version of the package, the
 * vulnerable ones before the fix included, is fixed. The other statuses are about the package as shipped,
 * whatever its version, and name it without one.
 *
 * Products come in the map's order (binary package names sorted, byte order, and unique), so the document
 * stays deterministic.
 */
function productIds(advisory: VexAdvisory, status: VexStatus, naming: ProductNaming): string[] {
  let version: string | undefined;
  if (status === "fixed") {
    if (advisory.fixed_version === null || advisory.fixed_version === "") {
      throw new PipelineError(
        `${advisory.advisory_id}: fixed without a fixed version, no OpenVEX product to name`,
      );
    }
    version = advisory.fixed_version;
  }
  const names = naming.binaryPackages?.get(advisory.package_name) ?? [advisory.package_name];
  return names.map((name) => debPurl(naming, name, version));
}

/** A deb purl in canonical form: qualifiers sorted by key, every component percent-encoded. */
export function debPurl(
  naming: Omit<ProductNaming, "binaryPackages">,
  name: string,
  version?: string,
): string {
  const qualifiers = Object.keys(naming.qualifiers)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => `${key}=${purlEncode(naming.qualifiers[key] as string)}`)
    .join("&");
  return `pkg:deb/${purlEncode(naming.namespace)}/${purlEncode(name)}${version === undefined ? "" : `@${purlEncode(version)}`}${qualifiers === "" ? "" : `?${qualifiers}`}`;
}

/**
 * Percent-encodes a purl component: everything but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~),
 * so a Debian version's `+` becomes %2B and its epoch colon %3A (1:2.3+dfsg-1 → 1%3A2.3%2Bdfsg-1).
 */
export function purlEncode(component: string): string {
  return encodeURIComponent(component).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function checkedStatus(advisory: VexAdvisory, value: string): VexStatus {
  if ((vexStatuses as readonly string[]).includes(value)) return value as VexStatus;
  throw new PipelineError(`${advisory.advisory_id}: '${value}' is not an OpenVEX v0.2.0 status`, {
    hint: "fix vex_status in dbt_project/seeds/rule_catalogue.csv",
  });
}

function checkedJustification(advisory: VexAdvisory, value: string | null): VexJustification | null {
  if (value === null || value === "") return null;
  if ((vexJustifications as readonly string[]).includes(value)) return value as VexJustification;
  throw new PipelineError(`${advisory.advisory_id}: '${value}' is not an OpenVEX v0.2.0 justification`, {
    hint: "fix vex_justification in dbt_project/seeds/rule_catalogue.csv or override_reasons.csv",
  });
}

/** 2026-01-15T10:00:00Z: RFC 3339 to the second, like the advisories' decided_at. */
function rfc3339Seconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * One statement per line, like advisory_current.json: valid JSON that stays compact at 40k+ advisories and
 * diffs by advisory between two runs.
 */
export function serialiseOpenVex(document: OpenVexDocument): string {
  return ListedDocument.serialise(
    headerMembers(document),
    "statements",
    document.statements.map((statement) => JSON.stringify(statement)),
  );
}
