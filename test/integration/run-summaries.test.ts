import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRunSummaries, runSummaryPath } from "../../pipeline/formats/run-summary.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { createWorkspace, sampleCsv, sampleDataJson, type Workspace } from "../helpers/workspace.ts";

/**
 * Every run that is not a dry run keeps its summary in the history (<history>/runs/<run id>.json), so the site
 * can show every run and not only the latest: a published run, a dry run (none), a blocked run (kept).
 */
describe("per-run summaries", () => {
  let workspace: Workspace;
  let dataPath: string;
  const historyDir = () => join(workspace.outputDir, "history");
  const runsDir = () => join(historyDir(), "runs");

  beforeAll(async () => {
    workspace = await createWorkspace();
    dataPath = await workspace.input("data.json", await readFile(sampleDataJson));
    const csvPath = await workspace.input("na.csv", await readFile(sampleCsv));
    await workspace.writeConfig({ dataJson: dataPath, csv: csvPath });
  });
  afterAll(() => workspace.cleanup());

  it("a published run writes its summary, byte-identical to run_summary.json", async () => {
    const run = await workspace.run(["--as-of", "2026-06-01T00:00:00Z"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await readdir(runsDir())).toEqual(["20260601T000000Z.json"]);
    expect(await readFile(runSummaryPath(historyDir(), "20260601T000000Z"), "utf8")).toBe(
      await readFile(join(workspace.outputDir, "run_summary.json"), "utf8"),
    );
  });

  it("a dry run writes none", async () => {
    const run = await workspace.run(["--as-of", "2026-06-02T00:00:00Z", "--dry-run"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(await readdir(runsDir())).toEqual(["20260601T000000Z.json"]);
  });

  it("a blocked run keeps its summary too, and the reader returns every run oldest first", async () => {
    const original = JSON.parse(await readFile(sampleDataJson, "utf8")) as Record<string, unknown>;
    const packages = Object.keys(original);
    const half = Object.fromEntries(
      packages.slice(0, packages.length / 2).map((name) => [name, original[name]]),
    );
    await writeFile(dataPath, JSON.stringify(half));
    const run = await workspace.run(["--as-of", "2026-06-03T00:00:00Z"]);
    expect(run.exitCode).toBe(3);
    expect(await readdir(runsDir())).toEqual(["20260601T000000Z.json", "20260603T000000Z.json"]);
    // A crash during an atomic write leaves a .tmp file behind; the reader skips it.
    await writeFile(join(runsDir(), "20260604T000000Z.json.123.abcd.tmp"), "{");
    const summaries = await readRunSummaries(historyDir());
    expect(summaries.map((file) => [file.runId, file.summary.status])).toEqual([
      ["20260601T000000Z", "succeeded"],
      ["20260603T000000Z", "blocked"],
    ]);
    expect(summaries[1]?.summary).toEqual(
      JSON.parse(await readFile(join(workspace.outputDir, "run_summary.json"), "utf8")),
    );
  });
});

describe("reading per-run summaries", () => {
  let historyDir: string;
  const runId = "20260301T060000Z";
  const summary = {
    run_id: runId,
    status: "succeeded",
    as_of: "2026-03-01T06:00:00.000Z",
    advisory_count: 1,
    state_distribution: [{ state: "fixed", state_type: "final", count: 1 }],
    transitions: [{ from: null, to: "fixed", count: 1 }],
    checks: [{ check_id: "regressions", severity: "warn", passed: true, failing_count: 0, examples: [] }],
  };

  beforeAll(async () => {
    historyDir = await mkdtemp(join(tmpdir(), "echo-run-summaries-"));
  });
  afterAll(() => rm(historyDir, { recursive: true, force: true }));

  async function write(name: string, text: string) {
    await rm(join(historyDir, "runs"), { recursive: true, force: true });
    await mkdir(join(historyDir, "runs"), { recursive: true });
    await writeFile(join(historyDir, "runs", name), text);
  }

  async function failure(): Promise<PipelineError> {
    const error = await readRunSummaries(historyDir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }

  it("returns nothing when no run kept a summary", async () => {
    expect(await readRunSummaries(join(historyDir, "missing"))).toEqual([]);
  });

  it("names the file that is not JSON", async () => {
    await write(`${runId}.json`, "{ not json");
    const error = await failure();
    expect(error.describe()).toMatch(new RegExp(`runs/${runId}\\.json: not a run summary: `));
  });

  it("names the file and key that do not look like a summary", async () => {
    await write(`${runId}.json`, JSON.stringify({ ...summary, checks: "none" }));
    expect((await failure()).describe()).toMatch(
      new RegExp(`runs/${runId}\\.json key checks: not a run summary`),
    );
  });

  it("refuses a summary filed under another run, and a file that is not a run's", async () => {
    await write("20260302T060000Z.json", JSON.stringify(summary));
    expect((await failure()).describe()).toContain(
      `run_id ${runId} does not match the file's run 20260302T060000Z`,
    );
    await write("notes.txt", "");
    expect((await failure()).message).toBe("unexpected file in the run summaries directory");
  });
});
