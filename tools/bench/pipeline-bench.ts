import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { withDatabase } from "../../pipeline/lib/db.ts";
import { buildSite } from "../../test/helpers/browser.ts";
import { createWorkspace, repoRoot, writeRealDataConfig } from "../../test/helpers/workspace.ts";
import { generateDataset, type Manifest } from "../generate/index.ts";

/**
 * Times whole pipeline runs the way the scheduled job makes them: the command line as a child process,
 * each stage's time as the run prints it, the peak memory of the run's whole process tree (Node and dbt's
 * Python together, sampled from /proc), and the rows through the models.
 */
export interface RunFigures {
  label: string;
  advisories: number;
  exit_code: number;
  wall_seconds: number;
  stages: Record<string, number>;
  /** Largest sum of the resident memory of the run's processes seen at any sample (every 50 ms). */
  peak_rss_mb: number;
  /** The same, per stage: the stage running is the one after the last the run logged as finished. */
  peak_rss_mb_by_stage: Record<string, number>;
  /** Rows in the tables the models built (intermediate and marts), and those rows over the transform time. */
  model_rows: number;
  /** Null when dbt did not run (the decisions of the previous run were kept). */
  model_rows_per_second: number | null;
  /** Decision history rows (transitions) the run added. */
  history_rows_added: number;
  decision_changes: number;
  /** Advisories per state after the run (mart_advisory_current): what a floor's counts are checked against. */
  states: Record<string, number>;
  /** Why the run failed, when it did (the last lines it printed). */
  failure?: string;
}

export interface SiteBuildFigures {
  label: string;
  build_seconds: number;
  peak_rss_mb: number;
  /** Why the build failed, when it did: the figures up to the failure are kept and printed. */
  failure?: string;
}

export async function timePipelineRun(
  label: string,
  configPath: string,
  args: readonly string[],
  database: string,
  historyDir: string,
  options: { allowFailure?: boolean } = {},
): Promise<RunFigures> {
  const historyBefore = await countHistoryRows(historyDir);
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [join(repoRoot, "pipeline/cli.ts"), "--config", configPath, ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
      // Info as JSON: its "stage finished" lines tell the memory sampler which stage is running.
      env: { ...process.env, ECHO_LOG_LEVEL: "info", ECHO_LOG_FORMAT: "json" },
    },
  );
  let finishedStages = 0;
  const sampler = sampleTreeMemory(child.pid ?? 0, () => runStages[finishedStages] ?? "after");
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    // Log lines are written whole, but a chunk may end mid-line: count the finished ones seen so far.
    stderr += chunk;
    finishedStages = stderr.match(/"message":"stage finished"/g)?.length ?? 0;
  });
  const exitCode = await new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
  const memory = sampler.stop();
  const wallSeconds = (performance.now() - started) / 1000;
  const failed = exitCode !== 0 && exitCode !== 3;
  if (failed && !options.allowFailure)
    throw new Error(`${label}: the run failed (exit ${exitCode}):\n${stderr.slice(-3000)}`);

  const stages: Record<string, number> = {};
  for (const match of stdout.matchAll(/^ {2}(\w+) +([\d.]+) s$/gm)) {
    const [, stage, seconds] = match;
    if (stage && seconds && stage !== "total") stages[stage] = Number(seconds);
  }
  const changes = /Decision changes recorded: (\d+)/.exec(stdout)?.[1];
  // A run whose decision inputs were the previous run's keeps its decisions: no rows go through the models.
  const dbtRan = !/^dbt not run: /m.test(stdout);
  const { modelRows, advisories, states } = failed
    ? { modelRows: 0, advisories: 0, states: {} }
    : await countModelRows(database);
  const transformSeconds = stages.transform ?? wallSeconds;
  return {
    label,
    advisories,
    exit_code: exitCode,
    wall_seconds: round(wallSeconds),
    stages,
    peak_rss_mb: toMegabytes(memory.peak),
    peak_rss_mb_by_stage: Object.fromEntries(
      [...memory.byLabel].map(([stage, bytes]) => [stage, toMegabytes(bytes)]),
    ),
    model_rows: modelRows,
    model_rows_per_second: dbtRan ? Math.round(modelRows / transformSeconds) : null,
    history_rows_added: (await countHistoryRows(historyDir)) - historyBefore,
    decision_changes: Number(changes ?? 0),
    states,
    ...(failed ? { failure: `exit ${exitCode}: ${lastLines(`${stdout}\n${stderr}`, 6)}` } : {}),
  };
}

