import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLedgerText } from "../../pipeline/formats/ledger.ts";
import { withDatabase } from "../../pipeline/lib/db.ts";
import { expectPublishedFilesValid } from "../helpers/published-formats.ts";
import {
  type AdvisoryCurrent,
  createWorkspace,
  decisions,
  readTree,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

/**
 * One advisory, krb5:CVE-2019-30949, followed through a sequence of runs in which its inputs change the way
 * they do in production: an override added and removed, an upstream fix that appears and whose record then
 * disappears (noise), a CVE rejected and reinstated, a source that fails for a run, an identical re-run,
 * and a machine that lost its database and restores history from the files.
 */
const subject = "krb5:CVE-2019-30949";
const vendorFixed = "krb5:CVE-2020-12105"; // data.json gives 4.8.3-2
const trackerFixture = join(repoRoot, "pipeline/sources/debian_tracker/mock/tracker.json");
const nvdFixtures = join(repoRoot, "pipeline/sources/nvd/mock");

type Tracker = Record<string, Record<string, { releases: Record<string, Record<string, unknown>> }>>;

describe("lifecycle and history across runs", () => {
  let workspace: Workspace;
  let dataJsonPath: string;
  let csvPath: string;
  let trackerPath: string;
  let nvdDir: string;
  let tracker: Tracker;
  const originalCsv = () => readFile(sampleCsv, "utf8");

  const day = (n: number) => `2026-03-${String(n).padStart(2, "0")}T06:00:00Z`;
  const runId = (n: number) => `202603${String(n).padStart(2, "0")}T060000Z`;
  const ledgerDir = () => join(workspace.outputDir, "history", "transitions");

  async function run(n: number) {
    const result = await workspace.run(["--as-of", day(n)]);
    expect(result.exitCode, result.stderr).toBe(0);
    // What every run publishes is what pipeline/formats defines (zod, and the JSON Schemas the site serves).
    expect(await expectPublishedFilesValid(workspace.outputDir)).toBeGreaterThan(0);
    return workspace.readAdvisoryCurrent();
  }

  async function ledgerOf(n: number) {
    const path = join(ledgerDir(), `${runId(n)}.jsonl`);
    return parseLedgerText(await readFile(path, "utf8"), path, runId(n));
  }

  /** The advisory lines of advisory_current.json and the statements of openvex.json, as published. */
  async function publishedLines() {
    const lines = async (name: string, start: string) =>
      (await readFile(join(workspace.outputDir, name), "utf8"))
        .split("\n")
        .filter((line) => line.startsWith(start));
    return [
      ...(await lines("advisory_current.json", '{"advisory_id"')),
      ...(await lines("openvex.json", '{"vulnerability"')),
    ];
  }

  async function ledgerFiles() {
    return (await readdir(ledgerDir())).sort();
  }

  function find(document: AdvisoryCurrent, id: string) {
    const advisory = document.advisories.find((candidate) => candidate.advisory_id === id);
    if (!advisory) throw new Error(`${id} is not in advisory_current.json`);
    return advisory;
  }

  async function writeTracker(entry: Record<string, unknown> | null) {
    const copy = structuredClone(tracker);
    const krb5 = copy.krb5 ?? {};
    if (entry === null) delete krb5["CVE-2019-30949"];
    else
      krb5["CVE-2019-30949"] = {
        releases: { bookworm: { repositories: { bookworm: "1.20.1-2" }, ...entry } },
      };
    copy.krb5 = krb5;
    await writeFile(trackerPath, JSON.stringify(copy));
  }

  async function writeNvdRecord(status: "Rejected" | "Analyzed") {
    await writeFile(
      join(nvdDir, "CVE-2019-30949.json"),
      JSON.stringify({
        id: "CVE-2019-30949",
        sourceIdentifier: "cve@mitre.org",
        published: "2019-05-01T10:15:00.000",
        lastModified: status === "Rejected" ? "2026-03-05T12:00:00.000" : "2026-03-06T12:00:00.000",
        vulnStatus: status,
        descriptions: [
          {
            lang: "en",
            value:
              status === "Rejected"
                ? "** REJECT ** This candidate was withdrawn by its CNA."
                : "A NULL pointer dereference in the KDC.",
          },
        ],
        references: [],
      }),
    );
  }

  beforeAll(async () => {
    workspace = await createWorkspace();
    tracker = JSON.parse(await readFile(trackerFixture, "utf8")) as Tracker;
    dataJsonPath = await workspace.input("data.json", await readFile(sampleDataJson));
    csvPath = await workspace.input("advisory_not_applicable.csv", await originalCsv());
    trackerPath = await workspace.input("debian_tracker.json", await readFile(trackerFixture));
    nvdDir = join(workspace.dir, "input", "nvd");
    await cp(nvdFixtures, nvdDir, { recursive: true });
    await workspace.writeConfig({
      dataJson: dataJsonPath,
      csv: csvPath,
      extra: [
        "  debian_tracker:",
        "    enabled: true",
        "    mode: file",
        `    location: ${JSON.stringify(trackerPath)}`,
        "  osv:",
        "    enabled: true",
        "  nvd:",
        "    enabled: true",
        "    mode: file",
        `    location: ${JSON.stringify(nvdDir)}`,
      ].join("\n"),
    });
  });
  afterAll(() => workspace.cleanup());

  it("run 1: every advisory enters the history once; the subject is under investigation", async () => {
    const document = await run(1);
    expect(find(document, subject)).toMatchObject({
      state: "under_investigation",
      decided_at: "2026-03-01T06:00:00Z",
      first_seen: "2026-03-01T06:00:00Z",
      history_url: "advisory/?id=krb5%3ACVE-2019-30949",
    });
    const ledger = await ledgerOf(1);
    expect(ledger).toHaveLength(document.advisory_count);
    expect(ledger.every((transition) => transition.from_state === null)).toBe(true);
  });

  it("run 2: an override added to the CSV decides not_applicable, recorded as one transition", async () => {
    await writeFile(
      csvPath,
      `${(await originalCsv()).trimEnd()}\nCVE-2019-30949,krb5,not_applicable,,code_not_in_use\n`,
    );
    const document = await run(2);
    expect(find(document, subject)).toMatchObject({
      state: "not_applicable",
      reason_code: "analyst_not_applicable",
      decided_at: "2026-03-02T06:00:00Z",
      first_seen: "2026-03-01T06:00:00Z",
    });
    expect(await ledgerOf(2)).toEqual([
      expect.objectContaining({
        advisory_id: subject,
        from_state: "under_investigation",
        to_state: "not_applicable",
        rule_id: "analyst_override",
        reason_code: "analyst_not_applicable",
        deciding_source: "echo_csv",
      }),
    ]);
  });

  it("run 3: the override row removed and a vendor fix withdrawn re-decide both final states", async () => {
    await writeFile(csvPath, await originalCsv());
    const data = JSON.parse(await readFile(dataJsonPath, "utf8")) as Record<string, Record<string, object>>;
    (data.krb5 as Record<string, object>)["CVE-2020-12105"] = {};
    await writeFile(dataJsonPath, JSON.stringify(data));
    const document = await run(3);
    expect(find(document, subject)).toMatchObject({
      state: "under_investigation",
      reason_code: "awaiting_analysis",
    });
    expect(find(document, vendorFixed)).toMatchObject({ state: "under_investigation", fixed_version: null });
    const ledger = await ledgerOf(3);
    expect(
      ledger.map((transition) => [transition.advisory_id, transition.from_state, transition.to_state]),
    ).toEqual([
      [subject, "not_applicable", "under_investigation"],
      [vendorFixed, "fixed", "under_investigation"],
    ]);
  });

  it("run 4: an upstream fix appears in the Debian tracker and decides fixed with its version", async () => {
    await writeTracker({ status: "resolved", urgency: "low", fixed_version: "1.20.1-2+deb12u3" });
    const document = await run(4);
    const advisory = find(document, subject);
    expect(advisory).toMatchObject({
      state: "fixed",
      fixed_version: "1.20.1-2+deb12u3",
      reason_code: "upstream_fix_available",
      contributing_sources: ["debian_tracker"],
    });
    expect(advisory.explanation).toContain("the Debian Security Tracker, bookworm");
    expect(advisory.evidence).toContainEqual(
      expect.objectContaining({ source: "debian_tracker", signal: "fixed", version: "1.20.1-2+deb12u3" }),
    );
  });

  it("run 5: the tracker drops the record (noise): the final state stands, named as such, and nothing is recorded", async () => {
    await writeTracker(null);
    const document = await run(5);
    const advisory = find(document, subject);
    expect(advisory).toMatchObject({
      state: "fixed",
      fixed_version: "1.20.1-2+deb12u3",
      decided_at: "2026-03-04T06:00:00Z",
    });
    expect(advisory.explanation).toContain(
      "the Debian Security Tracker no longer lists this advisory; the decision of 2026-03-04 stands until a source says otherwise.",
    );
    expect(await ledgerFiles()).not.toContain(`${runId(5)}.jsonl`);
  });

  it("run 6: NVD rejects the CVE, which outranks the standing fix", async () => {
    await writeNvdRecord("Rejected");
    const document = await run(6);
    expect(find(document, subject)).toMatchObject({ state: "not_applicable", reason_code: "cve_rejected" });
    expect(await ledgerOf(6)).toEqual([
      expect.objectContaining({
        advisory_id: subject,
        from_state: "fixed",
        to_state: "not_applicable",
        rule_id: "upstream_rejected",
      }),
    ]);
  });

  it("run 7: the CVE reinstated (NVD still speaks) is re-decided; Debian now lists it open", async () => {
    await writeNvdRecord("Analyzed");
    await writeTracker({ status: "open", urgency: "medium" });
    const document = await run(7);
    expect(find(document, subject)).toMatchObject({
      state: "pending_upstream",
      reason_code: "fix_pending_upstream",
    });
    expect((await ledgerOf(7)).map((transition) => [transition.from_state, transition.to_state])).toEqual([
      ["not_applicable", "pending_upstream"],
    ]);
    publishedAfterRun7 = await publishedLines();
  });

  let beforeFailure: AdvisoryCurrent;
  let publishedAfterRun7: string[];
  it("run 8: the tracker fails for one run: no state changes, the stale data is named, nothing recorded", async () => {
    beforeFailure = await workspace.readAdvisoryCurrent();
    await rm(trackerPath);
    const document = await run(8);
    expect(decisions(document)).toEqual(decisions(beforeFailure));
    expect(find(document, subject).explanation).toContain(
      "The deciding data from the Debian Security Tracker was fetched on 2026-03-07, because its latest fetch failed.",
    );
    expect(await ledgerFiles()).not.toContain(`${runId(8)}.jsonl`);
  });

  it("run 8 again with the same clock and inputs: byte-identical outputs and history", async () => {
    const before = await readTree(workspace.outputDir);
    await run(8);
    expect(await readTree(workspace.outputDir)).toEqual(before);
  });

  it("on a machine without the database, history is restored from the files and nothing is re-recorded", async () => {
    await writeTracker({ status: "open", urgency: "medium" });
    await rm(join(workspace.dir, "state"), { recursive: true, force: true });
    const document = await run(9);
    // The inputs are run 7's again: every published line is too, evidence dates and "since" dates included,
    // although the landing tables that first fetched them went with the database.
    expect(publishedAfterRun7.length).toBeGreaterThan(document.advisory_count);
    expect(await publishedLines()).toEqual(publishedAfterRun7);
    expect(find(document, subject)).toMatchObject({
      state: "pending_upstream",
      decided_at: "2026-03-07T06:00:00Z",
      first_seen: "2026-03-01T06:00:00Z",
    });
    expect(await ledgerFiles()).toEqual([1, 2, 3, 4, 6, 7].map((n) => `${runId(n)}.jsonl`));

    const periods = await withDatabase(workspace.database, (db) =>
      db.all<{ state: string; rule_id: string; valid_from_run_id: string; valid_to_run_id: string | null }>(
        `select state, rule_id, valid_from_run_id, valid_to_run_id
         from marts.mart_advisory_history where advisory_id = ? order by valid_from`,
        [subject],
      ),
    );
    expect(periods).toEqual([
      {
        state: "under_investigation",
        rule_id: "no_signal",
        valid_from_run_id: runId(1),
        valid_to_run_id: runId(2),
      },
      {
        state: "not_applicable",
        rule_id: "analyst_override",
        valid_from_run_id: runId(2),
        valid_to_run_id: runId(3),
      },
      {
        state: "under_investigation",
        rule_id: "no_signal",
        valid_from_run_id: runId(3),
        valid_to_run_id: runId(4),
      },
      {
        state: "fixed",
        rule_id: "upstream_fixed_version",
        valid_from_run_id: runId(4),
        valid_to_run_id: runId(6),
      },
      {
        state: "not_applicable",
        rule_id: "upstream_rejected",
        valid_from_run_id: runId(6),
        valid_to_run_id: runId(7),
      },
      {
        state: "pending_upstream",
        rule_id: "upstream_pending",
        valid_from_run_id: runId(7),
        valid_to_run_id: null,
      },
    ]);
    await writeHistoryArtifact(workspace.database);
  });

  it("refuses a clock earlier than the latest run, naming the history directory", async () => {
    const result = await workspace.run(["--as-of", day(5)]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("is before the latest recorded run 20260309T060000Z");
  });

  it("stops with the file and line when a history file is damaged, publishing nothing", async () => {
    const published = await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8");
    const path = join(ledgerDir(), `${runId(7)}.jsonl`);
    const original = await readFile(path, "utf8");
    await writeFile(path, `${original}{"run_id": "20260307T060000Z", "advisory_id": 5}\n`);
    const result = await workspace.run(["--as-of", day(10)]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`${path}:2`);
    expect(await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8")).toBe(published);
    await writeFile(path, original);
  });

  it("stops with the file and key when the published advisories are damaged, publishing nothing", async () => {
    const path = join(workspace.outputDir, "advisory_current.json");
    const original = await readFile(path, "utf8");
    const openVex = await readFile(join(workspace.outputDir, "openvex.json"), "utf8");
    await writeFile(path, original.replace('"fetched_at":"2026-', '"fetched_at":"yesterday-'));
    const result = await workspace.run(["--as-of", day(10)]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/advisory_current\.json key advisories\.\d+\.evidence\.\d+\.fetched_at/);
    expect(await readFile(join(workspace.outputDir, "openvex.json"), "utf8")).toBe(openVex);
    await writeFile(path, original);
  });
});

/** The subject's history as a table people can read, kept with the test artifacts (test/artifacts/). */
async function writeHistoryArtifact(database: string) {
  const rows = await withDatabase(database, (db) =>
    db.all<Record<string, string | null>>(
      `select valid_from_run_id, coalesce(valid_to_run_id, '(current)') as valid_to_run_id, previous_state, state,
         rule_id, reason_code, coalesce(fixed_version, '') as fixed_version, explanation
       from marts.mart_advisory_history where advisory_id = ? order by valid_from`,
      [subject],
    ),
  );
  const columns = Object.keys(rows[0] ?? {});
  const lines = [
    `# History of ${subject} through the lifecycle scenario`,
    "",
    `| ${columns.join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${columns.map((column) => row[column] ?? "").join(" | ")} |`),
    "",
  ];
  const directory = join(repoRoot, "test/artifacts");
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, "lifecycle-history.md"), lines.join("\n"));
}
