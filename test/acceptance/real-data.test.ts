import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CveFactsDocument, cveFactsDocumentSchema } from "../../pipeline/formats/cve-facts.ts";
import { expectValid } from "../helpers/published-formats.ts";
import {
  countStates,
  createWorkspace,
  sharedDataDir,
  type Workspace,
  writeRealDataConfig,
} from "../helpers/workspace.ts";

const dataJson = join(sharedDataDir, "echo/data.json");
const csv = join(sharedDataDir, "echo/advisory_not_applicable.csv");
const sharedPresent = existsSync(dataJson) && existsSync(csv);

if (!sharedPresent) {
  console.warn(
    `real-data acceptance skipped: ${sharedDataDir} is absent (it sits beside the repository in CI)`,
  );
}

describe.skipIf(!sharedPresent)("acceptance on the vendor's real snapshot (../shared/data/echo)", () => {
  let workspace: Workspace;
  let run: Awaited<ReturnType<Workspace["run"]>>;

  beforeAll(async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({ dataJson, csv });
    run = await workspace.run(["--as-of", "2026-02-01T00:00:00Z"]);
  });
  afterAll(() => workspace.cleanup());

  it("decides all 40,625 advisories: 1,969 not_applicable, 36,515 fixed, 2,141 under_investigation", async () => {
    expect(run.exitCode).toBe(0);
    const document = await workspace.readAdvisoryCurrent();
    expect(document.advisory_count).toBe(40_625);
    expect(countStates(document)).toEqual({
      not_applicable: 1_969,
      fixed: 36_515,
      under_investigation: 2_141,
    });
    expect(run.stdout).toContain("Checks: 12 passed, 0 failed");
  });

  it("rewrites data.json with every package/CVE of the input still present", async () => {
    type Feed = Record<string, Record<string, { fixed_version?: string }>>;
    const input = JSON.parse(await readFile(dataJson, "utf8")) as Feed;
    const feed = JSON.parse(await readFile(join(workspace.outputDir, "data.json"), "utf8")) as Feed;
    let entries = 0;
    let gainedFixedVersion = 0;
    let changedVersion = 0;
    for (const [name, vulnerabilities] of Object.entries(input)) {
      for (const [id, entry] of Object.entries(vulnerabilities)) {
        const rewritten = feed[name]?.[id];
        expect(rewritten, `${name}:${id}`).toBeDefined();
        entries += 1;
        if (entry.fixed_version === undefined && rewritten?.fixed_version !== undefined)
          gainedFixedVersion += 1;
        else if (entry.fixed_version !== rewritten?.fixed_version) changedVersion += 1;
      }
    }
    expect(entries).toBe(40_625);
    expect(
      Object.values(feed).reduce((sum, vulnerabilities) => sum + Object.keys(vulnerabilities).length, 0),
    ).toBe(40_625);
    console.info(
      `rewritten data.json: ${entries} entries, ${gainedFixedVersion} gained a fixed version, ${changedVersion} changed it`,
    );
  });

  it("adds no landing rows on a second run of the same input", async () => {
    const before = await workspace.landingCounts();
    expect(before).toMatchObject({ echo_advisories: 40_625, echo_not_applicable: 1_969 });
    const again = await workspace.run(["--as-of", "2026-02-01T00:00:00Z"]);
    expect(again.exitCode).toBe(0);
    expect(await workspace.landingCounts()).toEqual(before);
  });
});

const upstreamDir = join(sharedDataDir, "upstream");
const upstreamPresent = sharedPresent && existsSync(join(upstreamDir, "nvd"));