/** The last lines of a failed run's output, without V8's native stack frames (addresses, no names). */
function lastLines(text: string, count: number): string {
  return text
    .trim()
    .split("\n")
    .filter((line) => !/^\s*\d+: 0x[0-9a-f]+ /.test(line))
    .slice(-count)
    .join("\n");
}

export async function timeSiteBuild(
  label: string,
  outputDir: string,
  siteDir: string,
): Promise<SiteBuildFigures> {
  const sampler = sampleTreeMemory(process.pid);
  const started = performance.now();
  let failure: string | undefined;
  try {
    await buildSite(outputDir, siteDir, "/echo-advisory/");
  } catch (error) {
    failure = lastLines(error instanceof Error ? error.message : String(error), 4);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  return {
    label,
    build_seconds: round(buildSeconds),
    peak_rss_mb: toMegabytes(sampler.stop().peak),
    ...(failure === undefined ? {} : { failure }),
  };
}

/**
 * Transitions in the history files (one per line), the durable history a run appends to. Counted as bytes
 * streamed: a first run at 25× writes a ledger longer than one JavaScript string can hold.
 */
async function countHistoryRows(historyDir: string): Promise<number> {
  const directory = join(historyDir, "transitions");
  const files = await readdir(directory).catch(() => [] as string[]);
  let rows = 0;
  for (const file of files.filter((name) => name.endsWith(".jsonl"))) {
    for await (const chunk of createReadStream(join(directory, file))) {
      for (const byte of chunk as Buffer) if (byte === 0x0a) rows += 1;
    }
  }
  return rows;
}

async function countModelRows(
  database: string,
): Promise<{ modelRows: number; advisories: number; states: Record<string, number> }> {
  return withDatabase(database, async (db) => {
    const tables = await db.all<{ rows: number }>(
      `select estimated_size::bigint::double as rows from duckdb_tables()
       where schema_name in ('intermediate', 'marts')`,
    );
    const states = await db.all<{ state: string; count: number }>(
      "select state, count(*)::integer as count from marts.mart_advisory_current group by state order by state",
    );
    return {
      modelRows: tables.reduce((sum, table) => sum + Number(table.rows), 0),
      advisories: states.reduce((sum, row) => sum + row.count, 0),
      states: Object.fromEntries(states.map((row) => [row.state, row.count])),
    };
  });
}

/** The stages of a run in the order it logs them finished ("stage finished"). */
const runStages = ["config", "init", "ingest", "load", "transform", "quality", "export", "report"];

const toMegabytes = (bytes: number) => Math.round(bytes / 1_048_576);

/**
 * Samples the resident memory of a process and all its descendants every 50 ms; `stop` gives the largest
 * total seen, and the largest under each label `labelNow` gave at the time of a sample. Linux only (/proc), which is where the benchmark runs. Finding the descendants means reading
 * every process's stat, so that is done every second (a new dbt process is found within one), and each
 * sample reads only the known processes' statm: scanning /proc every 50 ms took a third of a core from the
 * two the benchmarked run has.
 */
export function sampleTreeMemory(
  rootPid: number,
  labelNow?: () => string,
): { stop(): { peak: number; byLabel: Map<string, number> } } {
  let peak = 0;
  const byLabel = new Map<string, number>();
  let sampling = false;
  let tree: number[] = [rootPid];
  let scannedAt = 0;
  const timer = setInterval(async () => {
    if (sampling) return;
    sampling = true;
    try {
      if (performance.now() - scannedAt >= 1000) {
        tree = await descendantsOf(rootPid);
        scannedAt = performance.now();
      }
      const label = labelNow?.();
      const resident = await residentBytes(tree);
      peak = Math.max(peak, resident);
      if (label !== undefined) byLabel.set(label, Math.max(byLabel.get(label) ?? 0, resident));
    } finally {
      sampling = false;
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return { peak, byLabel };
    },
  };
}

/** The process and every process below it. */
async function descendantsOf(rootPid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // The command name is in parentheses and may hold spaces: the parent id is the 2nd field after it.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (Number.isInteger(ppid)) parents.set(Number(entry), ppid);
  }
  const inTree = (pid: number): boolean => {
    for (let current: number | undefined = pid, depth = 0; current && depth < 64; depth += 1) {
      if (current === rootPid) return true;
      current = parents.get(current);
    }
    return false;
  };
  return [...parents.keys()].filter(inTree);
}

/** The resident memory of these processes together; one that has ended counts nothing. */
async function residentBytes(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const statm = await readFile(`/proc/${pid}/statm`, "utf8").catch(() => "");
    total += Number(statm.split(" ")[1] ?? 0) * 4096;
  }
  return total;
}

