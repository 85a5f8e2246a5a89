import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLedger } from "../../pipeline/history/ledger.ts";
import {
  type DatabaseState,
  periodProblems,
  readDatabaseLedger,
  readDatabaseState,
} from "../helpers/crash-database.ts";
import {
  atomicWriteTemporary,
  compareOutputs,
  filesWrittenSince,
  type LogLine,
  type PipelineExit,
  PipelineProcess,
  publishJournal,
  readOutputTree,
  settleOutputs,
  stageFinished,
  waitForGroupGone,
  whenFileAppears,
} from "../helpers/crash-pipeline.ts";
import { createWorkspace, sampleCsv, sampleDataJson, type Workspace } from "../helpers/workspace.ts";

// Each pipeline run below is killed with SIGKILL (no handler, no cleanup) at one point, then run again.
// Run 1 (firstClock) is complete everywhere; run 2 (secondClock, changed inputs) is the one killed, and
// its attempts re-run it with the same clock, which the pipeline treats as the same run done again.
const firstClock = "2026-01-15T10:00:00Z";
const firstRunId = "20260115T100000Z";
const secondClock = "2026-01-16T10:00:00Z";
const secondRunId = "20260116T100000Z";

// The sample's 177 advisories, 25 times over under renamed packages: the load stage then lasts long
// enough (a few hundred ms) to be killed inside, and the exported files are a few MB.
const copies = 25;

type Feed = Record<string, Record<string, { fixed_version?: string }>>;

async function buildInputs(): Promise<{ first: Feed; second: Feed; csv: string }> {
  const sample = JSON.parse(await readFile(sampleDataJson, "utf8")) as Feed;
  const first: Feed = {};
  for (let copy = 0; copy < copies; copy += 1) {
    for (const [name, entries] of Object.entries(sample))
      first[`${name}-c${String(copy).padStart(3, "0")}`] = structuredClone(entries);
  }
  // Run 2: the first copy's open advisories get a fix (about 1 % of the advisories, under the guard's 5 %).
  const second: Feed = structuredClone(first);
  for (const [name, entries] of Object.entries(second)) {
    if (!name.endsWith("-c000")) continue;
    for (const entry of Object.values(entries)) entry.fixed_version ??= "99.0-1";
  }
  const [header, ...rows] = (await readFile(sampleCsv, "utf8")).trimEnd().split("\n");
  const csvRows = [];
  for (let copy = 0; copy < copies; copy += 1) {
    // The package is the second column; no sample package name contains a comma.
    csvRows.push(
      ...rows.map((row) => row.replace(/^([^,]*),([^,]*),/, `$1,$2-c${String(copy).padStart(3, "0")},`)),
    );
  }
  return { first, second, csv: `${[header, ...csvRows].join("\n")}\n` };
}

interface CrashWorkspace {
  workspace: Workspace;
  lockPath: string;
  dbtRunDir: string;
}

function crashWorkspace(workspace: Workspace): CrashWorkspace {
  return {
    workspace,
    lockPath: `${workspace.database}.run-lock`,
    dbtRunDir: join(workspace.dir, "state", "dbt", "target", "run"),
  };
}

/** Paths relative to the config, so a copy of the workspace is a workspace of its own. */
async function writeRelativeConfig(workspace: Workspace): Promise<void> {
  await writeFile(
    workspace.configPath,
    [
      "database: state/echo-advisory.duckdb",
      "output_dir: output",
      "sources:",
      "  echo_data:",
      "    location: input/data.json",
      "  echo_csv:",
      "    location: input/advisory_not_applicable.csv",
      "",
    ].join("\n"),
  );
}

interface KillPoint {
  name: string;
  /** Resolves once the attempt has reached the point; it is killed right after. */
  reach(attempt: PipelineProcess, target: CrashWorkspace): Promise<void>;
  /** A log line the attempt must not have printed: proof that the kill came before it. */
  before: { what: string; matches: (line: LogLine) => boolean };
  /**
   * Where the attempt stops itself (SIGSTOP, `ECHO_TEST_PAUSE_AT`), so the kill lands exactly there even when
   * what follows is quicker than the test's reaction: the report takes milliseconds, and so does the load of
   * a small delivery.
   */
  pauseAt?: string;
}

