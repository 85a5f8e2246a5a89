import { mkdir, open, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { PipelineError } from "./errors.ts";

/**
 * One run at a time per database. The pipeline closes its DuckDB connection while dbt runs, so DuckDB's own
 * file lock cannot keep a second run from slipping in between; this lock file spans the whole run. A lock
 * left by a process that no longer exists (a crash, a killed job) is taken over.
 */
export async function acquireRunLock(databasePath: string): Promise<() => Promise<void>> {
  const lockPath = `${databasePath}.run-lock`;
  await mkdir(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(lockPath, "wx");
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => {
        await rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number.parseInt((await readFile(lockPath, "utf8").catch(() => "")).trim(), 10);
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new PipelineError(`another pipeline run (process ${holder}) is using this database`, {
          location: { file: lockPath },
          hint: "wait for it to finish; if no run is going on, delete the lock file",
        });
      }
      // The holder is gone: the lock is stale.
      await rm(lockPath, { force: true });
    }
  }
  throw new PipelineError("could not take the run lock", { location: { file: lockPath } });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
