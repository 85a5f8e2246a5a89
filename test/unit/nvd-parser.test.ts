import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { contentHash } from "../../pipeline/lib/hash.ts";
import {
  nvdPageProblems,
  nvdSeverity,
  parseNvd,
  parseNvdPage,
  parseNvdRecord,
} from "../../pipeline/sources/nvd/parse.ts";
import type { UpstreamItem } from "../../pipeline/sources/osv/helpers.ts";
import { cveFacts, upstreamObservation } from "../../pipeline/sources/upstream.ts";
import { factsOf, observations, rejections } from "../helpers/items.ts";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = resolve(here, "../fixtures/upstream/nvd");
const sharedNvd = resolve(here, "../../../shared/data/upstream/nvd");
const sharedPresent = existsSync(sharedNvd);
if (!sharedPresent) console.warn(`NVD tests on real records skipped: ${sharedNvd} is absent`);

async function fixture(name: string): Promise<string> {
  return readFile(resolve(fixtures, name), "utf8");
}

function tally(values: (string | null)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}

const minimalCve = {
  id: "CVE-2024-12345",
  vulnStatus: "Awaiting Analysis",
  lastModified: "2025-01-02T03:04:05.678",
  descriptions: [{ lang: "en", value: "Something." }],
  metrics: {},
};

function page(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resultsPerPage: 1,
    startIndex: 0,
    totalResults: 1,
    format: "NVD_CVE",
    version: "2.0",
    timestamp: "2026-01-15T10:00:00.000",
    vulnerabilities: [{ cve: minimalCve }],
    ...overrides,
  };
}

describe("parseNvdPage on two consecutive pages", () => {
  it("gives one package-agnostic observation per CVE, with a pointer into the page", async () => {
    const text = await fixture("page-0.json");
    const items = [...parseNvdPage(text, { ref: "nvd/page-0.json" })];
    expect(rejections(items)).toEqual([]);
    const first = observations(items)[0];
    expect(first).toEqual({
      source: "nvd",
      vuln_id: "CVE-2024-0001",
      record_id: "CVE-2024-0001",
      aliases: [],
      package_name: null,
      release: null,
      signal: "undetermined",
      fixed_version: null,
      urgency: "HIGH",
      upstream_modified_at: "2025-11-03T20:15:07.680Z",
      detail: "Analyzed",
      payload_hash: contentHash(JSON.parse(text).vulnerabilities[0].cve),
      payload_ref: "nvd/page-0.json#/vulnerabilities/0/cve",
    });
    expect(observations(items)[1]).toMatchObject({
      vuln_id: "CVE-2024-0003",
      signal: "undetermined",
      detail: "Awaiting Analysis",
      urgency: null,
      payload_ref: "nvd/page-0.json#/vulnerabilities/1/cve",
    });
    for (const observation of observations(items))
      expect(upstreamObservation.parse(observation)).toEqual(observation);
  });

  it("reads the last page, preferring CVSS v4.0 over v3.1", async () => {
    const items = [...parseNvdPage(await fixture("page-1.json"))];
    expect(observations(items).map((o) => [o.vuln_id, o.signal, o.detail, o.urgency, o.payload_ref])).toEqual(
      [["CVE-2016-9296", "undetermined", "Deferred", "HIGH", null]],
    );
  });

  it("carries nothing of a hostile description into the observations, and the text as is into the facts", async () => {
    const text = await fixture("page-0.json");
    expect(text).toContain("<script>");
    const items = [...parseNvdPage(text)];
    expect(JSON.stringify(observations(items))).not.toContain("<script>");
    // The description is data: whoever shows it escapes it (the site does).
    expect(factsOf(items)[0]?.description).toContain('<script>alert("nvd")</script>');
  });

  it("finds nothing wrong with either page", async () => {
    for (const name of ["page-0.json", "page-1.json"]) {
      expect(nvdPageProblems(JSON.parse(await fixture(name)))).toEqual([]);
    }
  });
});