export function pipelineBenchTable(runs: RunFigures[], sites: SiteBuildFigures[]): string {
  const stageNames = ["init", "ingest", "load", "transform", "quality", "export", "report"];
  const header = [
    "case".padEnd(38),
    "advisories".padStart(10),
    ...stageNames.map((stage) => stage.padStart(9)),
    "total".padStart(9),
    "peak RSS".padStart(10),
    "model rows/s".padStart(13),
    "history +".padStart(10),
  ].join(" ");
  const lines = runs.flatMap((run) => [
    [
      run.label.padEnd(38),
      run.advisories.toLocaleString("en").padStart(10),
      ...stageNames.map((stage) => `${(run.stages[stage] ?? 0).toFixed(2)} s`.padStart(9)),
      `${run.wall_seconds.toFixed(1)} s`.padStart(9),
      `${run.peak_rss_mb} MB`.padStart(10),
      (run.model_rows_per_second === null
        ? "dbt not run"
        : run.model_rows_per_second.toLocaleString("en")
      ).padStart(13),
      String(run.history_rows_added).padStart(10),
    ].join(" "),
    `  peak RSS by stage: ${Object.entries(run.peak_rss_mb_by_stage)
      .map(([stage, megabytes]) => `${stage} ${megabytes.toLocaleString("en")} MB`)
      .join(", ")}`,
    ...(run.failure ? [`  FAILED ${run.failure.replace(/\n/g, "\n  ")}`] : []),
  ]);
  const siteLines = sites.map(
    (site) =>
      `${site.label.padEnd(38)} site build ${site.build_seconds} s, peak RSS ${site.peak_rss_mb} MB${site.failure === undefined ? "" : `\n  FAILED: ${site.failure}`}`,
  );
  return [header, ...lines, ...siteLines].join("\n");
}

const round = (value: number) => Math.round(value * 100) / 100;

export interface RealDataBenchFigures {
  runs: RunFigures[];
  sites: SiteBuildFigures[];
  node: string;
  measured_at: string;
}

/**
 * (a) the real data in ../shared, every stage, on a new database (a new state folder, whose dbt starts from
 * the parse `npm ci` made, as any new state folder's does); (c) the same inputs again a day later, which
 * must add no history; (d) the site built from (a)'s outputs. Each run is the `dbt` command's, never a
 * session server's.
 */
