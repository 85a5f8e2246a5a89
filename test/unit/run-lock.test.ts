import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireRunLock } from "../../pipeline/lib/run-lock.ts";

describe("the run lock", () => {
  let directory: string;
  let database: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), "echo-lock-"));
    database = join(directory, "state", "echo-advisory.duckdb");
  });
  afterEach(() => rm(directory, { recursive: true, force: true }));

  it("lets one run in at a time, naming the process that holds it, and frees it when released", async () => {
    const release = await acquireRunLock(database);
    expect((await readFile(`${database}.run-lock`, "utf8")).trim()).toBe(String(process.pid));
    await expect(acquireRunLock(database)).rejects.toThrow(
      `another pipeline run (process ${process.pid}) is using this database`,
    );
    await release();
    const again = await acquireRunLock(database);
    await again();
  });

  it("takes over a lock left by a process that no longer exists", async () => {
    const release = await acquireRunLock(database);
    await release();
    // Far above any pid the kernel hands out (pid_max is at most 2^22).
    await writeFile(`${database}.run-lock`, "99999999\n");
    const taken = await acquireRunLock(database);
    expect((await readFile(`${database}.run-lock`, "utf8")).trim()).toBe(String(process.pid));
    await taken();
  });
});
