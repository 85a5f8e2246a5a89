import { access, copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { execa } from "execa";
import { z } from "zod";
import {
  type DecisionInputs,
  findReusableDecisions,
  type PublishedState,
  type ReuseVerdict,
  readDecisionInputs,
} from "../history/decision-inputs.ts";
import { type Database, withDatabase } from "../lib/db.ts";
import { dbtEnvironment } from "../lib/dbt-env.ts";
import type { DbtInvocation, DbtInvoker, DbtOutputListener } from "../lib/dbt-session.ts";
import { PipelineError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import type { Config } from "./config.ts";
import { restoreHistory } from "./init.ts";

const runResultsSchema = z.object({
  elapsed_time: z.number(),
  results: z.array(
    z.looseObject({
      unique_id: z.string(),
      status: z.string(),
      execution_time: z.number(),
      message: z.string().nullable().optional(),
      failures: z.number().nullable().optional(),
      compiled_code: z.string().nullable().optional(),
    }),
  ),
});

export interface DbtNodeResult {
  uniqueId: string;
  status: string;
  executionTimeSeconds: number;
  message: string | null;
  failures: number | null;
  /** The SQL dbt ran for the node (a test's query), when dbt compiled it. */
  compiledCode?: string | null;
}

export interface TransformResult {
  elapsedSeconds: number;
  nodes: DbtNodeResult[];
  warnings: string[];
  /** dbt did not run: the decision inputs were this earlier run's, and its decisions stand. */
  reusedDecisionsOf: string | null;
}

export interface TransformStageOptions {
  /** Run dbt even when the decision inputs are the previous run's. */
  rebuild: boolean;
  /** Run dbt in this already started session instead of a new `dbt` process. */
  dbtSession?: DbtInvoker | undefined;
  /** The init stage left the history tables unrestored (InitialisedRun.historyDeferred): restore before dbt. */
  historyDeferred?: boolean;
}

/**
 * Decides every advisory: dbt builds the models over what the run landed, unless the decision inputs (the
 * landed data, the dbt project, the history) are exactly the previous run's, whose decisions then stand.
 * Closes the run's connection first: dbt opens the same database file, and DuckDB allows one writing
 * process at a time.
 */
export async function transformStage(
  db: Database,
  config: Config,
  runId: string,
  startedWith: PublishedState,
  options: TransformStageOptions,
): Promise<{ transform: TransformResult; decisionInputs: DecisionInputs }> {
  let decisionInputs: DecisionInputs;
  let verdict: ReuseVerdict;
  try {
    decisionInputs = await readDecisionInputs(db, runId, config.dbt.project_dir);
    verdict = options.rebuild
      ? { reusable: false, reason: "--rebuild" }
      : await findReusableDecisions(db, runId, decisionInputs, startedWith);
    if (!verdict.reusable && options.historyDeferred) await restoreHistory(db, config);
  } finally {
    db.close();
  }
  if (verdict.reusable) {
    log.info("decision inputs unchanged: dbt not run, the previous run's decisions stand", {
      previous_run: verdict.runId,
    });
    return { transform: keptDecisions(verdict.runId), decisionInputs };
  }
  log.info("dbt runs", { because: verdict.reason });
  return { transform: await runDbtBuild(config, options.dbtSession), decisionInputs };
}

/** The transform of a run that keeps the previous run's decisions (pipeline/history/decision-inputs.ts). */
export function keptDecisions(runId: string): TransformResult {
  return { elapsedSeconds: 0, nodes: [], warnings: [], reusedDecisionsOf: runId };
}

const dbtLogLine = z.looseObject({
  info: z.looseObject({ level: z.string(), msg: z.string(), name: z.string().optional() }),
});

/**
 * A state folder without dbt's partial parse starts from the one `npm ci` made in the project's virtual
 * environment (dbt_project/install-runtime.mjs): parsing the whole project costs dbt about 5 s more than checking a
 * parse. dbt itself checks the copy against the project's files, its version and the connection settings,
 * and parses again whatever differs.
 */
async function seedPartialParse(projectDir: string, targetPath: string): Promise<void> {
  const own = join(targetPath, partialParseFile);
  if (await exists(own)) return;
  const installed = join(projectDir, ".venv", "installed-parse", partialParseFile);
  if (!(await exists(installed))) return;
  await mkdir(targetPath, { recursive: true });
  await copyFile(installed, own);
}

const partialParseFile = "partial_parse.msgpack";

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `dbt build` on the database the load stage just wrote, selecting what every run builds (the
 * `pipeline_run` selector of dbt_project/selectors.yml). dbt's JSON log lines are read back for errors and
 * warnings, and run_results.json for per-node timings. A dbt failure stops the run with dbt's own
 * messages. With a session, dbt runs in its already started Python process instead of a new `dbt`.
 */
export async function runDbtBuild(config: Config, invoker?: DbtInvoker): Promise<TransformResult> {
  const session = invoker?.serves(config.dbt.executable, config.dbt.project_dir) ? invoker : undefined;
  const databaseDir = dirname(config.database);
  const stateDir = join(databaseDir, "dbt");
  const targetPath = join(stateDir, "target");
  await seedPartialParse(config.dbt.project_dir, targetPath);
  const args = [
    "build",
    "--selector",
    "pipeline_run",
    "--project-dir",
    config.dbt.project_dir,
    "--profiles-dir",
    config.dbt.project_dir,
    "--target-path",
    targetPath,
    "--log-path",
    join(stateDir, "logs"),
    "--log-format",
    "json",
    // The file log at debug level (every query) cost about 1.5 s a run; failures and warnings still go
    // there, and as JSON to standard output, which is read below.
    "--log-level-file",
    "warn",
    "--threads",
    String(config.dbt.threads),
  ];
  // Nothing here changes from run to run (the run being decided is the ledger's latest), so dbt's partial
  // parsing and a session's parsed project stay valid.
  // dbt's only variables beside PATH, HOME, the locale and TMPDIR (lib/dbt-env.ts): never a secret.
  // The database is named relative to dbt's working folder, its own folder: dbt's partial parse is valid
  // only for the exact connection settings it was made with, so a relative name lets one parse serve any
  // state folder, including the one `npm ci` leaves in the project (seedPartialParse).
  const variables = {
    ECHO_DUCKDB_PATH: basename(config.database),
    ECHO_DBT_THREADS: String(config.dbt.threads),
    ECHO_DUCKDB_MEMORY_LIMIT: config.duckdb.memory_limit,
    DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
    DO_NOT_TRACK: "1",
    DBT_PARTIAL_PARSE: "true",
  };
  // A stale run_results.json from an earlier run must never be read as this run's.
  await rm(join(targetPath, "run_results.json"), { force: true });
  log.info("dbt build started", { project_dir: config.dbt.project_dir, session: session !== undefined });
  const progress = terminalProgress("transform");
  const onOutput = (chunk: string) => progress?.count(countFinishedNodes(chunk));
  const result = session
    ? await session.invoke(args, variables, onOutput, databaseDir)
    : await runDbtCommand(config.dbt.executable, args, variables, onOutput, databaseDir);
  progress?.end();

  const errors: string[] = [];
  const warnings: string[] = [];
  for (const line of result.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    let parsed: z.infer<typeof dbtLogLine>;
    try {
      parsed = dbtLogLine.parse(JSON.parse(line));
    } catch {
      continue;
    }
    if (parsed.info.level === "error") errors.push(parsed.info.msg);
    else if (parsed.info.level === "warn") warnings.push(parsed.info.msg);
    else if (parsed.info.name === "UnableToPartialParse")
      log.info("dbt parsed the whole project", { because: parsed.info.msg });
  }
  for (const warning of warnings) log.warn("dbt", { message: warning });

  const runResults = await readRunResults(join(targetPath, "run_results.json"));
  if (result.exitCode !== 0) {
    const failedNodes = (runResults?.nodes ?? []).filter((node) => ["error", "fail"].includes(node.status));
    const details = failedNodes.length
      ? await Promise.all(
          failedNodes.map(async (node) => {
            const conditions = await failingConditions(config, node);
            return `${node.uniqueId}: ${node.message ?? node.status}${conditions}`;
          }),
        )
      : errors.length
        ? errors
        : [
            String(result.stderr || result.stdout)
              .trim()
              .split("\n")
              .slice(-15)
              .join("\n"),
          ];
    throw new PipelineError(`dbt build failed (exit ${result.exitCode}):\n  ${details.join("\n  ")}`);
  }
  if (!runResults)
    throw new PipelineError("dbt build succeeded but wrote no run_results.json", {
      location: { file: targetPath },
    });
  return { ...runResults, warnings, reusedDecisionsOf: null };
}

async function readRunResults(
  path: string,
): Promise<Omit<TransformResult, "warnings" | "reusedDecisionsOf"> | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  const parsed = runResultsSchema.parse(JSON.parse(text));
  return {
    elapsedSeconds: parsed.elapsed_time,
    nodes: parsed.results.map((node) => ({
      uniqueId: node.unique_id,
      status: node.status,
      executionTimeSeconds: node.execution_time,
      message: node.message ?? null,
      failures: node.failures ?? null,
      compiledCode: node.compiled_code ?? null,
    })),
  };
}

/**
 * A failed column_checks test (dbt_project/tests/generic/column_checks.sql) holds many conditions, and dbt's
 * message only counts the failing ones: its query, run again on the database dbt left, names them
 * ("not_null:state: 3 rows"). Empty for any other node, or when the query cannot be run.
 */
async function failingConditions(config: Config, node: DbtNodeResult): Promise<string> {
  if (!node.uniqueId.includes(".column_checks_") || !node.compiledCode) return "";
  try {
    const rows = await withDatabase(
      config.database,
      (db) =>
        db.all<{ check_name: string; failing_rows: number }>(
          `select check_name, failing_rows from (${node.compiledCode}) order by check_name`,
        ),
      { memoryLimit: config.duckdb.memory_limit },
    );
    return rows.map((row) => `\n    ${row.check_name}: ${row.failing_rows} rows`).join("");
  } catch {
    return "";
  }
}

/** Runs the `dbt` command line once, as a new process, in its minimal environment (dbtEnvironment). */
async function runDbtCommand(
  executable: string,
  args: readonly string[],
  variables: Record<string, string>,
  onOutput: DbtOutputListener,
  cwd: string,
): Promise<DbtInvocation> {
  const env = dbtEnvironment(variables);
  let result: Awaited<ReturnType<typeof execa>>;
  try {
    const subprocess = execa(executable, args, { reject: false, env, extendEnv: false, cwd });
    subprocess.stdout?.on("data", (chunk: Buffer) => onOutput(String(chunk)));
    result = await subprocess;
  } catch (error) {
    throw new PipelineError(`cannot start dbt: ${error instanceof Error ? error.message : error}`, {
      location: { file: executable },
      hint: "run `npm ci` to install dbt into dbt_project/.venv",
    });
  }
  if (result.failed && (result as { code?: string }).code === "ENOENT") {
    throw new PipelineError("dbt is not installed", {
      location: { file: executable },
      hint: "run `npm ci` to install dbt into dbt_project/.venv",
    });
  }
  return {
    exitCode: result.exitCode ?? 2,
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
  };
}

/** dbt's JSON log names one event per node it finishes (LogModelResult, LogTestResult, LogSeedResult, …). */
export function countFinishedNodes(text: string): number {
  return (text.match(/"name":\s*"Log\w*Result"/g) ?? []).length;
}

/**
 * A one-line counter on an interactive terminal, so a long dbt build shows it is moving. Nothing in CI or
 * when stderr is not a terminal: logs there stay one structured line per event.
 */
function terminalProgress(stage: string): { count(finished: number): void; end(): void } | undefined {
  if (!process.stderr.isTTY || process.env.CI === "true") return undefined;
  let done = 0;
  return {
    count(finished) {
      if (finished === 0) return;
      done += finished;
      process.stderr.write(`\r${stage}: ${done} dbt nodes done`);
    },
    end() {
      if (done > 0) process.stderr.write("\n");
    },
  };
}
