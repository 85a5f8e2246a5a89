// openvex.json as a pipeline run on the bundled sample writes it: valid against the schema, one statement per
// advisory with the catalogue's status for its rule, and byte-identical when the run is repeated.
// (test/unit/openvex.test.ts checks the document builder alone.)
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenVexDocument, OpenVexStatement } from "../../pipeline/formats/openvex.ts";
import { withDatabase } from "../../pipeline/lib/db.ts";
import { purlEncode } from "../../pipeline/stages/export/openvex.ts";
import { catalogue, schemaErrors } from "../helpers/openvex-schema.ts";
import { createWorkspace, sampleCsv, sampleDataJson, type Workspace } from "../helpers/workspace.ts";

describe("openvex.json from a pipeline run on the bundled sample", () => {
  let workspace: Workspace;
  let firstRun: Awaited<ReturnType<Workspace["run"]>>;
  const runClock = "2026-01-15T10:00:00Z";

  beforeAll(async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: sampleCsv });
    firstRun = await workspace.run(["--as-of", runClock]);
  });
  afterAll(() => workspace.cleanup());

  const readOpenVex = () => readFile(join(workspace.outputDir, "openvex.json"), "utf8");

  it("validates, states every advisory once, with the catalogue's status for its rule", async () => {
    expect(firstRun.stderr).not.toContain('"level":"error"');
    expect(firstRun.exitCode).toBe(0);
    expect(firstRun.stdout).toContain(`Wrote ${join(workspace.outputDir, "openvex.json")}`);
    const document = JSON.parse(await readOpenVex()) as OpenVexDocument;
    expect(schemaErrors(document)).toEqual([]);
    expect(document.timestamp).toBe(runClock);

    const { advisories } = await workspace.readAdvisoryCurrent();
    expect(advisories.length).toBeGreaterThan(0);
    expect(document.statements).toHaveLength(advisories.length);
    const rules = catalogue();
    const justifications = await withDatabase(workspace.database, (db) =>
      db.all<{ advisory_id: string; vex_justification: string | null }>(
        "select advisory_id, vex_justification from marts.mart_advisory_current",
      ),
    );
    const justificationOf = new Map(justifications.map((row) => [row.advisory_id, row.vex_justification]));
    const statedPairs = new Set<string>();
    // Both are sorted by advisory_id: the nth statement is the nth advisory's.
    advisories.forEach((advisory, index) => {
      const statement = document.statements[index] as OpenVexStatement;
      const product = statement.products[0]?.["@id"] ?? "";
      expect(statement.vulnerability.name).toBe(advisory.cve_id);
      expect(product.startsWith(`pkg:deb/echo/${purlEncode(advisory.package_name)}`)).toBe(true);
      expect(product.endsWith("?distro=echo-1")).toBe(true);
      statedPairs.add(`${product.replace(/[@?].*$/, "")} ${statement.vulnerability.name}`);
      expect(statement.status).toBe(rules.get(advisory.rule_id)?.status);
      expect(statement.justification ?? null).toBe(justificationOf.get(advisory.advisory_id) ?? null);
      expect(statement.timestamp).toBe(advisory.decided_at);
      if (advisory.state === "fixed") {
        expect(product).toBe(
          `pkg:deb/echo/${purlEncode(advisory.package_name)}@${purlEncode(advisory.fixed_version ?? "")}?distro=echo-1`,
        );
      }
      expect(statement.vulnerability["@id"] !== undefined).toBe(advisory.cve_id.startsWith("CVE-"));
    });
    expect(statedPairs.size).toBe(advisories.length);
    // The sample has analyst overrides whose reason carries a justification, TEMP ids and fixed versions.
    expect(document.statements.some((statement) => statement.justification !== undefined)).toBe(true);
    expect(document.statements.some((statement) => statement.vulnerability.name.startsWith("TEMP-"))).toBe(
      true,
    );
    expect(document.statements.some((statement) => statement.status === "fixed")).toBe(true);
  });

  it("is byte-identical when the run is repeated with the same clock", async () => {
    const first = await readOpenVex();
    const again = await workspace.run(["--as-of", runClock]);
    expect(again.exitCode).toBe(0);
    expect(await readOpenVex()).toBe(first);
  });
});