const atLog = (matches: (line: LogLine) => boolean, what: string) => async (attempt: PipelineProcess) => {
  await attempt.waitForLog(matches, what);
};
const runStarted = (line: LogLine) => line.message === "run started";
const dbtStarted = (line: LogLine) => line.message === "dbt build started";
const pausedForCrashTest = (line: LogLine) => line.message === "paused for a crash test";

const killPoints = {
  initToIngest: {
    name: "between init and ingest",
    reach: atLog(runStarted, "run started"),
    before: { what: "load finished", matches: stageFinished("load") },
  },
  ingestToLoad: {
    name: "between ingest and load",
    reach: atLog(stageFinished("ingest"), "ingest finished"),
    pauseAt: "after:ingest",
    before: { what: "load finished", matches: stageFinished("load") },
  },
  insideLoad: {
    name: "inside load, while it lands observations",
    // Inside the load's transaction, once the first new delivery's observations are inserted.
    reach: atLog(pausedForCrashTest, "paused inside load"),
    pauseAt: "load:observations-landed",
    before: { what: "load finished", matches: stageFinished("load") },
  },
  loadToTransform: {
    name: "between load and transform",
    reach: atLog(stageFinished("load"), "load finished"),
    pauseAt: "after:load",
    before: { what: "transform finished", matches: stageFinished("transform") },
  },
  insideTransform: {
    name: "inside transform, once dbt has built some nodes",
    async reach(attempt, target) {
      await attempt.waitForLog(dbtStarted, "dbt build started");
      // dbt writes each node's SQL under target/run as it runs it.
      await attempt.waitUntil(
        async () => (await filesWrittenSince(target.dbtRunDir, attempt.startedAt)) >= 6,
        "dbt built some nodes",
      );
    },
    before: { what: "transform finished", matches: stageFinished("transform") },
  },
  transformToQuality: {
    name: "between transform and quality",
    reach: atLog(stageFinished("transform"), "transform finished"),
    pauseAt: "after:transform",
    before: { what: "export finished", matches: stageFinished("export") },
  },
  qualityToExport: {
    name: "between quality and export",
    reach: atLog(stageFinished("quality"), "quality finished"),
    pauseAt: "after:quality",
    before: { what: "export finished", matches: stageFinished("export") },
  },
  insideExport: {
    name: "while publishing, as it writes advisory_current.json",
    async reach(attempt, target) {
      // The release is being staged: advisory_current.json (a few MB) is being written to its temporary,
      // which the kill may leave behind. On a fast machine the kill can land later, once the journal is
      // written and some renames are made: the tests below accept either, judged by the journal.
      const writing = whenFileAppears(target.workspace.outputDir, (name) =>
        /^advisory_current\.json\.\d+\.[0-9a-f]{8}\.tmp$/.test(name),
      );
      try {
        // The log wait never matches: it only rejects should the attempt end first.
        await Promise.race([
          writing.appeared,
          attempt.waitForLog(() => false, "writing advisory_current.json"),
        ]);
      } finally {
        writing.stop();
      }
    },
    before: { what: "report finished", matches: stageFinished("report") },
  },
  exportToReport: {
    name: "between export and report",
    reach: atLog(stageFinished("export"), "export finished"),
    pauseAt: "after:export",
    before: { what: "report finished", matches: stageFinished("report") },
  },
  afterReport: {
    name: "after report, before the run is recorded as finished",
    reach: atLog(stageFinished("report"), "report finished"),
    pauseAt: "after:report",
    before: { what: "nothing after it", matches: () => false },
  },
} satisfies Record<string, KillPoint>;

type KillPointId = keyof typeof killPoints;

