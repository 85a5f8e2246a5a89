import { rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { DbtSession } from "../../pipeline/lib/dbt-session.ts";
import { type DbtSessionRequest, dbtSessionSocketVariable } from "../../pipeline/lib/dbt-session-client.ts";

export interface DbtSessionServer {
  socketPath: string;
  /** Invocations served so far, and how many of them waited for a free session. */
  stats(): { served: number; queued: number };
  close(): Promise<void>;
}

/**
 * Serves dbt invocations on a Unix socket from `size` long-lived dbt sessions (pipeline/lib/dbt-session.ts),
 * for many pipeline processes on one machine: the test suite starts one, and each `pipeline/cli.ts` it runs
 * finds it through ECHO_DBT_SESSION_SOCKET. A request waits for a free session; a session runs one
 * invocation at a time. One line of JSON each way: the request (DbtSessionRequest), then the result.
 */
export async function startDbtSessionServer(options: {
  socketPath: string;
  size: number;
  dbtExecutable: string;
  projectDir: string;
}): Promise<DbtSessionServer> {
  const idle: DbtSession[] = [];
  const all: DbtSession[] = [];
  const waiting: ((session: DbtSession) => void)[] = [];
  let served = 0;
  let queued = 0;

  const acquire = async (): Promise<DbtSession> => {
    const free = idle.pop();
    if (free) return free;
    if (all.length < options.size) {
      const session = new DbtSession(options.dbtExecutable, options.projectDir);
      all.push(session);
      return session;
    }
    queued += 1;
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (session: DbtSession) => {
    const next = waiting.shift();
    if (next) next(session);
    else idle.push(session);
  };

  const answer = async (socket: Socket, line: string) => {
    const session = await acquire();
    try {
      const request = JSON.parse(line) as DbtSessionRequest;
      const result = await session.invoke(request.args, request.variables, undefined, request.cwd);
      socket.end(`${JSON.stringify(result)}\n`);
    } catch (error) {
      // The client reports a connection closed without an answer; the session starts again next time.
      socket.destroy(error instanceof Error ? error : new Error(String(error)));
    } finally {
      served += 1;
      release(session);
    }
  };

  await rm(options.socketPath, { force: true });
  const server: Server = createServer((socket) => {
    const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY });
    lines.once("line", (line) => {
      lines.close();
      void answer(socket, line);
    });
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.socketPath, resolve);
  });
  return {
    socketPath: options.socketPath,
    stats: () => ({ served, queued }),
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(all.map((session) => session.close()));
      await rm(options.socketPath, { force: true });
    },
  };
}

export { dbtSessionSocketVariable };
