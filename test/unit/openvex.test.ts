import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OpenVexDocument, OpenVexStatement } from "../../pipeline/formats/openvex.ts";
import { canonicalJson, contentHash, sha256 } from "../../pipeline/lib/hash.ts";
import { parseSourcesIndex } from "../../pipeline/stages/export/binary-packages.ts";
import {
  buildOpenVexDocument,
  canonicalStatementJson,
  OpenVexWriter,
  purlEncode,
  serialiseOpenVex,
  type VexAdvisory,
  type VexDecision,
} from "../../pipeline/stages/export/openvex.ts";
import { catalogue, schemaErrors } from "../helpers/openvex-schema.ts";
import { repoRoot } from "../helpers/workspace.ts";

type Fixture = VexAdvisory & { rule_id: string; state: string };

const decidedAt = "2026-01-10T08:00:00Z";
const asOf = new Date("2026-01-15T10:00:00Z");

/** One advisory per state, as advisory_current.json would carry them (deliberately out of order). */
const fixtures: Fixture[] = [
  {
    advisory_id: "zlib:CVE-2023-45853",
    cve_id: "CVE-2023-45853",
    package_name: "zlib",
    state: "under_investigation",
    rule_id: "no_signal",
    fixed_version: null,
    explanation: "CVE-2023-45853 affects zlib and no fixed version is known yet.",
    decided_at: decidedAt,
  },
  {
    advisory_id: "curl:CVE-2023-38545",
    cve_id: "CVE-2023-38545",
    package_name: "curl",
    state: "fixed",
    rule_id: "vendor_fixed_version",
    fixed_version: "7.88.1-10+deb12u4",
    explanation: "CVE-2023-38545 is fixed in curl 7.88.1-10+deb12u4.",
    decided_at: decidedAt,
  },
  {
    advisory_id: "libgcrypt20:CVE-2024-2236",
    cve_id: "CVE-2024-2236",
    package_name: "libgcrypt20",
    state: "fixed",
    rule_id: "upstream_fixed_version",
    fixed_version: "1:2.3+dfsg-1",
    explanation: "CVE-2024-2236 is fixed upstream in libgcrypt20 1:2.3+dfsg-1.",
    decided_at: "2026-01-12T09:30:00Z",
  },
  {
    advisory_id: "openssl:CVE-2010-0928",
    cve_id: "CVE-2010-0928",
    package_name: "openssl",
    state: "wont_fix",
    rule_id: "upstream_wont_fix",
    fixed_version: null,
    explanation: "CVE-2010-0928 affects openssl, and the Debian tracker does not plan to fix it.",
    decided_at: decidedAt,
  },
  {
    advisory_id: "glibc:CVE-2025-0001",
    cve_id: "CVE-2025-0001",
    package_name: "glibc",
    state: "pending_upstream",
    rule_id: "upstream_pending",
    fixed_version: null,
    explanation: "CVE-2025-0001 affects glibc and no fixed version exists yet.",
    decided_at: decidedAt,
  },
  {
    advisory_id: "bash:CVE-2019-18276",
    cve_id: "CVE-2019-18276",
    package_name: "bash",
    state: "not_applicable",
    rule_id: "distro_not_affected",
    fixed_version: null,
    explanation: "CVE-2019-18276 does not affect bash: the Debian tracker lists it as not affected.",
    decided_at: decidedAt,
  },
  {
    advisory_id: "linux:CVE-2016-8660",
    cve_id: "CVE-2016-8660",
    package_name: "linux",
    state: "not_applicable",
    rule_id: "upstream_rejected",
    fixed_version: null,
    explanation: "CVE-2016-8660 does not affect linux: NVD rejected this CVE.",
    decided_at: decidedAt,
  },
  {
    advisory_id: "tar:TEMP-0290435-0B57B5",
    cve_id: "TEMP-0290435-0B57B5",
    package_name: "tar",
    state: "under_investigation",
    rule_id: "no_signal",
    fixed_version: null,
    explanation: "TEMP-0290435-0B57B5 affects tar and no fixed version is known yet.",
    decided_at: decidedAt,
  },
];

function vexByAdvisory(advisories: readonly Fixture[]): Map<string, VexDecision> {
  const rules = catalogue();
  return new Map(
    advisories.map((advisory) => [advisory.advisory_id, rules.get(advisory.rule_id) as VexDecision]),
  );
}

function build(advisories: readonly Fixture[] = fixtures, publicUrl?: string): OpenVexDocument {
  return buildOpenVexDocument(advisories, vexByAdvisory(advisories), { asOf, publicUrl });
}

function statementFor(document: OpenVexDocument, name: string): OpenVexStatement {
  const found = document.statements.find((statement) => statement.vulnerability.name === name);
  if (!found) throw new Error(`no statement for ${name}`);
  return found;
}