interface KillRecord {
  point: KillPointId;
  pid: number;
  exit: PipelineExit;
  /** Processes of its group still running after the kill (node or dbt). */
  survivors: number[];
  printedBefore: boolean;
  lockText: string | undefined;
  outputs: Map<string, string>;
  database: DatabaseState | { error: string };
}

interface ChainRecord {
  kills: KillRecord[];
  /** Why the chain stopped early, if it did. */
  failure?: string;
  /** The attempt after each kill got past the run lock (it logged "run started"). */
  lockTakenOver: boolean[];
  recovery?: {
    exit: PipelineExit;
    outputs: Map<string, string>;
    lockText: string | undefined;
  };
  /** A second pipeline started while an attempt of this chain ran. */
  refused?: { holderPid: number; exit: PipelineExit; lockTextAfter: string | undefined };
}

const readText = (path: string) => readFile(path, "utf8").catch(() => undefined);

/** Kills one attempt of run 2 after another at the given points, then lets a last attempt finish. */
async function runChain(
  target: CrashWorkspace,
  points: readonly KillPointId[],
  options: { refuseSecondDuring?: KillPointId } = {},
): Promise<ChainRecord> {
  const record: ChainRecord = { kills: [], lockTakenOver: [] };
  const { workspace } = target;
  try {
    for (const point of points) {
      const pauseAt: string | undefined = (killPoints[point] as KillPoint).pauseAt;
      const attempt = new PipelineProcess(
        workspace.configPath,
        ["--as-of", secondClock],
        pauseAt === undefined ? {} : { ECHO_TEST_PAUSE_AT: pauseAt },
      );
      if (record.kills.length > 0) {
        record.lockTakenOver.push(
          await attempt.waitForLog(runStarted, "run started").then(
            () => true,
            () => false,
          ),
        );
      }
      if (options.refuseSecondDuring === point) {
        await attempt.waitForLog(dbtStarted, "dbt build started");
        const second = new PipelineProcess(workspace.configPath, ["--as-of", secondClock]);
        const exit = await second.exited;
        record.refused = { holderPid: attempt.pid, exit, lockTextAfter: await readText(target.lockPath) };
      }
      await killPoints[point].reach(attempt, target);
      attempt.killGroup();
      const exit = await attempt.exited;
      const survivors = await waitForGroupGone(attempt.pid);
      record.kills.push({
        point,
        pid: attempt.pid,
        exit,
        survivors,
        printedBefore: attempt.logged(killPoints[point].before.matches),
        lockText: await readText(target.lockPath),
        outputs: await readOutputTree(workspace.outputDir),
        database: await readDatabaseState(workspace.database).catch((error: unknown) => ({
          error: String(error),
        })),
      });
    }
    const last = new PipelineProcess(workspace.configPath, ["--as-of", secondClock]);
    record.lockTakenOver.push(
      await last.waitForLog(runStarted, "run started").then(
        () => true,
        () => false,
      ),
    );
    const exit = await last.exited;
    record.recovery = {
      exit,
      outputs: await readOutputTree(workspace.outputDir),
      lockText: await readText(target.lockPath),
    };
  } catch (error) {
    record.failure = String(error instanceof Error ? error.message : error);
  }
  return record;
}

const chains = {
  early: [
    "initToIngest",
    "ingestToLoad",
    "insideLoad",
    "loadToTransform",
    "insideTransform",
    "transformToQuality",
    "qualityToExport",
    "insideExport",
  ],
  late: ["exportToReport", "afterReport"],
} satisfies Record<string, KillPointId[]>;

