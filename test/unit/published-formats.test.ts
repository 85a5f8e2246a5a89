import { describe, expect, it } from "vitest";
import {
  advisoryCurrentSchema,
  buildAdvisoryDocument,
  serialiseAdvisoryDocument,
} from "../../pipeline/formats/advisory-current.ts";
import { changesDocumentSchema } from "../../pipeline/formats/changes.ts";
import { cveFactsDocumentSchema } from "../../pipeline/formats/cve-facts.ts";
import { publicSchemas } from "../../pipeline/formats/json-schema.ts";
import { ledgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import { openVexDocumentSchema } from "../../pipeline/formats/openvex.ts";
import { jsonSchemaValidator } from "../helpers/published-formats.ts";

/**
 * The zod schemas of pipeline/formats and the JSON Schemas generated from them refuse what breaks the
 * contract. (That what the pipeline writes is accepted is checked on every run of the lifecycle test and the
 * upstream-run test, through test/helpers/published-formats.ts.)
 */
describe("published formats", () => {
  it("every public file's JSON Schema compiles", () => {
    for (const entry of publicSchemas) expect(typeof jsonSchemaValidator(entry.name)).toBe("function");
  });

  it("cve_facts.json: an unknown CVSS version or rating, a bad time or an unknown member is refused", () => {
    const validate = jsonSchemaValidator("cve_facts");
    const item = {
      cve_id: "CVE-2024-0001",
      description: { text: "A heap overflow.", source: "nvd" },
      nvd: {
        status: "Analyzed",
        published: "2024-02-20T15:15:08Z",
        last_modified: "2025-03-11T09:30:00Z",
        cvss: [
          {
            version: "3.1",
            base_score: 9.8,
            base_severity: "CRITICAL",
            vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            source: "nvd@nist.gov",
            type: "Primary",
          },
        ],
        cwes: ["CWE-787"],
        references: [{ url: "https://example.org/a", source: "cna@example.org", tags: ["Patch"] }],
      },
      debian: {
        description: null,
        urgency: "medium**",
        tracker_url: "https://security-tracker.debian.org/tracker/CVE-2024-0001",
      },
      aliases: ["DEBIAN-CVE-2024-0001"],
      severity: { base_score: 9.8, rating: "critical", version: "3.1", source: "nvd" },
      published: "2024-02-20T15:15:08Z",
    };
    const unknown = {
      ...item,
      cve_id: "CVE-2024-0002",
      description: null,
      nvd: null,
      debian: null,
      aliases: [],
      severity: null,
      published: null,
    };
    const valid = {
      $schema: "schemas/cve_facts.schema.json",
      schema_version: 1,
      run_id: "20260201T000000Z",
      generated_at: "2026-02-01T00:00:00.000Z",
      cve_count: 2,
      cves: [item, unknown],
    };
    expect(validate(valid)).toBe(true);
    expect(cveFactsDocumentSchema.safeParse(valid).success).toBe(true);
    const broken = [
      { ...valid, cves: [{ ...item, severity: { ...item.severity, version: "5.0" } }] },
      { ...valid, cves: [{ ...item, severity: { ...item.severity, rating: "severe" } }] },
      { ...valid, cves: [{ ...item, nvd: { ...item.nvd, last_modified: "yesterday" } }] },
      { ...valid, cves: [{ ...item, epss: 0.5 }] },
      { ...valid, schema_version: 2 },
    ];
    for (const document of broken) {
      expect(validate(document)).toBe(false);
      expect(cveFactsDocumentSchema.safeParse(document).success).toBe(false);
    }
  });

  it("advisory_current.json: a bad time, a negative count, a malformed advisory or an unknown member is refused", () => {
    const validate = jsonSchemaValidator("advisory_current");
    const advisory = {
      advisory_id: "curl:CVE-2024-0001",
      cve_id: "CVE-2024-0001",
      package_name: "curl",
      state: "fixed",
      state_type: "final",
      fixed_version: "8.5.0-2",
      confidence: 0.9,
      explanation: "Fixed.",
      reason_code: "fix_available",
      rule_id: "vendor_fixed_version",
      contributing_sources: ["echo_data"],
      dissenting_sources: [],
      decided_at: "2026-02-01T00:00:00Z",
      first_seen: "2026-02-01T00:00:00Z",
      evidence: [],
      unaffected_from_version: null,
      known_exploited: {
        date_added: "2021-12-10",
        due_date: "2021-12-24",
        ransomware_use: "known",
        vulnerability_name: "Apache Log4j2 Remote Code Execution Vulnerability",
        required_action: "Apply updates per vendor instructions.",
        catalog_version: "2025.08.25",
      },
      history_url: "advisory/?id=curl%3ACVE-2024-0001",
    };
    const exploited = advisory.known_exploited;
    const valid = {
      $schema: "schemas/advisory_current.schema.json",
      schema_version: 2,
      run_id: "20260201T000000Z",
      generated_at: "2026-02-01T00:00:00.000Z",
      advisory_count: 1,
      advisories: [advisory],
    };
    expect(validate(valid)).toBe(true);
    expect(advisoryCurrentSchema.safeParse(valid).success).toBe(true);
    // An advisory KEV does not list, and one not applicable from a version, are valid too.
    const notListed = {
      ...advisory,
      known_exploited: null,
      unaffected_from_version: "0",
      fixed_version: null,
    };
    expect(validate({ ...valid, advisories: [notListed] })).toBe(true);
    expect(advisoryCurrentSchema.safeParse({ ...valid, advisories: [notListed] }).success).toBe(true);
    // Each fault alone is refused by both.
    for (const broken of [
      { ...valid, generated_at: "yesterday" },
      { ...valid, schema_version: 1 },
      { ...valid, run_id: "2026-02-01" },
      (({ run_id: _, ...rest }) => rest)(valid),
      { ...valid, advisory_count: -1 },
      { ...valid, advisories: [{ ...advisory, advisory_id: "no-colon" }] },
      { ...valid, advisories: [{ ...advisory, confidence: 1.5 }] },
      { ...valid, advisories: [{ ...advisory, state_type: "maybe" }] },
      { ...valid, extra: 1 },
      { ...valid, advisories: [{ ...advisory, extra: 1 }] },
      {
        ...valid,
        advisories: [{ ...advisory, known_exploited: { ...exploited, date_added: "2021-12-32" } }],
      },
      { ...valid, advisories: [{ ...advisory, known_exploited: { ...exploited, due_date: "24/12/2021" } }] },
      { ...valid, advisories: [{ ...advisory, known_exploited: { ...exploited, ransomware_use: "Known" } }] },
      { ...valid, advisories: [{ ...advisory, known_exploited: { ...exploited, extra: 1 } }] },
      { ...valid, advisories: [{ ...advisory, known_exploited: true }] },
      { ...valid, advisories: [{ ...advisory, unaffected_from_version: 1 }] },
      { ...valid, advisories: [(({ known_exploited: _, ...rest }) => rest)(advisory)] },
    ]) {
      expect(validate(broken), JSON.stringify(broken).slice(0, 80)).toBe(false);
      expect(advisoryCurrentSchema.safeParse(broken).success, JSON.stringify(broken).slice(0, 80)).toBe(
        false,
      );
    }
  });

  it("openvex.json: an unknown status or a product that is not a purl is refused", () => {
    const validate = jsonSchemaValidator("openvex");
    const statement = {
      vulnerability: { name: "CVE-2024-0001" },
      timestamp: "2026-02-01T00:00:00Z",
      products: [{ "@id": "pkg:deb/debian/curl" }],
      status: "affected",
      action_statement: "No fix yet.",
    };
    const document = (statements: unknown[]) => ({
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://openvex.dev/docs/public/echo-advisory-0",
      author: "echo-advisory",
      timestamp: "2026-02-01T00:00:00Z",
      version: 1,
      tooling: "echo-advisory",
      statements,
    });
    expect(validate(document([statement]))).toBe(true);
    expect(openVexDocumentSchema.safeParse(document([statement])).success).toBe(true);
    for (const bad of [
      { ...statement, status: "maybe" },
      { ...statement, products: [{ "@id": "curl" }] },
    ]) {
      expect(validate(document([bad]))).toBe(false);
      expect(openVexDocumentSchema.safeParse(document([bad])).success).toBe(false);
    }
  });

  it("a ledger line names its run by id", () => {
    const validate = jsonSchemaValidator("ledger_line");
    const line = {
      run_id: "2026-02-01",
      as_of: "2026-02-01T00:00:00.000Z",
      advisory_id: "curl:CVE-2024-0001",
      from_state: null,
      to_state: "fixed",
      state_type: "final",
      rule_id: "vendor_fixed_version",
      reason_code: "fix_available",
      fixed_version: "1.0-1",
      unaffected_from_version: null,
      confidence: 0.9,
      deciding_source: "echo_data",
      evidence: null,
      contributing_sources: ["echo_data"],
      dissenting_sources: [],
    };
    expect(validate(line)).toBe(false);
    expect(ledgerTransition.safeParse(line).success).toBe(false);
    expect(validate({ ...line, run_id: "20260201T000000Z" })).toBe(true);
    expect(ledgerTransition.safeParse({ ...line, run_id: "20260201T000000Z" }).success).toBe(true);
  });

  it("advisory_current.json starts with $schema, schema_version and run_id; $schema is absolute under the site's address", () => {
    const header = (publicUrl?: string) =>
      serialiseAdvisoryDocument(
        buildAdvisoryDocument([], {
          runId: "20260201T000000Z",
          generatedAt: new Date("2026-02-01T00:00:00Z"),
          publicUrl,
        }),
      )
        .split("\n")
        .slice(1, 6);
    expect(header()).toEqual([
      '"$schema": "schemas/advisory_current.schema.json",',
      '"schema_version": 2,',
      '"run_id": "20260201T000000Z",',
      '"generated_at": "2026-02-01T00:00:00.000Z",',
      '"advisory_count": 0,',
    ]);
    expect(header("https://example.org/echo/")[0]).toBe(
      '"$schema": "https://example.org/echo/schemas/advisory_current.schema.json",',
    );
  });

  it("a change file: each kind carries what it must (a removal no record, an addition no previous state)", () => {
    const validate = jsonSchemaValidator("changes");
    const added = {
      advisory_id: "curl:CVE-2024-0001",
      change: "added",
      from_state: null,
      to_state: "fixed",
      rule_id: "vendor_fixed_version",
      reason_code: "fix_available",
      fixed_version: "1.0-1",
      run_id: "20260201T000000Z",
      changed_at: "2026-02-01T00:00:00.000Z",
      advisory: null as unknown,
    };
    const removed = {
      ...added,
      change: "removed",
      from_state: "fixed",
      to_state: null,
      rule_id: null,
      reason_code: null,
      fixed_version: null,
    };
    const document = (changes: unknown[]) => ({
      $schema: "../schemas/changes.schema.json",
      schema_version: 1,
      run_id: "20260201T000000Z",
      previous_run_id: null,
      generated_at: "2026-02-01T00:00:00.000Z",
      change_count: changes.length,
      changes,
    });
    expect(validate(document([removed]))).toBe(true);
    expect(changesDocumentSchema.safeParse(document([removed])).success).toBe(true);
    for (const broken of [
      document([added]), // an addition without its record
      document([{ ...removed, advisory: {} }]),
      document([{ ...removed, to_state: "fixed" }]),
      document([{ ...removed, change: "renamed" }]),
      { ...document([removed]), previous_run_id: "yesterday" },
    ]) {
      expect(validate(broken), JSON.stringify(broken.changes)).toBe(false);
      expect(changesDocumentSchema.safeParse(broken).success, JSON.stringify(broken.changes)).toBe(false);
    }
  });
});