describe("the OpenVEX document built from advisories", () => {
  it("validates against the OpenVEX v0.2.0 schema, as built and as serialised", () => {
    const document = build();
    expect(schemaErrors(document)).toEqual([]);
    const parsed = JSON.parse(serialiseOpenVex(document)) as unknown;
    expect(parsed).toEqual(document);
    expect(schemaErrors(parsed)).toEqual([]);
  });

  it("has the document metadata from the run's clock, one statement per advisory sorted by advisory_id", () => {
    const document = build();
    expect(document).toMatchObject({
      "@context": "https://openvex.dev/ns/v0.2.0",
      author: "echo-advisory",
      timestamp: "2026-01-15T10:00:00Z",
      version: 1,
      tooling: "echo-advisory",
    });
    expect(document["@id"]).toMatch(/^https:\/\/openvex\.dev\/docs\/public\/echo-advisory-[0-9a-f]{16}$/);
    const expectedOrder = fixtures.map((advisory) => advisory.advisory_id).sort();
    expect(
      document.statements.map(
        (statement) =>
          `${(statement.products[0]?.["@id"] ?? "").replace(/^pkg:deb\/echo\//, "").replace(/[@?].*$/, "")}:${statement.vulnerability.name}`,
      ),
    ).toEqual(expectedOrder);
  });

  it("takes status and justification from the catalogue, and puts the explanation where each status needs it", () => {
    const document = build();
    expect(statementFor(document, "CVE-2023-38545")).toEqual({
      vulnerability: { "@id": "https://nvd.nist.gov/vuln/detail/CVE-2023-38545", name: "CVE-2023-38545" },
      timestamp: decidedAt,
      products: [{ "@id": "pkg:deb/echo/curl@7.88.1-10%2Bdeb12u4?distro=echo-1" }],
      status: "fixed",
      status_notes: "CVE-2023-38545 is fixed in curl 7.88.1-10+deb12u4.",
    });
    // An epoch's colon and the + are percent-encoded in the purl's version.
    expect(statementFor(document, "CVE-2024-2236")).toMatchObject({
      timestamp: "2026-01-12T09:30:00Z",
      products: [{ "@id": "pkg:deb/echo/libgcrypt20@1%3A2.3%2Bdfsg-1?distro=echo-1" }],
      status: "fixed",
    });
    for (const name of ["CVE-2010-0928", "CVE-2025-0001"]) {
      const statement = statementFor(document, name);
      expect(statement.status).toBe("affected");
      expect(statement.action_statement).toEqual(expect.stringContaining(name));
      expect(statement.products).toEqual([
        { "@id": expect.stringMatching(/^pkg:deb\/echo\/[a-z0-9]+\?distro=echo-1$/) },
      ]);
      expect(statement).not.toHaveProperty("justification");
      expect(statement).not.toHaveProperty("status_notes");
    }
    expect(statementFor(document, "CVE-2019-18276")).toEqual({
      vulnerability: { "@id": "https://nvd.nist.gov/vuln/detail/CVE-2019-18276", name: "CVE-2019-18276" },
      timestamp: decidedAt,
      products: [{ "@id": "pkg:deb/echo/bash?distro=echo-1" }],
      status: "not_affected",
      justification: "vulnerable_code_not_present",
      impact_statement: "CVE-2019-18276 does not affect bash: the Debian tracker lists it as not affected.",
    });
    const withoutJustification = statementFor(document, "CVE-2016-8660");
    expect(withoutJustification).toMatchObject({
      status: "not_affected",
      impact_statement: "CVE-2016-8660 does not affect linux: NVD rejected this CVE.",
    });
    expect(withoutJustification).not.toHaveProperty("justification");
    expect(statementFor(document, "CVE-2023-45853")).toMatchObject({
      products: [{ "@id": "pkg:deb/echo/zlib?distro=echo-1" }],
      status: "under_investigation",
      status_notes: "CVE-2023-45853 affects zlib and no fixed version is known yet.",
    });
  });

  it("names a Debian TEMP id without linking it to NVD", () => {
    expect(statementFor(build(), "TEMP-0290435-0B57B5").vulnerability).toEqual({
      name: "TEMP-0290435-0B57B5",
    });
  });

  it("is deterministic: input order does not matter, the same clock gives the same bytes", () => {
    const first = serialiseOpenVex(build());
    expect(serialiseOpenVex(build([...fixtures].reverse()))).toBe(first);
    const document = build();
    // One statement per line, so a diff between two runs shows the advisories that changed.
    expect(first.split("\n").filter((line) => line.startsWith('{"vulnerability"'))).toHaveLength(
      fixtures.length,
    );
    const later = buildOpenVexDocument(fixtures, vexByAdvisory(fixtures), {
      asOf: new Date("2026-01-16T10:00:00Z"),
    });
    expect(later["@id"]).not.toBe(document["@id"]);
    const changed = build(fixtures.slice(1));
    expect(changed["@id"]).not.toBe(document["@id"]);
  });

  it("is identified under site.public_url when one is configured", () => {
    const document = build(fixtures, "https://advisories.example.com/");
    expect(document["@id"]).toMatch(
      /^https:\/\/advisories\.example\.com\/openvex\.json#sha256-[0-9a-f]{16}$/,
    );
    expect(schemaErrors(document)).toEqual([]);
  });

  it("hashes each statement's canonical JSON into the @id, as lib/hash.ts writes it", () => {
    const document = build([...fixtures, { ...(fixtures[0] as Fixture), cve_id: "TEMP-0290435-0B57B5" }]);
    for (const statement of document.statements)
      expect(canonicalStatementJson(statement)).toBe(canonicalJson(statement));
    const { "@id": id, ...rest } = document;
    expect(id).toBe(
      `https://openvex.dev/docs/public/echo-advisory-${sha256(canonicalJson(rest)).slice(0, 16)}`,
    );
  });

  it("refuses to state an advisory it has no status for, or a fixed one without a version", () => {
    const [first] = fixtures as [Fixture];
    expect(() => buildOpenVexDocument([first], new Map(), { asOf })).toThrow(/no OpenVEX status/);
    const fixed = fixtures.find((advisory) => advisory.state === "fixed") as Fixture;
    expect(() => build([{ ...fixed, fixed_version: null }])).toThrow(/without a fixed version/);
    expect(() =>
      buildOpenVexDocument(
        [first],
        new Map([[first.advisory_id, { status: "exploitable", justification: null }]]),
        {
          asOf,
        },
      ),
    ).toThrow(/not an OpenVEX v0.2.0 status/);
  });

  it("written a few statements at a time, is byte for byte the document built whole, its @id patched in", () => {
    for (const publicUrl of [undefined, "https://advisories.example.com/"]) {
      const whole = build(fixtures, publicUrl);
      const writer = new OpenVexWriter(whole.statements.length, { asOf, publicUrl });
      let text = writer.start();
      for (let start = 0; start < whole.statements.length; start += 3)
        text += writer.statements(whole.statements.slice(start, start + 3));
      text += writer.end();
      const bytes = Buffer.from(text);
      const { position, bytes: id } = writer.idPatch();
      id.copy(bytes, position);
      expect(bytes.toString()).toBe(serialiseOpenVex(whole));
      // The @id's digest is the SHA-256 of the canonical JSON of everything else in the document.
      const { "@id": documentId, ...content } = whole;
      expect(documentId.endsWith(contentHash(content).slice(0, 16))).toBe(true);
    }
  });

  it("refuses to finish a streamed document whose statement count differs from the one announced", () => {
    const whole = build();
    const short = new OpenVexWriter(whole.statements.length + 1, { asOf });
    short.start();
    short.statements(whole.statements);
    expect(() => short.end()).toThrow(/announced/);
    const long = new OpenVexWriter(1, { asOf });
    expect(() => long.statements(whole.statements.slice(0, 2))).toThrow(/more than the 1 items announced/);
    expect(() => long.idPatch()).toThrow(/not finished/);
  });

  it("percent-encodes purl components beyond RFC 3986's unreserved characters", () => {
    expect(purlEncode("2:1.0~rc1+b2")).toBe("2%3A1.0~rc1%2Bb2");
    expect(purlEncode("libstdc++6")).toBe("libstdc%2B%2B6");
    expect(purlEncode("a!b*c'd(e)")).toBe("a%21b%2Ac%27d%28e%29");
  });
});