describe("bare records", () => {
  it("reads a Rejected CVE as rejected", async () => {
    const items = [...parseNvdRecord(await fixture("CVE-2024-0099.json"), { ref: "nvd/CVE-2024-0099.json" })];
    expect(observations(items)).toEqual([
      expect.objectContaining({
        vuln_id: "CVE-2024-0099",
        signal: "rejected",
        detail: "Rejected",
        urgency: null,
        upstream_modified_at: "2025-06-20T14:00:00.000Z",
        payload_ref: "nvd/CVE-2024-0099.json",
      }),
    ]);
  });

  it("reads a disputed tag and a DISPUTED description as disputed, saying which", async () => {
    const items = [...parseNvd(await fixture("CVE-2024-0100.json"))];
    expect(observations(items).map((o) => [o.signal, o.detail, o.urgency])).toEqual([
      [
        "disputed",
        "cveTags disputed (cve@mitre.org) and description marked ** DISPUTED **; vulnStatus Modified",
        "MEDIUM",
      ],
    ]);
  });

  it("reads a DISPUTED marker in the English description alone, spaced or not", () => {
    for (const value of ["** DISPUTED ** x", "\n\n**DISPUTED**A failure"]) {
      const items = [...parseNvdRecord({ ...minimalCve, descriptions: [{ lang: "en", value }] })];
      expect(observations(items).map((o) => [o.signal, o.detail])).toEqual([
        ["disputed", "description marked ** DISPUTED **; vulnStatus Awaiting Analysis"],
      ]);
    }
    const spanishOnly = [
      ...parseNvdRecord({
        ...minimalCve,
        descriptions: [{ lang: "es", value: "** EN DISPUTA ** ** DISPUTED **" }],
      }),
    ];
    expect(observations(spanishOnly)[0]?.signal).toBe("undetermined");
  });

  it("reads a disputed tag from any source, and Rejected before disputed", () => {
    const tagged = { ...minimalCve, cveTags: [{ sourceIdentifier: "cna@vuldb.com", tags: ["disputed"] }] };
    expect(observations([...parseNvdRecord(tagged)])[0]?.detail).toBe(
      "cveTags disputed (cna@vuldb.com); vulnStatus Awaiting Analysis",
    );
    expect(observations([...parseNvdRecord({ ...tagged, vulnStatus: "Rejected" })])[0]?.signal).toBe(
      "rejected",
    );
    const otherTag = {
      ...minimalCve,
      cveTags: [{ sourceIdentifier: "x", tags: ["unsupported-when-assigned"] }],
    };
    expect(observations([...parseNvdRecord(otherTag)])[0]?.signal).toBe("undetermined");
  });

  it("rejects a record with a bad id, a missing status or an unreadable time, one by one", () => {
    const cases: [unknown, string, string][] = [
      [{ ...minimalCve, id: "GHSA-1" }, '"GHSA-1".id', '"GHSA-1" is not a CVE id (CVE-YYYY-NNNN)'],
      [{ ...minimalCve, vulnStatus: undefined }, '"CVE-2024-12345".vulnStatus', "vulnStatus is missing"],
      [
        { ...minimalCve, lastModified: "soon" },
        '"CVE-2024-12345".lastModified',
        'lastModified "soon" is not an ISO-8601 time',
      ],
      [42, "cve", "a CVE record must be an object, found a number"],
    ];
    for (const [record, key, reason] of cases) {
      expect(rejections([...parseNvdRecord(record, { ref: "r.json" })])).toEqual([
        expect.objectContaining({ location: { file: "r.json", key }, reason }),
      ]);
    }
  });
});

describe("nvdSeverity", () => {
  it("takes the newest CVSS version present and the highest severity among its sources", () => {
    const v31 = (severity: string) => ({ cvssData: { baseSeverity: severity } });
    expect(
      nvdSeverity({ cvssMetricV31: [v31("LOW"), v31("HIGH")], cvssMetricV2: [{ baseSeverity: "CRITICAL" }] }),
    ).toBe("HIGH");
    expect(nvdSeverity({ cvssMetricV30: [v31("MEDIUM")], cvssMetricV2: [{ baseSeverity: "HIGH" }] })).toBe(
      "MEDIUM",
    );
    expect(nvdSeverity({ cvssMetricV2: [{ baseSeverity: "LOW", cvssData: {} }] })).toBe("LOW");
    expect(nvdSeverity({})).toBeNull();
    expect(nvdSeverity(undefined)).toBeNull();
  });
});

