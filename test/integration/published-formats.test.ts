import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { advisoryCurrentSchema } from "../../pipeline/formats/advisory-current.ts";
import { jsonSchemaOf, type PublicSchema, publicSchemas } from "../../pipeline/formats/json-schema.ts";
import { ledgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import { openVexDocumentSchema } from "../../pipeline/formats/openvex.ts";
import { runSummarySchema } from "../../pipeline/formats/run-summary.ts";
import { vendorFeedSchema } from "../../pipeline/formats/vendor-feed.ts";
import { createWorkspace, sampleCsv, sampleDataJson, type Workspace } from "../helpers/workspace.ts";

/**
 * Every file a run publishes is checked against the zod schema that defines it (pipeline/formats) and
 * against the JSON Schema generated from that schema, as the site publishes it: the two must agree with each
 * other and with what the pipeline writes. Two runs with every upstream source in mock mode, so the files
 * hold every state, evidence from every source, and transitions between states.
 */
describe("published files match their formats", () => {
  let workspace: Workspace;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);

  const entry = (name: string): PublicSchema => {
    const found = publicSchemas.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no public schema ${name}`);
    return found;
  };
  /** Both checks, with the first problems named when one fails. */
  const expectValid = (name: string, schema: z.ZodType, value: unknown) => {
    const parsed = schema.safeParse(value);
    expect(parsed.success ? [] : parsed.error.issues.slice(0, 3)).toEqual([]);
    const validate = ajv.compile(jsonSchemaOf(entry(name)));
    validate(value);
    expect(validate.errors?.slice(0, 3) ?? []).toEqual([]);
  };
  const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8")) as unknown;

  beforeAll(async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({
      dataJson: sampleDataJson,
      csv: sampleCsv,
      extra: [
        "  debian_tracker:",
        "    enabled: true",
        "  osv:",
        "    enabled: true",
        "  nvd:",
        "    enabled: true",
      ].join("\n"),
    });
    // The first run decides from data.json and the CSV alone; the second adds the upstream signals.
    const first = await workspace.run([
      "--as-of",
      "2026-02-01T00:00:00Z",
      "--source",
      "echo_data",
      "--source",
      "echo_csv",
    ]);
    expect(first.exitCode, first.stderr).toBe(0);
    const second = await workspace.run(["--as-of", "2026-02-02T00:00:00Z", "--accept-mass-change"]);
    expect(second.exitCode, second.stderr).toBe(0);
  });
  afterAll(() => workspace.cleanup());

  it("advisory_current.json, with every state and every source's evidence", async () => {
    const document = await readJson(join(workspace.outputDir, "advisory_current.json"));
    expectValid("advisory_current", advisoryCurrentSchema, document);
    const { advisories } = advisoryCurrentSchema.parse(document);
    expect(new Set(advisories.map((advisory) => advisory.state))).toEqual(
      new Set(["fixed", "not_applicable", "wont_fix", "pending_upstream", "under_investigation"]),
    );
    expect(new Set(advisories.flatMap((advisory) => advisory.evidence.map((item) => item.source)))).toEqual(
      new Set(["echo_data", "echo_csv", "debian_tracker", "osv", "nvd"]),
    );
  });

  it("data.json, openvex.json and run_summary.json", async () => {
    expectValid("data", vendorFeedSchema, await readJson(join(workspace.outputDir, "data.json")));
    expectValid("openvex", openVexDocumentSchema, await readJson(join(workspace.outputDir, "openvex.json")));
    expectValid(
      "run_summary",
      runSummarySchema,
      await readJson(join(workspace.outputDir, "run_summary.json")),
    );
    for (const runId of ["20260201T000000Z", "20260202T000000Z"]) {
      const copy = await readJson(join(workspace.outputDir, "history/runs", `${runId}.json`));
      expectValid("run_summary", runSummarySchema, copy);
    }
  });

  it("every line of both runs' ledger files", async () => {
    let lines = 0;
    const states = new Set<string | null>();
    for (const runId of ["20260201T000000Z", "20260202T000000Z"]) {
      const text = await readFile(join(workspace.outputDir, "history/transitions", `${runId}.jsonl`), "utf8");
      for (const line of text.trimEnd().split("\n")) {
        const value = JSON.parse(line) as unknown;
        expectValid("ledger_line", ledgerTransition, value);
        states.add(ledgerTransition.parse(value).from_state);
        lines += 1;
      }
    }
    expect(lines).toBeGreaterThan(177);
    // New advisories (from null) and advisories whose state changed (from a state) are both checked.
    expect(states.has(null)).toBe(true);
    expect(states.has("under_investigation")).toBe(true);
  });

  it("refuses what breaks the contract: the schemas are not vacuous", () => {
    const validate = ajv.compile(jsonSchemaOf(entry("advisory_current")));
    const broken = {
      generated_at: "yesterday",
      advisory_count: -1,
      advisories: [{ advisory_id: "no-colon" }],
    };
    expect(validate(broken)).toBe(false);
    expect(advisoryCurrentSchema.safeParse(broken).success).toBe(false);
    const extraField = { generated_at: "2026-02-01T00:00:00Z", advisory_count: 0, advisories: [], extra: 1 };
    expect(advisoryCurrentSchema.safeParse(extraField).success).toBe(false);
    expect(validate(extraField)).toBe(false);
  });
});