describe("a pipeline killed with SIGKILL at any point, then run again", () => {
  const workspaces: Workspace[] = [];
  let previousOutputs: Map<string, string>;
  let newOutputs: Map<string, string>;
  const results = new Map<string, { target: CrashWorkspace; chain: ChainRecord }>();

  async function newWorkspace(): Promise<Workspace> {
    const workspace = await createWorkspace();
    workspaces.push(workspace);
    return workspace;
  }

  beforeAll(async () => {
    const inputs = await buildInputs();
    // Run 1, complete, in a template; every scenario starts from a copy of it.
    const template = await newWorkspace();
    await writeRelativeConfig(template);
    await template.input("data.json", `${JSON.stringify(inputs.first, null, 1)}\n`);
    await template.input("advisory_not_applicable.csv", inputs.csv);
    const first = await template.run(["--as-of", firstClock]);
    if (first.exitCode !== 0) throw new Error(`run 1 failed (exit ${first.exitCode}):\n${first.stderr}`);
    previousOutputs = await readOutputTree(template.outputDir);

    const clone = async () => {
      const workspace = await newWorkspace();
      await cp(template.dir, workspace.dir, { recursive: true });
      await workspace.input("data.json", `${JSON.stringify(inputs.second, null, 1)}\n`);
      return crashWorkspace(workspace);
    };
    const reference = await clone();
    const early = await clone();
    const late = await clone();
    // Two streams of dbt runs, one per core, of about the same length: the reference run 2 and then the
    // late chain beside the early chain.
    const [earlyChain, [referenceRun, lateChain]] = await Promise.all([
      runChain(early, chains.early, { refuseSecondDuring: "insideTransform" }),
      reference.workspace
        .run(["--as-of", secondClock])
        .then(async (run) => [run, await runChain(late, chains.late)] as const),
    ]);
    if (referenceRun.exitCode !== 0) {
      throw new Error(`run 2 without a kill failed (exit ${referenceRun.exitCode}):\n${referenceRun.stderr}`);
    }
    newOutputs = await readOutputTree(reference.workspace.outputDir);
    results.set("early", { target: early, chain: earlyChain });
    results.set("late", { target: late, chain: lateChain });
    // About a dozen pipeline attempts, six of them through a whole dbt build, in two streams: about 4 minutes
    // on a quiet two-core machine, and more than the default 5 when other test files share it.
  }, 900_000);

  afterAll(async () => {
    await Promise.all(workspaces.map((workspace) => workspace.cleanup()));
  });

  it("has two different complete output sets to tell apart", () => {
    expect(previousOutputs.size).toBeGreaterThan(5);
    expect(newOutputs.get("advisory_current.json")).not.toBe(previousOutputs.get("advisory_current.json"));
    expect([...newOutputs.keys()]).toContain(`history/transitions/${secondRunId}.jsonl`);
  });

  for (const [chainName, points] of Object.entries(chains)) {
    for (const point of points) {
      const killPoint: KillPoint = killPoints[point];
      it(`killed ${killPoint.name}: the group is gone, outputs are one complete set, the database is intact`, () => {
        const { chain } = results.get(chainName) ?? expect.unreachable();
        const kill = chain.kills.find((entry) => entry.point === point);
        expect(kill, chain.failure).toBeDefined();
        if (!kill) return;
        expect(kill.exit.signal).toBe("SIGKILL");
        expect(kill.survivors).toEqual([]);
        expect(kill.printedBefore, `the kill came after ${killPoint.before.what}`).toBe(false);
        // The lock stays behind, naming the dead process: the next attempt must take it over.
        expect(kill.lockText).toBe(`${kill.pid}\n`);

        // No partial file: every published file holds exactly its previous or its new bytes. The publish
        // journal, if the kill left one, is checked by the test after this one.
        const published = [...kill.outputs].filter(
          ([path]) => !atomicWriteTemporary.test(path) && path !== publishJournal,
        );
        for (const [path, text] of published) {
          expect(
            text === previousOutputs.get(path) || text === newOutputs.get(path),
            `${path} is neither its previous nor its new version`,
          ).toBe(true);
        }
        // A half-written temporary may remain, named so that no reader takes it for an output.
        for (const path of kill.outputs.keys()) {
          if (atomicWriteTemporary.test(path))
            expect(path).toMatch(new RegExp(`\\.${kill.pid}\\.[0-9a-f]{8}\\.tmp$`));
        }

        if ("error" in kill.database)
          expect.unreachable(`the database does not open: ${kill.database.error}`);
        const database = kill.database;
        expect(database.snapshotsWithoutMembers).toEqual([]);
        expect(database.membersWithoutObservation).toBe(0);
        expect(database.runs[0]).toEqual({ run_id: firstRunId, run_seq: 1, status: "succeeded" });
        // Run 2 is recorded once at most, and never as finished: it was killed before that.
        expect(database.runs.slice(1).map((run) => run.run_id)).toEqual(
          database.runs.length > 1 ? [secondRunId] : [],
        );
        if (database.runs[1]) expect(database.runs[1]).toMatchObject({ run_seq: 2, status: "running" });
      });
    }

    for (const point of points) {
      // The run publishes its whole release in one step at the end (publishFiles): a kill before its
      // journal is written leaves the previous set whole; a kill after it, while the renames are made,
      // leaves the journal, and the set the next reader completes from it must be the new one, whole.
      it(`killed ${killPoints[point].name}: the published files are the previous or the new set as a whole`, () => {
        const { chain } = results.get(chainName) ?? expect.unreachable();
        const kill = chain.kills.find((entry) => entry.point === point) ?? expect.unreachable(chain.failure);
        const { journal, settled } = settleOutputs(kill.outputs);
        const comparison = compareOutputs(settled, previousOutputs, newOutputs);
        expect(comparison.matches, JSON.stringify(comparison)).toMatch(
          journal ? /^new$/ : /^(previous|new)$/,
        );
      });
    }

    it(`after the kills ${chains[chainName as keyof typeof chains].map((point) => killPoints[point].name).join("; ")}: the next run takes over the lock and publishes the new set, history intact`, async () => {
      const { target, chain } = results.get(chainName) ?? expect.unreachable();
      expect(chain.failure).toBeUndefined();
      expect(chain.lockTakenOver).toEqual(points.map(() => true));
      const recovery = chain.recovery ?? expect.unreachable();
      expect(recovery.exit.code, recovery.exit.stderr).toBe(0);
      expect(recovery.lockText).toBeUndefined();
      // Byte for byte the outputs of an uninterrupted run 2, and nothing else (no temporaries left).
      expect(compareOutputs(recovery.outputs, previousOutputs, newOutputs)).toEqual({ matches: "new" });

      const { workspace } = target;
      const state = await readDatabaseState(workspace.database);
      expect(state.runs).toEqual([
        { run_id: firstRunId, run_seq: 1, status: "succeeded" },
        { run_id: secondRunId, run_seq: 2, status: "succeeded" },
      ]);
      // The ledger in the database and the history files hold the same transitions, each once.
      const files = await readLedger(join(workspace.outputDir, "history"));
      expect(files.map((file) => file.runId)).toEqual([firstRunId, secondRunId]);
      const fromFiles = files.flatMap((file) =>
        file.transitions.map(({ run_id, advisory_id, from_state, to_state, rule_id }) => ({
          run_id,
          advisory_id,
          from_state,
          to_state,
          rule_id,
        })),
      );
      const ledger = await readDatabaseLedger(workspace.database);
      expect(ledger.transitions).toEqual(fromFiles);
      expect(new Set(fromFiles.map((row) => `${row.run_id} ${row.advisory_id}`)).size).toBe(fromFiles.length);
      expect(fromFiles.filter((row) => row.run_id === secondRunId).length).toBeGreaterThan(0);
      expect(periodProblems(ledger.periods, ledger.current)).toEqual([]);
    });
  }

  it("refuses a second pipeline while one runs, naming the lock and its holder, and leaves the lock alone", () => {
    const { target, chain } = results.get("early") ?? expect.unreachable();
    const refused = chain.refused ?? expect.unreachable(chain.failure);
    expect(refused.exit.code).toBe(1);
    expect(refused.exit.stderr).toContain(
      `${target.lockPath}: another pipeline run (process ${refused.holderPid}) is using this database`,
    );
    expect(refused.lockTextAfter).toBe(`${refused.holderPid}\n`);
  });
});
