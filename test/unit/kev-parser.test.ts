import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kevEntry, kevLandingRow, parseKevCatalogue } from "../../pipeline/sources/kev/index.ts";
import { isCalendarDate } from "../../pipeline/sources/kev/parse.ts";
import { observations, pipelineErrorFrom, rejections } from "../helpers/items.ts";
import { repoRoot } from "../helpers/workspace.ts";

const ref = "/feeds/known_exploited_vulnerabilities.json";

/** Two real entries of CISA's catalogue (2025.08.25), as CISA writes them. */
function log4j(): Record<string, unknown> {
  return {
    cveID: "CVE-2021-44228",
    vendorProject: "Apache",
    product: "Log4j2",
    vulnerabilityName: "Apache Log4j2 Remote Code Execution Vulnerability",
    dateAdded: "2021-12-10",
    shortDescription:
      "Apache Log4j2 contains a vulnerability where JNDI features do not protect against attacker-controlled JNDI-related endpoints, allowing for remote code execution.",
    requiredAction:
      "For all affected software assets for which updates exist, the only acceptable remediation actions are: 1) Apply updates; OR 2) remove affected assets from agency networks.",
    dueDate: "2021-12-24",
    knownRansomwareCampaignUse: "Known",
    notes: "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
    cwes: ["CWE-502", "CWE-20", "CWE-400"],
  };
}

function git(): Record<string, unknown> {
  return {
    cveID: "CVE-2025-48384",
    vendorProject: "Git",
    product: "Git",
    vulnerabilityName: "Git Link Following Vulnerability",
    dateAdded: "2025-08-25",
    shortDescription: "Git contains a link following vulnerability.",
    requiredAction: "Apply mitigations per vendor instructions.",
    dueDate: "2025-09-15",
    knownRansomwareCampaignUse: "Unknown",
    notes: "",
    cwes: ["CWE-59", "CWE-436"],
  };
}

function catalogue(vulnerabilities: unknown[], overrides: Record<string, unknown> = {}) {
  return {
    title: "CISA Catalog of Known Exploited Vulnerabilities",
    catalogVersion: "2025.08.25",
    dateReleased: "2025-08-25T17:04:19.9796Z",
    count: vulnerabilities.length,
    vulnerabilities,
    ...overrides,
  };
}

const parse = (document: unknown) => [...parseKevCatalogue(JSON.stringify(document), { ref })];