describe("the OpenVEX products", () => {
  const binaryPackages = parseSourcesIndex(
    readFileSync(join(repoRoot, "test/fixtures/openvex/Sources"), "utf8"),
    "Sources",
  );
  const mapped = (advisories: readonly Fixture[] = fixtures) =>
    buildOpenVexDocument(advisories, vexByAdvisory(advisories), {
      asOf,
      products: { namespace: "echo", qualifiers: { distro: "echo-1" }, binaryPackages },
    });

  it("names every binary package of a mapped source package, as syft names the packages of the vendor's images", () => {
    const document = mapped();
    expect(schemaErrors(document)).toEqual([]);
    expect(statementFor(document, "CVE-2023-38545").products).toEqual(
      [
        "curl",
        "libcurl3-gnutls",
        "libcurl3-nss",
        "libcurl4",
        "libcurl4-doc",
        "libcurl4-gnutls-dev",
        "libcurl4-nss-dev",
        "libcurl4-openssl-dev",
      ].map((binary) => ({ "@id": `pkg:deb/echo/${binary}@7.88.1-10%2Bdeb12u4?distro=echo-1` })),
    );
    // A source package the index does not know keeps its own name: a scanner matches it only to a binary
    // package of that name.
    expect(statementFor(document, "CVE-2023-45853").products).toEqual([
      { "@id": "pkg:deb/echo/zlib?distro=echo-1" },
    ]);
    expect(serialiseOpenVex(mapped([...fixtures].reverse()))).toBe(serialiseOpenVex(document));
    expect(document["@id"]).not.toBe(build()["@id"]);
  });

  it("takes the namespace and qualifiers from config, qualifiers sorted by key and percent-encoded", () => {
    const naming = (qualifiers: Record<string, string>) =>
      buildOpenVexDocument(fixtures, vexByAdvisory(fixtures), {
        asOf,
        products: { namespace: "debian", qualifiers },
      });
    expect(statementFor(naming({ distro: "debian-12", arch: "amd64" }), "CVE-2024-2236").products).toEqual([
      { "@id": "pkg:deb/debian/libgcrypt20@1%3A2.3%2Bdfsg-1?arch=amd64&distro=debian-12" },
    ]);
    expect(statementFor(naming({ distro: "echo 1:b" }), "CVE-2019-18276").products).toEqual([
      { "@id": "pkg:deb/debian/bash?distro=echo%201%3Ab" },
    ]);
    expect(statementFor(naming({}), "CVE-2019-18276").products).toEqual([{ "@id": "pkg:deb/debian/bash" }]);
  });
});

