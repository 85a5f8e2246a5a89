import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { execa, type ResultPromise } from "execa";
import { z } from "zod";
import { dbtEnvironment } from "./dbt-env.ts";
import { PipelineError } from "./errors.ts";

/** What one dbt invocation gave back, the same whether a `dbt` process or a session ran it. */
export interface DbtInvocation {
  exitCode: number;
  /** dbt's log lines (JSON with --log-format json), in order. */
  stdout: string;
  /** Anything else dbt or Python printed, for the error message when nothing better is known. */
  stderr: string;
}

export type DbtOutputListener = (chunk: string) => void;

/** Runs dbt invocations without a new `dbt` process each: a DbtSession here, or a session server's client. */
export interface DbtInvoker {
  /** Whether it runs this project with this dbt; a run whose config names another uses the `dbt` command. */
  serves(dbtExecutable: string, projectDir: string): boolean;
  invoke(
    args: readonly string[],
    variables: Record<string, string>,
    onOutput?: DbtOutputListener,
    cwd?: string,
  ): Promise<DbtInvocation>;
}

const responseSchema = z.object({
  echo_dbt_session: z.object({ exit_code: z.number().int(), error: z.string().nullable() }),
});

/**
 * One Python process (dbt_project/dbt_session.py) that runs dbt invocations one after another, for callers
 * that run the pipeline several times in one process (the demo). Each `dbt` command spends about 7 s
 * importing dbt and parsing the project before its first node; the session pays that once and keeps the
 * parsed project while its files do not change. The database file is free between invocations.
 */
export class DbtSession implements DbtInvoker {
  readonly #executable: string;
  readonly #projectDir: string;
  readonly #python: string;
  readonly #script: string;
  #process: ResultPromise<{ stdin: "pipe"; stdout: "pipe"; stderr: "pipe"; reject: false }> | undefined;
  #lines: AsyncIterator<string> | undefined;
  #stderr = "";
  #busy = false;

  /** `dbtExecutable` is the `dbt` of the project's virtual environment; its `python` runs the session. */
  constructor(dbtExecutable: string, projectDir: string) {
    this.#executable = dbtExecutable;
    this.#projectDir = projectDir;
    this.#python = join(dirname(dbtExecutable), "python");
    this.#script = join(projectDir, "dbt_session.py");
  }

  serves(dbtExecutable: string, projectDir: string): boolean {
    return dbtExecutable === this.#executable && projectDir === this.#projectDir;
  }

  /**
   * `variables` are the pipeline's own for dbt (profile variables, dbt settings; see dbtEnvironment): the
   * session's process starts with them and nothing else of this process's environment but PATH, HOME, the
   * locale and TMPDIR; each invocation sets its own on top.
   */
  async invoke(
    args: readonly string[],
    variables: Record<string, string>,
    onOutput?: DbtOutputListener,
    /** The folder the invocation runs in (relative paths in the profile resolve against it). */
    cwd?: string,
  ) {
    if (this.#busy) throw new Error("a dbt session runs one invocation at a time");
    this.#busy = true;
    try {
      return await this.#invoke(args, variables, onOutput, cwd);
    } finally {
      this.#busy = false;
    }
  }

  async #invoke(
    args: readonly string[],
    variables: Record<string, string>,
    onOutput?: DbtOutputListener,
    cwd?: string,
  ): Promise<DbtInvocation> {
    const env = dbtEnvironment(variables);
    const lines = this.#start(env);
    const stderrBefore = this.#stderr.length;
    this.#process?.stdin.write(`${JSON.stringify({ args, env: variables, ...(cwd ? { cwd } : {}) })}\n`);
    const stdout: string[] = [];
    for (;;) {
      const next = await lines.next();
      if (next.done) {
        const subprocess = this.#process;
        this.#stop();
        const ended = await subprocess;
        const stderr = this.#stderr.slice(stderrBefore);
        throw new PipelineError(
          `the dbt session ended unexpectedly (${ended?.shortMessage ?? "no exit status"}):\n  ${lastLines(stderr)}`,
          {
            location: { file: this.#script },
            hint: "run `npm ci` to install dbt into dbt_project/.venv",
          },
        );
      }
      const line = next.value;
      if (line.startsWith('{"echo_dbt_session"')) {
        const response = responseSchema.parse(JSON.parse(line)).echo_dbt_session;
        const stderr = this.#stderr.slice(stderrBefore);
        return {
          exitCode: response.exit_code,
          stdout: stdout.join("\n"),
          stderr: response.error ? `${stderr}${response.error}` : stderr,
        };
      }
      stdout.push(line);
      onOutput?.(`${line}\n`);
    }
  }

  #start(env: Record<string, string>): AsyncIterator<string> {
    if (this.#process && this.#lines) return this.#lines;
    const subprocess = execa(this.#python, ["-u", this.#script], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      reject: false,
      env,
      extendEnv: false,
    });
    subprocess.stderr.setEncoding("utf8");
    subprocess.stderr.on("data", (chunk: string) => {
      this.#stderr += chunk;
    });
    this.#process = subprocess;
    this.#lines = createInterface({ input: subprocess.stdout, crlfDelay: Number.POSITIVE_INFINITY })[
      Symbol.asyncIterator
    ]();
    return this.#lines;
  }

  #stop() {
    this.#process?.stdin.end();
    this.#process = undefined;
    this.#lines = undefined;
  }

  /** Ends the Python process: it exits when its input closes. */
  async close(): Promise<void> {
    const subprocess = this.#process;
    this.#stop();
    if (subprocess) await subprocess;
  }
}

function lastLines(text: string): string {
  const lines = text.trim().split("\n");
  return (lines.length ? lines.slice(-15) : ["(no output)"]).join("\n  ");
}