describe("the KEV catalogue parser", () => {
  it("maps each entry to one observation, with the catalogue's version and release time", () => {
    const items = parse(catalogue([log4j(), git()]));
    expect(rejections(items)).toEqual([]);
    const [first, second] = observations(items);
    expect(first).toEqual({
      cve_id: "CVE-2021-44228",
      vendor_project: "Apache",
      product: "Log4j2",
      vulnerability_name: "Apache Log4j2 Remote Code Execution Vulnerability",
      short_description: log4j().shortDescription,
      date_added: "2021-12-10",
      due_date: "2021-12-24",
      required_action: log4j().requiredAction,
      known_ransomware_use: "known",
      notes: "https://nvd.nist.gov/vuln/detail/CVE-2021-44228",
      cwes: ["CWE-20", "CWE-400", "CWE-502"],
      catalog_version: "2025.08.25",
      catalog_released_at: "2025-08-25T17:04:19.9796Z",
      payload_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      payload_ref: `${ref}#/vulnerabilities/0`,
    });
    expect(kevEntry.safeParse(first).success).toBe(true);
    // "Unknown" ransomware use, and empty notes published as null.
    expect(second).toMatchObject({
      known_ransomware_use: "unknown",
      notes: null,
      payload_ref: `${ref}#/vulnerabilities/1`,
    });
    expect(kevLandingRow(second as never)).toContain('["CWE-436","CWE-59"]');
  });

  it("takes the optional fields as absent: no ransomware use is unknown, no notes null, no CWEs empty", () => {
    const { knownRansomwareCampaignUse: _, notes: __, cwes: ___, ...bare } = log4j();
    const [entry] = observations(parse(catalogue([bare])));
    expect(entry).toMatchObject({ known_ransomware_use: "unknown", notes: null, cwes: [] });
  });

  it("rejects a bad entry alone, naming the file, its position and CVE id, and the key; the others go on", () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [
        { ...log4j(), cveID: "CVE-21-44228" },
        "vulnerabilities[0].cveID",
        'cveID "CVE-21-44228" is not a CVE id',
      ],
      [
        { ...log4j(), dueDate: "2021-02-30" },
        "vulnerabilities[0].dueDate",
        'CVE-2021-44228: dueDate "2021-02-30" is not a date (YYYY-MM-DD)',
      ],
      [
        { ...log4j(), dateAdded: "12/10/2021" },
        "vulnerabilities[0].dateAdded",
        'dateAdded "12/10/2021" is not a date',
      ],
      [
        { ...log4j(), knownRansomwareCampaignUse: "Yes" },
        "vulnerabilities[0].knownRansomwareCampaignUse",
        'must be "Known" or "Unknown", found "Yes"',
      ],
      [
        { ...log4j(), cwes: ["CWE-20", "XSS"] },
        "vulnerabilities[0].cwes[1]",
        "a CWE must be written CWE-NNN",
      ],
      [
        { ...log4j(), vendorProject: "x".repeat(300) },
        "vulnerabilities[0]",
        "vendorProject is 300 characters long",
      ],
    ];
    for (const [bad, key, reason] of cases) {
      const items = parse(catalogue([bad, git()]));
      const [rejection] = rejections(items);
      expect(rejection?.location, reason).toEqual({ file: ref, key });
      expect(rejection?.reason).toContain(reason);
      expect(rejection?.excerpt).toBeTruthy();
      expect(observations(items).map((entry) => entry.cve_id)).toEqual(["CVE-2025-48384"]);
    }
  });

  it("rejects fields of the wrong type or missing, by key", () => {
    const { dueDate: _, ...noDueDate } = log4j();
    const cases: [unknown, string, string][] = [
      [
        { ...log4j(), vendorProject: 7 },
        "vulnerabilities[0].vendorProject",
        "CVE-2021-44228: vendorProject must be a string, found a number",
      ],
      [
        { ...log4j(), notes: null },
        "vulnerabilities[0].notes",
        "CVE-2021-44228: notes must be a string, found null",
      ],
      [
        { ...log4j(), cwes: "CWE-20" },
        "vulnerabilities[0].cwes",
        "CVE-2021-44228: cwes must be a list of CWE ids, found a string",
      ],
      [
        { ...log4j(), cveID: ["CVE-2021-44228"] },
        "vulnerabilities[0].cveID",
        "cveID must be a string, found an array",
      ],
      [noDueDate, "vulnerabilities[0].dueDate", "CVE-2021-44228: dueDate is missing"],
      ["CVE-2021-44228", "vulnerabilities[0]", "an entry must be an object, found a string"],
    ];
    for (const [bad, key, reason] of cases) {
      const items = parse(catalogue([bad, git()]));
      expect(
        rejections(items).map((rejection) => [rejection.location.key, rejection.reason]),
        reason,
      ).toEqual([[key, reason]]);
      expect(observations(items)).toHaveLength(1);
    }
  });

  it("keeps a CVE's first entry and rejects the ones listed again", () => {
    const items = parse(catalogue([log4j(), git(), { ...log4j(), dueDate: "2022-01-10" }]));
    expect(observations(items).map((entry) => [entry.cve_id, entry.due_date])).toEqual([
      ["CVE-2021-44228", "2021-12-24"],
      ["CVE-2025-48384", "2025-09-15"],
    ]);
    expect(rejections(items)).toEqual([
      expect.objectContaining({
        location: { file: ref, key: "vulnerabilities[2].cveID" },
        reason: "CVE-2021-44228: listed again (first at vulnerabilities[0], which is kept)",
      }),
    ]);
  });

  it("refuses a document whose catalogue fields are missing or wrong, naming the file and the key", () => {
    const { catalogVersion: _, ...noVersion } = catalogue([log4j()]);
    const { dateReleased: __, ...noRelease } = catalogue([log4j()]);
    const { vulnerabilities: ___, ...noList } = catalogue([log4j()]);
    const cases: [unknown, string, string][] = [
      [noVersion, "catalogVersion", "catalogVersion is missing"],
      [noRelease, "dateReleased", "dateReleased is missing"],
      [noList, "vulnerabilities", "vulnerabilities is missing"],
      [
        catalogue([log4j()], { catalogVersion: 2025 }),
        "catalogVersion",
        "catalogVersion must be a non-empty string, found 2025",
      ],
      [
        catalogue([log4j()], { dateReleased: "last Monday" }),
        "dateReleased",
        'dateReleased must be an ISO-8601 date and time, found "last Monday"',
      ],
      [catalogue([log4j()], { count: "1" }), "count", 'count must be a whole number, found "1"'],
      [
        catalogue([log4j()], { count: 1404 }),
        "count",
        "count is 1404 but vulnerabilities holds 1 entries (truncated?)",
      ],
      [
        catalogue([log4j()], { vulnerabilities: { "CVE-2021-44228": log4j() }, count: 1 }),
        "vulnerabilities",
        "vulnerabilities must be a list, found an object",
      ],
    ];
    for (const [document, key, problem] of cases) {
      const error = pipelineErrorFrom(() => parse(document));
      expect(error.location, problem).toEqual({ file: ref, key });
      expect(error.message).toContain(problem);
    }
    expect(pipelineErrorFrom(() => [...parseKevCatalogue("[]", { ref })]).message).toContain(
      "found an array",
    );
    expect(pipelineErrorFrom(() => [...parseKevCatalogue('{\n"title": ', { ref })])).toMatchObject({
      location: { file: ref, line: 2 },
      message: expect.stringMatching(/^invalid JSON: .*\(the file looks truncated\)$/),
    });
  });

  it("reads only real calendar dates", () => {
    expect(["2024-02-29", "2025-08-25"].map(isCalendarDate)).toEqual([true, true]);
    expect(["2025-02-29", "2025-13-01", "2025-8-25", "2025-08-25T00:00:00Z", ""].map(isCalendarDate)).toEqual(
      [false, false, false, false, false],
    );
  });

  it("reads the bundled mock catalogue whole: the sample's CVEs and one the sample does not list", () => {
    const path = join(repoRoot, "pipeline/sources/kev/mock/known_exploited_vulnerabilities.json");
    const items = [...parseKevCatalogue(readFileSync(path, "utf8"), { ref: path })];
    expect(rejections(items)).toEqual([]);
    expect(observations(items).map((entry) => entry.cve_id)).toEqual([
      "CVE-2025-42010",
      "CVE-2023-38545",
      "CVE-2023-39780",
      "CVE-2022-29582",
      "CVE-2021-44228",
    ]);
  });
});