describe("malformed pages", () => {
  it("names a wrong format and version", () => {
    expect(nvdPageProblems(page({ format: "CVE_RECORD", version: "1.0" }))).toEqual([
      'format is "CVE_RECORD", expected "NVD_CVE"',
      'version is "1.0", expected "2.0"',
    ]);
  });

  it("names counts that do not add up", () => {
    expect(nvdPageProblems(page({ startIndex: 5, totalResults: 3 }))).toEqual([
      "records 5–5 run past totalResults 3 (startIndex 5, 1 records)",
    ]);
    expect(nvdPageProblems(page({ resultsPerPage: 2000, totalResults: 2500 }))).toEqual([
      "the page is short: 1 of resultsPerPage 2000 records, yet records 1–2499 remain (truncated?)",
    ]);
    expect(nvdPageProblems(page({ resultsPerPage: 0 }))).toEqual([
      "the page holds 1 records but resultsPerPage is 0",
    ]);
    expect(nvdPageProblems(page({ vulnerabilities: [], resultsPerPage: 0, totalResults: 4 }))).toEqual([
      "the page is empty, yet startIndex 0 is below totalResults 4",
    ]);
  });

  it("names missing and mistyped fields", () => {
    const { vulnerabilities: _dropped, ...withoutRecords } = page();
    expect(nvdPageProblems(withoutRecords)).toEqual(["vulnerabilities is missing"]);
    expect(nvdPageProblems(page({ startIndex: "0" }))[0]).toMatch(/^startIndex: .* \(found "0"\)$/);
    expect(nvdPageProblems([])).toEqual(["an NVD response page must be an object, found an array"]);
  });

  it("throws one clear PipelineError for a malformed page, naming the file", () => {
    let error: unknown;
    try {
      [...parseNvdPage(page({ version: "1.1" }), { ref: "nvd/page-9.json" })];
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).describe()).toBe(
      'nvd/page-9.json: malformed NVD response page: version is "1.1", expected "2.0"',
    );
  });

  it("rejects an item without a cve object and goes on with the others", () => {
    const items = [
      ...parseNvdPage(
        page({ resultsPerPage: 2, totalResults: 2, vulnerabilities: [{ nope: 1 }, { cve: minimalCve }] }),
      ),
    ];
    expect(rejections(items).map((r) => [r.location.key, r.reason])).toEqual([
      ["vulnerabilities[0]", "expected {cve: {...}}"],
    ]);
    expect(observations(items).map((o) => o.vuln_id)).toEqual(["CVE-2024-12345"]);
  });
});

describe.skipIf(!sharedPresent)("the 170 real NVD records (../shared)", () => {
  async function parseAll(): Promise<{ items: UpstreamItem[]; raw: Record<string, unknown>[] }> {
    const items: UpstreamItem[] = [];
    const raw: Record<string, unknown>[] = [];
    for (const name of readdirSync(sharedNvd)
      .filter((file) => file.endsWith(".json"))
      .sort()) {
      const text = await readFile(join(sharedNvd, name), "utf8");
      raw.push(JSON.parse(text));
      items.push(...parseNvd(text, { ref: join(sharedNvd, name) }));
    }
    return { items, raw };
  }

  it("parses every one of the 170 records into one observation", async () => {
    const { items } = await parseAll();
    expect(rejections(items)).toEqual([]);
    expect(observations(items)).toHaveLength(170);
    for (const observation of observations(items))
      expect(upstreamObservation.parse(observation)).toEqual(observation);
  });

  it("keeps the vulnStatus counts the shared README gives", async () => {
    const { items } = await parseAll();
    const statuses = observations(items).map((o) =>
      o.signal === "undetermined" ? o.detail : (/vulnStatus (.+)$/.exec(o.detail ?? "")?.[1] ?? null),
    );
    expect(tally(statuses)).toEqual({
      Modified: 87,
      "Awaiting Analysis": 28,
      Analyzed: 24,
      Received: 19,
      Deferred: 6,
      "Undergoing Analysis": 6,
    });
  });

  it("finds the 7 disputed tags and the one record disputed in its description only", async () => {
    const { items } = await parseAll();
    const disputed = observations(items).filter((o) => o.signal === "disputed");
    expect(tally(observations(items).map((o) => o.signal))).toEqual({ undetermined: 162, disputed: 8 });
    expect(disputed.filter((o) => o.detail?.startsWith("cveTags disputed"))).toHaveLength(7);
    expect(
      disputed.filter((o) => o.detail?.startsWith("description")).map((o) => [o.vuln_id, o.detail]),
    ).toEqual([["CVE-2023-4039", "description marked ** DISPUTED **; vulnStatus Modified"]]);
  });

  it("gives every record its lastModified in UTC and an urgency exactly when it has CVSS metrics", async () => {
    const { items, raw } = await parseAll();
    const byId = new Map(raw.map((record) => [record.id as string, record]));
    for (const observation of observations(items)) {
      const record = byId.get(observation.vuln_id) as {
        lastModified: string;
        metrics: Record<string, unknown>;
      };
      expect(observation.upstream_modified_at).toBe(`${record.lastModified}Z`);
      const hasCvss = Object.keys(record.metrics).some((key) => key.startsWith("cvssMetric"));
      expect(observation.urgency === null).toBe(!hasCvss);
    }
    expect(observations(items).filter((o) => o.urgency === null)).toHaveLength(13);
  });
});

