import { createConnection } from "node:net";
import { createInterface } from "node:readline";
import { z } from "zod";
import type { DbtInvocation, DbtInvoker } from "./dbt-session.ts";
import { PipelineError } from "./errors.ts";

/**
 * The environment variable naming a dbt session server's Unix socket (tools/dbt-sessions/server.ts). When it
 * is set, the command line hands its dbt build to one of the server's already started dbt sessions instead of
 * starting `dbt`: Python's start-up and dbt's import and parse, about 3.5 s, are paid once per session rather
 * than once per run. The test suite runs one server for all its pipeline runs.
 */
export const dbtSessionSocketVariable = "ECHO_DBT_SESSION_SOCKET";

/** One request: what DbtSession.invoke takes, for the server's session of this project. */
export interface DbtSessionRequest {
  args: readonly string[];
  variables: Record<string, string>;
  cwd?: string | undefined;
}

export const dbtSessionResponseSchema = z.object({
  exitCode: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
});

/**
 * A client of a dbt session server. The server runs the installed project (dbt_project/ and the dbt `npm ci`
 * installs); a run configured with another dbt or project starts `dbt` as usual.
 */
export class DbtSessionClient implements DbtInvoker {
  readonly #socketPath: string;
  readonly #executable: string;
  readonly #projectDir: string;

  constructor(socketPath: string, servedExecutable: string, servedProjectDir: string) {
    this.#socketPath = socketPath;
    this.#executable = servedExecutable;
    this.#projectDir = servedProjectDir;
  }

  serves(dbtExecutable: string, projectDir: string): boolean {
    return dbtExecutable === this.#executable && projectDir === this.#projectDir;
  }

  async invoke(
    args: readonly string[],
    variables: Record<string, string>,
    onOutput?: (chunk: string) => void,
    cwd?: string,
  ): Promise<DbtInvocation> {
    const request: DbtSessionRequest = { args, variables, cwd };
    const unreachable = (reason: string) =>
      new PipelineError(`the dbt session server does not answer: ${reason}`, {
        location: { file: this.#socketPath },
        hint: `unset ${dbtSessionSocketVariable} to run dbt as a command`,
      });
    const socket = createConnection(this.#socketPath);
    socket.setEncoding("utf8");
    const answered = new Promise<DbtInvocation>((resolve, reject) => {
      socket.once("error", (error) => reject(unreachable(error.message)));
      const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY });
      let settled = false;
      lines.once("line", (line) => {
        settled = true;
        try {
          resolve(dbtSessionResponseSchema.parse(JSON.parse(line)));
        } catch (error) {
          reject(unreachable(`an answer that is not a dbt result (${(error as Error).message})`));
        }
        socket.end();
      });
      lines.once("close", () => {
        if (!settled) reject(unreachable("the connection closed before an answer"));
      });
    });
    socket.write(`${JSON.stringify(request)}\n`);
    const result = await answered;
    onOutput?.(result.stdout);
    return result;
  }
}