export async function runRealDataBench(): Promise<RealDataBenchFigures> {
  const workspace = await createWorkspace();
  try {
    await writeRealDataConfig(workspace);
    const first = await timePipelineRun(
      "(a) real data, new database",
      workspace.configPath,
      ["--as-of", "2026-11-27T06:00:00Z"],
      workspace.database,
      join(workspace.outputDir, "history"),
    );
    const rerun = await timePipelineRun(
      "(c) real data again, nothing changed",
      workspace.configPath,
      ["--as-of", "2026-11-28T06:00:00Z"],
      workspace.database,
      join(workspace.outputDir, "history"),
    );
    const site = await timeSiteBuild("(d) site for (a)", workspace.outputDir, join(workspace.dir, "site"));
    return {
      runs: [first, rerun],
      sites: [site],
      node: process.version,
      measured_at: new Date().toISOString(),
    };
  } finally {
    await workspace.cleanup();
  }
}

export interface GeneratedBenchFigures extends RealDataBenchFigures {
  scale: number;
  seed: number;
  generate_seconds: number | null;
  input: { advisories: number; nvd_records: number; osv_records: number };
}

export interface GeneratedDataset {
  dataDir: string;
  manifest: Manifest;
  /** Null when the data was generated by an earlier benchmark. */
  generateSeconds: number | null;
}

/**
 * The generated data at this scale and seed in .state/bench/, generated now if no earlier benchmark left
 * it there (its manifest is written last, so a present manifest means complete data).
 */
export async function generatedDataset(scale: number, seed: number): Promise<GeneratedDataset> {
  const dataDir = join(repoRoot, ".state", "bench", `generated-scale${scale}-seed${seed}`);
  let generateSeconds: number | null = null;
  let manifestText = await readFile(join(dataDir, "manifest.json"), "utf8").catch(() => null);
  if (manifestText === null) {
    const started = performance.now();
    await generateDataset({ scale, seed, outDir: dataDir });
    generateSeconds = round((performance.now() - started) / 1000);
    manifestText = await readFile(join(dataDir, "manifest.json"), "utf8");
  }
  return { dataDir, manifest: JSON.parse(manifestText) as Manifest, generateSeconds };
}

/**
 * (b) generated data at `scale` times the vendor's size (25 by default: about a million advisories with a
 * full-size NVD and OSV), generated once into .state/bench/ and kept for the next benchmark; then one run
 * on a new database and (d) the site from it. A run that fails is reported with where it failed.
 */
export async function runGeneratedBench(scale: number, seed: number): Promise<GeneratedBenchFigures> {
  const { dataDir, manifest, generateSeconds } = await generatedDataset(scale, seed);
  const records = (kind: string) => manifest.files.find((file) => file.path.startsWith(kind))?.records ?? 0;

  // The generated config keeps its database and output beside the data: each benchmark starts anew.
  const work = await mkdtemp(join(dataDir, "..", `run-scale${scale}-`));
  try {
    const config = (await readFile(join(dataDir, "config.yaml"), "utf8"))
      .replace(/^database: .*$/m, `database: ${JSON.stringify(join(work, "echo-advisory.duckdb"))}`)
      .replace(/^output_dir: .*$/m, `output_dir: ${JSON.stringify(join(work, "output"))}`)
      .replace(
        /^(\s+location: )(?!")(\S+)$/gm,
        (_line, prefix: string, path: string) => `${prefix}${JSON.stringify(join(dataDir, path))}`,
      );
    const configPath = join(work, "config.yaml");
    await writeFile(configPath, config);
    const run = await timePipelineRun(
      `(b) generated ×${scale}, new database`,
      configPath,
      ["--as-of", "2026-11-27T06:00:00Z"],
      join(work, "echo-advisory.duckdb"),
      join(work, "output", "history"),
      { allowFailure: true },
    );
    const sites =
      run.failure === undefined
        ? [await timeSiteBuild(`(d) site for (b)`, join(work, "output"), join(work, "site"))]
        : [];
    return {
      scale,
      seed,
      generate_seconds: generateSeconds,
      input: {
        advisories: manifest.counts.advisories,
        nvd_records: records("nvd"),
        osv_records: records("osv/all.zip"),
      },
      runs: [run],
      sites,
      node: process.version,
      measured_at: new Date().toISOString(),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