describe.skipIf(!upstreamPresent)(
  "acceptance with the real upstream records in file mode (../shared/data/upstream)",
  () => {
    let workspace: Workspace;
    let run: Awaited<ReturnType<Workspace["run"]>>;

    beforeAll(async () => {
      workspace = await createWorkspace();
      await writeRealDataConfig(workspace);
      run = await workspace.run(["--as-of", "2026-02-01T00:00:00Z"]);
    });
    afterAll(() => workspace.cleanup());

    it("reads all 170 NVD records and ends every CVE NVD rejected as not_applicable, naming the rejection", async () => {
      expect(run.exitCode).toBe(0);
      const summary = JSON.parse(await readFile(join(workspace.outputDir, "run_summary.json"), "utf8"));
      expect(summary.sources.find((source: { source: string }) => source.source === "nvd")).toMatchObject({
        status: "ok",
        observations: 170,
        rejected: 0,
      });
      const rejectedByNvd = new Set<string>();
      for (const name of await readdir(join(upstreamDir, "nvd"))) {
        const record = JSON.parse(await readFile(join(upstreamDir, "nvd", name), "utf8"));
        if (record.vulnStatus === "Rejected") rejectedByNvd.add(record.id);
      }
      const document = await workspace.readAdvisoryCurrent();
      const decidedRejected = document.advisories.filter(
        (advisory) => advisory.reason_code === "cve_rejected",
      );
      expect(new Set(decidedRejected.map((advisory) => advisory.cve_id))).toEqual(rejectedByNvd);
      for (const advisory of decidedRejected) {
        expect(advisory.state).toBe("not_applicable");
        expect(advisory.explanation).toContain("NVD rejected this CVE");
      }
      // The snapshot's 170 records hold no Rejected CVE, and no signal in them moves a vendor decision.
      expect(countStates(document)).toEqual({
        not_applicable: 1_969,
        fixed: 36_515,
        under_investigation: 2_141,
      });
      // Every advisory is fully decided: a state, the rule that decided it, a reason code and an explanation.
      const byRule: Record<string, number> = {};
      for (const advisory of document.advisories) {
        expect(
          advisory.state && advisory.rule_id && advisory.reason_code && advisory.explanation.trim(),
        ).toBeTruthy();
        byRule[advisory.rule_id] = (byRule[advisory.rule_id] ?? 0) + 1;
      }
      expect(byRule).toEqual({ vendor_fixed_version: 36_515, no_signal: 2_141, analyst_override: 1_969 });
      console.info(
        `real data + real upstream records: ${JSON.stringify(countStates(document))}, by rule ${JSON.stringify(byRule)}`,
      );
    });

    it("marks the 248 advisories whose CVE is in CISA's real KEV catalogue (6 of them open), changing no state", async () => {
      expect(run.exitCode).toBe(0);
      const summary = JSON.parse(await readFile(join(workspace.outputDir, "run_summary.json"), "utf8"));
      expect(summary.sources.find((source: { source: string }) => source.source === "kev")).toMatchObject({
        status: "ok",
        observations: 1_404,
        rejected: 0,
      });
      const catalogue = JSON.parse(
        await readFile(join(upstreamDir, "kev/known_exploited_vulnerabilities.json"), "utf8"),
      ) as { catalogVersion: string; vulnerabilities: { cveID: string; dateAdded: string }[] };
      const added = new Map(catalogue.vulnerabilities.map((entry) => [entry.cveID, entry.dateAdded]));
      const document = await workspace.readAdvisoryCurrent();
      const exploited = document.advisories.filter((advisory) => advisory.known_exploited !== null);
      expect(exploited).toHaveLength(248);
      expect(document.advisories.filter((advisory) => added.has(advisory.cve_id))).toHaveLength(248);
      expect(countStates({ ...document, advisories: exploited })).toEqual({
        fixed: 242,
        under_investigation: 6,
      });
      for (const advisory of exploited) {
        expect(advisory.known_exploited?.date_added).toBe(added.get(advisory.cve_id));
        expect(advisory.known_exploited?.catalog_version).toBe(catalogue.catalogVersion);
      }
      expect(
        document.advisories.find((advisory) => advisory.advisory_id === "apache-log4j2:CVE-2021-44228")
          ?.known_exploited,
      ).toMatchObject({ date_added: "2021-12-10", due_date: "2021-12-24", ransomware_use: "known" });
      // The not-applicable advisories say from which version, as the CSV gives it ("1": every version).
      const notApplicable = document.advisories.filter((advisory) => advisory.state === "not_applicable");
      expect(notApplicable.filter((advisory) => advisory.unaffected_from_version === null)).toEqual([]);
    });

    it("publishes the facts of the real NVD records in cve_facts.json: description, CVSS score and vector", async () => {
      const text = await readFile(join(workspace.outputDir, "cve_facts.json"), "utf8");
      const facts = JSON.parse(text) as CveFactsDocument;
      expectValid("cve_facts", cveFactsDocumentSchema, facts, "cve_facts.json");
      const advisories = await workspace.readAdvisoryCurrent();
      expect(facts.cve_count).toBe(new Set(advisories.advisories.map((advisory) => advisory.cve_id)).size);
      // libcoap3:CVE-2025-34468, as ../shared/data/upstream/nvd/CVE-2025-34468.json has it.
      const libcoap = facts.cves.find((item) => item.cve_id === "CVE-2025-34468");
      expect(libcoap?.description?.source).toBe("nvd");
      expect(libcoap?.description?.text).toMatch(
        /^libcoap versions up to and including 4\.3\.5, prior to commit 30db3ea/,
      );
      expect(libcoap?.nvd).toMatchObject({
        status: "Analyzed",
        published: "2025-12-31T19:15:43Z",
        cwes: ["CWE-121", "CWE-787"],
      });
      expect(libcoap?.nvd?.cvss.find((score) => score.source === "nvd@nist.gov")).toEqual({
        version: "3.1",
        base_score: 9.8,
        base_severity: "CRITICAL",
        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        source: "nvd@nist.gov",
        type: "Primary",
      });
      // Search sorts by NVD's own score, not the CNA's newer CVSS v4.0 one (8.2 high).
      expect(libcoap?.severity).toEqual({
        base_score: 9.8,
        rating: "critical",
        version: "3.1",
        source: "nvd",
      });
      // Every record landed gives its facts: each of the 170 CVEs the vendor lists has NVD's block.
      const withNvd = facts.cves.filter((item) => item.nvd !== null);
      expect(withNvd).toHaveLength(170);
      console.info(
        `cve_facts.json on real data: ${facts.cve_count} CVEs, ${withNvd.length} with NVD's record, ${text.length} bytes`,
      );
    });
  },
);