describe("NVD facts", () => {
  it("reads a record with CVSS v4.0 and v3.1, CWE ids and references: every score, newest version and Primary first", async () => {
    const items = [...parseNvdRecord(await fixture("CVE-2024-0101.json"), { ref: "CVE-2024-0101.json" })];
    expect(items.map((item) => item.kind)).toEqual(["facts", "observation"]);
    const [facts] = factsOf(items);
    expect(cveFacts.parse(facts)).toEqual(facts);
    expect(facts).toEqual({
      source: "nvd",
      vuln_id: "CVE-2024-0101",
      record_id: "CVE-2024-0101",
      package_name: null,
      description: "A heap buffer overflow in the header parser allows a remote attacker to execute code.",
      vuln_status: "Analyzed",
      published: "2024-02-20T15:15:08.863Z",
      last_modified: "2025-03-11T09:30:00.120Z",
      cvss: [
        {
          version: "4.0",
          base_score: 9.3,
          base_severity: "CRITICAL",
          vector:
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X/CR:X/IR:X/AR:X/MAV:X/MAC:X/MAT:X/MPR:X/MUI:X/MVC:X/MVI:X/MVA:X/MSC:X/MSI:X/MSA:X/S:X/AU:X/R:X/V:X/RE:X/U:X",
          source: "security@example.org",
          type: "Secondary",
        },
        {
          version: "3.1",
          base_score: 9.8,
          base_severity: "CRITICAL",
          vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
          source: "nvd@nist.gov",
          type: "Primary",
        },
        {
          version: "3.1",
          base_score: 8.1,
          base_severity: "HIGH",
          vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
          source: "security@example.org",
          type: "Secondary",
        },
      ],
      // Distinct, numeric order, NVD's placeholder left out.
      cwes: ["CWE-122", "CWE-787"],
      references: [
        {
          url: "https://example.org/security/advisories/2024-01",
          source: "security@example.org",
          tags: ["Vendor Advisory", "Patch"],
        },
        {
          url: "https://lists.debian.org/debian-lts-announce/2024/03/msg00001.html",
          source: "nvd@nist.gov",
          tags: [],
        },
      ],
      payload_hash: observations(items)[0]?.payload_hash,
      payload_ref: "CVE-2024-0101.json",
    });
  });

  it("gives a record NVD has not analysed empty scores and weaknesses, not an error", async () => {
    const items = [...parseNvdPage(await fixture("page-0.json"), { ref: "page-0.json" })];
    expect(rejections(items)).toEqual([]);
    const unanalysed = factsOf(items).find((facts) => facts.vuln_id === "CVE-2024-0003");
    expect(unanalysed).toMatchObject({
      vuln_status: "Awaiting Analysis",
      description: "curl may leak a header to a redirected host.",
      published: "2026-01-14T18:15:45.123Z",
      cvss: [],
      cwes: [],
      payload_ref: "page-0.json#/vulnerabilities/1/cve",
    });
  });

  it("keeps a v2 score's severity, given beside cvssData", async () => {
    const items = [...parseNvdPage(await fixture("page-0.json"))];
    const scores = factsOf(items).find((facts) => facts.vuln_id === "CVE-2024-0001")?.cvss ?? [];
    expect(scores.map((score) => [score.version, score.base_score, score.base_severity, score.type])).toEqual(
      [
        ["3.1", 7.5, "HIGH", "Primary"],
        ["3.1", 3.7, "LOW", "Secondary"],
        ["2.0", 5, "MEDIUM", "Primary"],
      ],
    );
  });

  it("rejects a record whose published date or references are malformed, naming the key", () => {
    const bad = [
      ...parseNvdRecord({ ...minimalCve, published: "yesterday" }),
      ...parseNvdRecord({ ...minimalCve, id: "CVE-2024-12346", references: [{ url: 7 }] }),
    ];
    expect(factsOf(bad)).toEqual([]);
    expect(rejections(bad).map((r) => [r.location.key, r.reason])).toEqual([
      ['"CVE-2024-12345".published', 'published "yesterday" is not an ISO-8601 time'],
      ['"CVE-2024-12346".references[0].url', "url must be a string, found a number"],
    ]);
  });

  it.skipIf(!sharedPresent)(
    "reads a real record's description, CVSS v3.1 score and vector, CWE and dates",
    async () => {
      const text = await readFile(join(sharedNvd, "CVE-2025-34468.json"), "utf8");
      const [facts] = factsOf([...parseNvdRecord(text)]);
      expect(facts?.description).toMatch(/^libcoap versions up to and including 4\.3\.5/);
      expect(facts?.cvss.find((score) => score.version === "3.1" && score.type === "Primary")).toEqual({
        version: "3.1",
        base_score: 9.8,
        base_severity: "CRITICAL",
        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        source: "nvd@nist.gov",
        type: "Primary",
      });
      expect(facts?.cvss[0]?.version).toBe("4.0");
      expect(facts?.cwes).toEqual(["CWE-121", "CWE-787"]);
      expect(facts?.published).toBe("2025-12-31T19:15:43.923Z");
      expect(facts?.last_modified).toBe("2026-01-14T20:18:32.890Z");
    },
  );
});
