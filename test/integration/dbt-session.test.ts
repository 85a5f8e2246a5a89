import { access, cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DbtSession } from "../../pipeline/lib/dbt-session.ts";
import { dbtSessionSocketVariable } from "../../pipeline/lib/dbt-session-client.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { runPipeline } from "../../pipeline/run.ts";
import { type DbtSessionServer, startDbtSessionServer } from "../../tools/dbt-sessions/server.ts";
import {
  createWorkspace,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

const dbtExecutable = join(repoRoot, "dbt_project/.venv/bin/dbt");
const projectDir = join(repoRoot, "dbt_project");
const publishedFiles = [
  "advisory_current.json",
  "cve_facts.json",
  "data.json",
  "openvex.json",
  "run_summary.json",
];
const firstClock = new Date("2026-05-01T06:00:00Z");
const secondClock = new Date("2026-05-02T06:00:00Z");

/**
 * The demo runs dbt in one long-lived session instead of a `dbt` process per run. Both ways must decide
 * exactly alike, and the session must give the database back between runs.
 */
describe("a dbt session", () => {
  let byCommand: Workspace;
  let bySession: Workspace;
  let byServer: Workspace;
  let session: DbtSession;
  let serverDir: string;
  let server: DbtSessionServer;

  beforeAll(async () => {
    [byCommand, bySession, byServer] = await Promise.all([
      createWorkspace(),
      createWorkspace(),
      createWorkspace(),
    ]);
    for (const workspace of [byCommand, bySession, byServer])
      await workspace.writeConfig({ dataJson: sampleDataJson, csv: sampleCsv });
    session = new DbtSession(dbtExecutable, projectDir);
    serverDir = await mkdtemp(join(tmpdir(), "echo-dbt-server-"));
    server = await startDbtSessionServer({
      socketPath: join(serverDir, "dbt.sock"),
      size: 1,
      dbtExecutable,
      projectDir,
    });
  });
  afterAll(async () => {
    await Promise.all([session.close(), server.close()]);
    await Promise.all([
      byCommand.cleanup(),
      bySession.cleanup(),
      byServer.cleanup(),
      rm(serverDir, { recursive: true }),
    ]);
  });

  it("publishes byte for byte what the dbt command line publishes, over two runs in one session", async () => {
    let serverBuilds = 0;
    for (const asOf of [firstClock, secondClock]) {
      const [commandOutcome, sessionOutcome] = await Promise.all([
        runPipeline({ configPath: byCommand.configPath, asOf, clockPinned: true }),
        // The second run reopens a database the session's dbt wrote: it would fail if dbt still held it.
        runPipeline({ configPath: bySession.configPath, asOf, clockPinned: true, dbtSession: session }),
      ]);
      expect(commandOutcome.exitCode).toBe(0);
      expect(sessionOutcome.exitCode).toBe(0);
      // The command line handing dbt to a session server (tools/dbt-sessions/server.ts), as the tests run.
      const serverRun = await byServer.run(["--as-of", asOf.toISOString()], {
        [dbtSessionSocketVariable]: server.socketPath,
      });
      expect(serverRun.exitCode, serverRun.stderr).toBe(0);
      serverBuilds += serverRun.stderr.match(/"message":"dbt build started".*"session":true/g)?.length ?? 0;
      for (const file of publishedFiles) {
        const expected = await readFile(join(byCommand.outputDir, file), "utf8");
        expect(await readFile(join(bySession.outputDir, file), "utf8"), file).toBe(expected);
        expect(await readFile(join(byServer.outputDir, file), "utf8"), file).toBe(expected);
      }
    }
    // The first run builds; the second, on the same inputs, keeps its decisions without dbt.
    expect(serverBuilds).toBe(1);
    expect(server.stats().served).toBe(serverBuilds);
    const summary = JSON.parse(await readFile(join(bySession.outputDir, "run_summary.json"), "utf8")) as {
      advisory_count: number;
    };
    expect(summary.advisory_count).toBeGreaterThan(50);
  }, 180_000);

  it("reports a failing invocation with dbt's exit code and message, then serves the next one", async () => {
    const args = ["ls", "--project-dir", projectDir, "--profiles-dir", projectDir, "--log-format", "json"];
    const env = { ECHO_DUCKDB_PATH: bySession.database, DO_NOT_TRACK: "1" };
    const failed = await session.invoke([...args, "--selector", "no_such_selector"], env);
    expect(failed.exitCode).toBe(2);
    expect(`${failed.stdout}${failed.stderr}`).toMatch(/no_such_selector/);

    const listed = await session.invoke([...args, "--selector", "pipeline_run", "--output", "name"], env);
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout).toMatch(/mart_advisory_current/);
  }, 120_000);

  it("fails with a clear error naming the install step when dbt's Python is missing", async () => {
    const missing = new DbtSession("/nonexistent/.venv/bin/dbt", projectDir);
    const attempt = missing.invoke(["--version"], {});
    await expect(attempt).rejects.toBeInstanceOf(PipelineError);
    await expect(attempt).rejects.toThrow(
      /dbt session ended unexpectedly[\s\S]*ENOENT|not found|No such file/,
    );
    await missing.close();
  });
});

/**
 * A pipeline run builds the `pipeline_run` selection, which leaves out the tests on the seeds and the
 * intermediate models. They run here, on the data of a real sample run, so none of them goes unchecked.
 */
