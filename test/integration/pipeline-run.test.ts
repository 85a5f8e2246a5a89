import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  countStates,
  createWorkspace,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

describe("a pipeline run on the bundled sample", () => {
  let workspace: Workspace;
  let firstRun: Awaited<ReturnType<Workspace["run"]>>;

  beforeAll(async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: sampleCsv });
    firstRun = await workspace.run(["--as-of", "2026-01-15T10:00:00Z"]);
  });
  afterAll(() => workspace.cleanup());

  it("succeeds and prints the state counts and per-stage timings", () => {
    expect(firstRun.stderr).not.toContain('"level":"error"');
    expect(firstRun.exitCode).toBe(0);
    expect(firstRun.stdout).toMatch(/Run 20260115T100000Z: 177 advisories/);
    for (const stage of ["config", "init", "ingest", "load", "transform", "export", "quality", "report"]) {
      expect(firstRun.stdout).toMatch(new RegExp(`^  ${stage}\\s+\\d+\\.\\d\\d s$`, "m"));
    }
  });

  it("decides every advisory: override → not_applicable, fixed version → fixed, otherwise under_investigation", async () => {
    const document = await workspace.readAdvisoryCurrent();
    expect(document.advisory_count).toBe(177);
    expect(countStates(document)).toEqual({ fixed: 114, not_applicable: 23, under_investigation: 40 });
    const overridden = document.advisories.find((advisory) => advisory.advisory_id === "linux:CVE-2016-8660");
    expect(overridden).toMatchObject({
      state: "not_applicable",
      state_type: "final",
      reason_code: "analyst_not_applicable",
      fixed_version: null,
      contributing_sources: ["echo_csv"],
      dissenting_sources: [],
    });
    expect(overridden?.explanation).toBe(
      "CVE-2016-8660 does not affect linux: the vulnerable code is not used by this package as we build and ship it. This is the assessment of our security research team, in its not-applicable feed since 2026-01-15.",
    );
    const open = document.advisories.find((advisory) => advisory.advisory_id === "zlib:CVE-2023-45853");
    expect(open).toMatchObject({
      state: "under_investigation",
      state_type: "non_final",
      fixed_version: null,
    });
    const fixed = document.advisories.find((advisory) => advisory.advisory_id === "curl:CVE-2023-38545");
    expect(fixed).toMatchObject({
      state: "fixed",
      fixed_version: "7.88.1-10+deb12u4",
      contributing_sources: ["echo_data"],
    });
  });

  it("writes the published shape, sorted by advisory_id, with customer text and no internal codes", async () => {
    const document = await workspace.readAdvisoryCurrent();
    expect(document.generated_at).toBe("2026-01-15T10:00:00.000Z");
    const ids = document.advisories.map((advisory) => advisory.advisory_id);
    expect(ids).toEqual([...ids].sort());
    for (const advisory of document.advisories) {
      expect(Object.keys(advisory)).toEqual([
        "advisory_id",
        "cve_id",
        "package_name",
        "state",
        "state_type",
        "fixed_version",
        "confidence",
        "explanation",
        "reason_code",
        "rule_id",
        "contributing_sources",
        "dissenting_sources",
        "decided_at",
        "first_seen",
        "evidence",
        "unaffected_from_version",
        "known_exploited",
        "history_url",
      ]);
      expect(advisory.decided_at).toBe("2026-01-15T10:00:00Z");
      expect(advisory.first_seen).toBe("2026-01-15T10:00:00Z");
      expect(advisory.evidence.map((entry) => entry.source)).toContain("echo_data");
      expect(advisory.history_url).toBe(`advisory/?id=${encodeURIComponent(advisory.advisory_id)}`);
      expect(advisory.advisory_id).toBe(`${advisory.package_name}:${advisory.cve_id}`);
      expect(advisory.explanation).not.toMatch(
        /code_not_in_use|code_not_released|os_specific|not_reproducible|\{\w+\}/,
      );
      expect(advisory.confidence).toBeGreaterThan(0);
    }
  });

  it("rewrites data.json in the vendor's shape: every package/CVE kept, fixed versions as decided, no new fields", async () => {
    type Feed = Record<string, Record<string, Record<string, string>>>;
    const input = JSON.parse(await readFile(sampleDataJson, "utf8")) as Feed;
    const feed = JSON.parse(await readFile(join(workspace.outputDir, "data.json"), "utf8")) as Feed;
    const pairs = (document: Feed) =>
      Object.entries(document).flatMap(([name, entries]) =>
        Object.keys(entries).map((id) => `${name}:${id}`),
      );
    expect(pairs(feed).sort()).toEqual(pairs(input).sort());
    const decided = new Map(
      (await workspace.readAdvisoryCurrent()).advisories.map((advisory) => [advisory.advisory_id, advisory]),
    );
    for (const [name, entries] of Object.entries(feed)) {
      for (const [id, entry] of Object.entries(entries)) {
        const advisory = decided.get(`${name}:${id}`);
        expect(
          Object.keys(entry).every((key) => key in (input[name]?.[id] ?? {}) || key === "fixed_version"),
        ).toBe(true);
        if (advisory?.state === "fixed") expect(entry.fixed_version).toBe(advisory.fixed_version);
        if (advisory?.state === "under_investigation") expect(entry.fixed_version).toBeUndefined();
        if (advisory?.state === "not_applicable") expect(entry.fixed_version).toEqual(expect.any(String));
      }
    }
  });

  it("writes a run report with metadata, state distribution and check results, and a run summary", async () => {
    const files = await readdir(workspace.outputDir);
    expect(files).toContain("run_report_20260115T100000Z.md");
    const report = await readFile(join(workspace.outputDir, "run_report_20260115T100000Z.md"), "utf8");
    expect(report).toContain("# Run report 20260115T100000Z");
    expect(report).toMatch(/\| Advisories \| 177 \|/);
    expect(report).toMatch(/\| fixed \| final \| 114 \| 64\.4 % \|/);
    expect(report).toMatch(/\| advisory_ids_unique \| error \| passed \| 0 \|/);
    const summary = JSON.parse(await readFile(join(workspace.outputDir, "run_summary.json"), "utf8"));
    expect(summary).toMatchObject({
      run_id: "20260115T100000Z",
      status: "succeeded",
      advisory_count: 177,
    });
  });

  it("adds no landing rows and publishes the same advisories when run again on the same input", async () => {
    const before = await workspace.landingCounts();
    const firstText = await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8");
    const again = await workspace.run(["--as-of", "2026-01-16T10:00:00Z"]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("Decision changes recorded: 0");
    expect(await workspace.landingCounts()).toEqual(before);
    expect(before).toMatchObject({
      echo_advisories: 177,
      echo_not_applicable: 23,
      snapshots: 2,
      snapshot_members: 200,
    });
    const secondText = await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8");
    // Only the run's clock and id differ.
    const withoutRun = (text: string) =>
      text.replace(/"generated_at": "[^"]+"/, "").replace(/"run_id": "[^"]+"/, "");
    expect(withoutRun(secondText)).toBe(withoutRun(firstText));
    expect(secondText).not.toBe(firstText);
  });

  it("gives byte-identical outputs for the same input and --as-of, and leaves wall-clock figures out", async () => {
    const names = [
      "advisory_current.json",
      "run_summary.json",
      "run_report_20260116T100000Z.md",
      "changes/20260116T100000Z.json",
      "changes.atom",
    ];
    const read = () => Promise.all(names.map((name) => readFile(join(workspace.outputDir, name), "utf8")));
    const first = await read();
    const pinned = await workspace.run(["--as-of", "2026-01-16T10:00:00Z"]);
    expect(pinned.exitCode).toBe(0);
    expect(await read()).toEqual(first);
    expect(first[0]).toContain('"generated_at": "2026-01-16T10:00:00.000Z"');
    expect(JSON.parse(first[1] as string)).toMatchObject({
      clock_pinned: true,
      started_at: null,
      stage_durations_ms: null,
    });
  });

  it("refuses a clock earlier than the latest run: history only moves forward", async () => {
    const earlier = await workspace.run(["--as-of", "2026-01-15T10:00:00Z"]);
    expect(earlier.exitCode).toBe(2);
    expect(earlier.stderr).toContain("is before the latest recorded run 20260116T100000Z");
  });
});
