import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectPublishedFilesValid } from "../helpers/published-formats.ts";
import { createWorkspace, sampleCsv, sampleDataJson, type Workspace } from "../helpers/workspace.ts";

/** Every upstream source on its bundled sample; KEV on or off. */
function upstreamConfig(kev: string[]): string {
  return [
    "  debian_tracker:",
    "    enabled: true",
    "  osv:",
    "    enabled: true",
    "  nvd:",
    "    enabled: true",
    ...kev,
  ].join("\n");
}

type Document = Awaited<ReturnType<Workspace["readAdvisoryCurrent"]>>;

/** Everything an advisory publishes except its KEV entry. */
function withoutKev(document: Document) {
  return document.advisories.map(({ known_exploited: _, ...rest }) => rest);
}

describe("CISA's KEV catalogue in a run on the bundled sample", () => {
  let withKev: Workspace;
  let without: Workspace;
  let document: Document;

  beforeAll(async () => {
    withKev = await createWorkspace();
    without = await createWorkspace();
    await withKev.writeConfig({
      dataJson: sampleDataJson,
      csv: sampleCsv,
      extra: upstreamConfig(["  kev:", "    enabled: true", "    mode: mock"]),
    });
    await without.writeConfig({ dataJson: sampleDataJson, csv: sampleCsv, extra: upstreamConfig([]) });
    const runs = await Promise.all([
      withKev.run(["--as-of", "2026-02-01T00:00:00Z"]),
      without.run(["--as-of", "2026-02-01T00:00:00Z"]),
    ]);
    for (const run of runs) expect(run.exitCode, run.stderr).toBe(0);
    document = await withKev.readAdvisoryCurrent();
  });
  afterAll(async () => {
    await withKev.cleanup();
    await without.cleanup();
  });

  it("marks the advisories whose CVE the catalogue lists, with its dates, ransomware use and version", async () => {
    expect(await expectPublishedFilesValid(withKev.outputDir)).toBeGreaterThan(0);
    const listed = Object.fromEntries(
      document.advisories
        .filter((advisory) => advisory.known_exploited !== null)
        .map((advisory) => [advisory.advisory_id, advisory.known_exploited]),
    );
    expect(Object.keys(listed).sort()).toEqual([
      "curl:CVE-2023-38545",
      "linux:CVE-2022-29582",
      "openssl:CVE-2025-42010",
      "systemd:CVE-2023-39780",
    ]);
    expect(listed["openssl:CVE-2025-42010"]).toEqual({
      date_added: "2025-08-18",
      due_date: "2025-09-08",
      ransomware_use: "known",
      vulnerability_name: "OpenSSL Out-of-Bounds Write Vulnerability",
      required_action:
        "Apply mitigations per vendor instructions, follow applicable BOD 22-01 guidance for cloud services, or discontinue use of the product if mitigations are unavailable.",
      catalog_version: "2025.08.25",
    });
    expect(listed["systemd:CVE-2023-39780"]).toMatchObject({ ransomware_use: "unknown" });
    // The not-applicable advisory says from which version, as the ledger does.
    const systemd = document.advisories.find((advisory) => advisory.advisory_id === "systemd:CVE-2023-39780");
    expect(systemd).toMatchObject({ state: "not_applicable", unaffected_from_version: "3.19.6-1" });
    const elsewhere = document.advisories.filter((advisory) => advisory.state !== "not_applicable");
    expect(elsewhere.filter((advisory) => advisory.unaffected_from_version !== null)).toEqual([]);
  });

  it("changes no decision: every other published field equals a run without the catalogue", async () => {
    const other = await without.readAdvisoryCurrent();
    expect(other.advisories.every((advisory) => advisory.known_exploited === null)).toBe(true);
    expect(withoutKev(document)).toEqual(withoutKev(other));
    expect(await readFile(join(withKev.outputDir, "openvex.json"), "utf8")).toEqual(
      await readFile(join(without.outputDir, "openvex.json"), "utf8"),
    );
  });

  it("keeps the last good catalogue in use, reported stale, when the source fails", async () => {
    await withKev.writeConfig({
      dataJson: sampleDataJson,
      csv: sampleCsv,
      extra: upstreamConfig([
        "  kev:",
        "    enabled: true",
        "    mode: file",
        `    location: ${JSON.stringify(join(withKev.dir, "absent.json"))}`,
        "    max_age_hours: 12",
      ]),
    });
    const run = await withKev.run(["--as-of", "2026-02-02T00:00:00Z"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const after = await withKev.readAdvisoryCurrent();
    expect(after.advisories.map((advisory) => advisory.known_exploited)).toEqual(
      document.advisories.map((advisory) => advisory.known_exploited),
    );
    const summary = JSON.parse(await readFile(join(withKev.outputDir, "run_summary.json"), "utf8")) as {
      sources: { source: string; status: string }[];
    };
    expect(summary.sources.find((source) => source.source === "kev")?.status).toMatch(/stale|failed/);
    const report = await readFile(join(withKev.outputDir, "run_report_20260202T000000Z.md"), "utf8");
    expect(report).toMatch(/\| kev \| stale \|.*file not found/);
  });
});
