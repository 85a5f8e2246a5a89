// Vitest global setup: one dbt session server (tools/dbt-sessions/server.ts) for every pipeline the tests
// run as a command. Each `pipeline/cli.ts` finds it through ECHO_DBT_SESSION_SOCKET, which the test
// processes inherit, and hands its dbt build to an already started session, instead of paying Python's
// start-up and dbt's import and parse (about 3.5 s) on each of the suite's runs. Runs configured with
// another dbt or project, and the crash tests' processes (which are killed, and must take their dbt with
// them), start `dbt` themselves; test/integration/dbt-session.test.ts checks that both ways publish the same.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dbtSessionSocketVariable } from "../../pipeline/lib/dbt-session-client.ts";
import { installedDbt, installedDbtProject } from "../../pipeline/stages/config.ts";
import { startDbtSessionServer } from "../../tools/dbt-sessions/server.ts";

export default async function setup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "echo-dbt-sessions-"));
  const server = await startDbtSessionServer({
    socketPath: join(dir, "dbt.sock"),
    // Two test files run at a time; a third session serves a file that runs two pipelines at once.
    size: 3,
    dbtExecutable: installedDbt,
    projectDir: installedDbtProject,
  });
  process.env[dbtSessionSocketVariable] = server.socketPath;
  return async () => {
    delete process.env[dbtSessionSocketVariable];
    await server.close();
    await rm(dir, { recursive: true, force: true });
  };
}