describe("the OpenVEX schema", () => {
  const valid = () =>
    structuredClone(build()) as unknown as Record<string, unknown> & {
      statements: Record<string, unknown>[];
    };
  const statementWith = (status: string) => {
    const document = valid();
    const statement = document.statements.find((entry) => entry.status === status);
    if (!statement) throw new Error(`no ${status} statement`);
    return { document, statement };
  };
  const failingKeywords = (document: unknown) => schemaErrors(document).map((error) => error.keyword);

  it("rejects an affected statement without an action statement", () => {
    const { document, statement } = statementWith("affected");
    delete statement.action_statement;
    expect(failingKeywords(document)).toContain("required");
    expect(schemaErrors(document).some((error) => error.params.missingProperty === "action_statement")).toBe(
      true,
    );
  });

  it("rejects a not_affected statement with neither justification nor impact statement", () => {
    const { document, statement } = statementWith("not_affected");
    delete statement.justification;
    delete statement.impact_statement;
    expect(failingKeywords(document)).toContain("anyOf");
  });

  it("accepts a not_affected statement with only a justification", () => {
    const { document, statement } = statementWith("not_affected");
    statement.justification = "component_not_present";
    delete statement.impact_statement;
    expect(schemaErrors(document)).toEqual([]);
  });

  it("rejects an unknown status, an unknown justification and a justification on another status", () => {
    const unknownStatus = statementWith("fixed");
    unknownStatus.statement.status = "exploitable";
    expect(failingKeywords(unknownStatus.document)).toContain("enum");
    const unknownJustification = statementWith("not_affected");
    unknownJustification.statement.justification = "not_my_problem";
    expect(failingKeywords(unknownJustification.document)).toContain("enum");
    const misplaced = statementWith("fixed");
    misplaced.statement.justification = "component_not_present";
    expect(failingKeywords(misplaced.document)).toContain("not");
  });

  it("rejects another @context, a missing required field and fields the specification does not define", () => {
    const oldContext = valid();
    oldContext["@context"] = "https://openvex.dev/ns";
    expect(failingKeywords(oldContext)).toContain("const");
    const noAuthor = valid();
    delete noAuthor.author;
    expect(failingKeywords(noAuthor)).toContain("required");
    const stringVersion = valid();
    stringVersion.version = "1";
    expect(failingKeywords(stringVersion)).toContain("type");
    const extra = valid();
    extra.generated_at = "2026-01-15T10:00:00Z";
    expect(failingKeywords(extra)).toContain("additionalProperties");
    const extraInStatement = statementWith("fixed");
    extraInStatement.statement.fixed_version = "1.0";
    expect(failingKeywords(extraInStatement.document)).toContain("additionalProperties");
  });

  it("rejects a product that is not identified, a statement without products and a bad timestamp", () => {
    const anonymous = statementWith("fixed");
    anonymous.statement.products = [{}];
    expect(failingKeywords(anonymous.document)).toContain("anyOf");
    const noProducts = statementWith("fixed");
    delete noProducts.statement.products;
    expect(failingKeywords(noProducts.document)).toContain("required");
    const badTime = valid();
    badTime.timestamp = "15/01/2026 10:00";
    expect(failingKeywords(badTime)).toContain("format");
    const empty = valid();
    empty.statements = [];
    expect(failingKeywords(empty)).toContain("minItems");
  });
});