describe("every dbt data test", () => {
  let workspace: Workspace;

  beforeAll(async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: sampleCsv });
  });
  afterAll(() => workspace.cleanup());

  it("passes on a sample run's data, including those a run leaves out", async () => {
    const run = await workspace.run(["--as-of", "2026-05-01T06:00:00Z"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const common = ["--project-dir", projectDir, "--profiles-dir", projectDir];
    const env = { ECHO_DUCKDB_PATH: workspace.database, DO_NOT_TRACK: "1" };
    const count = async (selection: string[]) => {
      const listed = await execa(
        dbtExecutable,
        // Its own target folder: dbt's default is the project's.
        [
          "ls",
          ...common,
          "--target-path",
          join(workspace.dir, "dbt-target"),
          "--quiet",
          "--output",
          "name",
          ...selection,
        ],
        {
          env,
        },
      );
      return listed.stdout.split("\n").filter((line) => line.trim() !== "").length;
    };
    const allDataTests = await count(["--resource-type", "test", "--exclude", "test_type:unit"]);
    const runDataTests = await count(["--selector", "pipeline_run", "--resource-type", "test"]);
    // One column_checks test per model (not one per column and condition), so about 30 in a run and 40
    // more (the seeds' and intermediate models') in the whole set.
    expect(runDataTests).toBeGreaterThan(25);
    expect(allDataTests).toBeGreaterThan(runDataTests + 30);

    const tested = await execa(
      dbtExecutable,
      ["test", ...common, "--exclude", "test_type:unit", "--target-path", join(workspace.dir, "dbt-target")],
      { env, reject: false, all: true },
    );
    expect(tested.exitCode, tested.all).toBe(0);
    expect(tested.all).toMatch(new RegExp(`PASS=${allDataTests}\\b`));
  }, 180_000);
});

describe("a model's column_checks test", () => {
  let workspace: Workspace;

  beforeAll(async () => {
    workspace = await createWorkspace();
    // A copy of the project whose mart_advisory_current declares two conditions the sample breaks: every
    // state fixed, and a fixed version on every advisory.
    const copy = join(workspace.dir, "dbt_project");
    await cp(projectDir, copy, {
      recursive: true,
      filter: (path) => !/[/\\](\.venv|target|logs)$/.test(path),
    });
    const yamlPath = join(copy, "models/marts/mart_advisory_current.yml");
    const yaml = await readFile(yamlPath, "utf8");
    const planted = yaml
      .replace(/(not_null:\s*\[)/, "$1fixed_version, ")
      .replace(/( +)accepted_values:\n/, "$1accepted_values:\n$1  state: [fixed]\n");
    expect(planted).not.toBe(yaml);
    await writeFile(yamlPath, planted);
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: sampleCsv, dbtProjectDir: copy });
  });
  afterAll(() => workspace.cleanup());

  it("stops the run naming each condition that does not hold and how many rows break it", async () => {
    const run = await workspace.run(["--as-of", "2026-05-01T06:00:00Z"]);
    expect(run.exitCode).not.toBe(0);
    const advisories = JSON.parse(await readFile(sampleDataJson, "utf8")) as Record<
      string,
      Record<string, unknown>
    >;
    const total = Object.values(advisories).reduce((sum, entries) => sum + Object.keys(entries).length, 0);
    const errors = run.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: string; message: string })
      .filter((line) => line.level === "error");
    const failure = errors
      .map((line) => line.message)
      .find((text) => text.includes("column_checks_mart_advisory_current"));
    expect(failure, run.stderr).toBeDefined();
    const conditions = Object.fromEntries(
      [...(failure ?? "").matchAll(/^ {4}(\S+): (\d+) rows$/gm)].map((match) => [match[1], Number(match[2])]),
    );
    // Only the planted conditions fail, each with a share of the sample's advisories; the rest hold.
    expect(Object.keys(conditions).sort()).toEqual(["accepted_values:state", "not_null:fixed_version"]);
    for (const rows of Object.values(conditions)) {
      expect(rows).toBeGreaterThan(0);
      expect(rows).toBeLessThan(total);
    }
  });
});

describe("a new state folder", () => {
  const workspaces: Workspace[] = [];
  afterAll(() => Promise.all(workspaces.map((workspace) => workspace.cleanup())));

  const firstRunLog = async (extra?: string) => {
    const workspace = await createWorkspace();
    workspaces.push(workspace);
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: sampleCsv, extra });
    // The `dbt` command's own parse, not the test suite's session server (test/setup/dbt-sessions.ts).
    const server = process.env[dbtSessionSocketVariable];
    delete process.env[dbtSessionSocketVariable];
    const run = await workspace.run(["--as-of", "2026-05-01T06:00:00Z"]).finally(() => {
      if (server !== undefined) process.env[dbtSessionSocketVariable] = server;
    });
    expect(run.exitCode, run.stderr).toBe(0);
    return run.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { message: string; because?: string });
  };

  it("starts from the parse `npm ci` left in the project, and parses in full only under other settings", async () => {
    await expect(
      access(join(projectDir, ".venv/installed-parse/partial_parse.msgpack")),
      "npm ci (dbt_project/install-runtime.mjs) parses the project into dbt_project/.venv/installed-parse",
    ).resolves.toBeUndefined();
    const seeded = await firstRunLog();
    expect(seeded.filter((line) => line.message === "dbt parsed the whole project")).toEqual([]);
    // dbt keeps a parse only for the connection settings it was made with: another memory cap is another.
    const otherSettings = await firstRunLog("duckdb:\n  memory_limit: 1GB\n");
    expect(otherSettings.filter((line) => line.message === "dbt parsed the whole project")).toEqual([
      expect.objectContaining({ because: expect.stringMatching(/profile has changed/) }),
    ]);
  }, 180_000);
});
