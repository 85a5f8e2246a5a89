import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { duckdbVersion } from "../../pipeline/lib/db.ts";
import { createWorkspace, repoRoot } from "../helpers/workspace.ts";

const cli = join(repoRoot, "pipeline/cli.ts");

describe("the pipeline command line", () => {
  it("prints its usage with --help and exits 0", async () => {
    const result = await execa(process.execPath, [cli, "--help"]);
    expect(result.stdout).toContain("Usage: npm run pipeline -- [options]");
    expect(result.stdout).toContain("--config <path>");
  });

  it("rejects an unknown option with exit code 2", async () => {
    const result = await execa(process.execPath, [cli, "--frobnicate"], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("Unknown option '--frobnicate'");
  });

  it("fails before running anything when the config is invalid, naming the key", async () => {
    const workspace = await createWorkspace();
    try {
      await workspace.writeConfig({ dataJson: "a.json", csv: "b.csv", extra: "surprise: true" });
      const result = await workspace.run();
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(/config\.yaml:\d+ key surprise: .*surprise/);
      await expect(import("node:fs/promises").then((fs) => fs.access(workspace.database))).rejects.toThrow();
    } finally {
      await workspace.cleanup();
    }
  });
});

describe("the DuckDB builds", () => {
  it("are the same release in Node and in dbt's Python, since both open the same database file", async () => {
    const python = join(repoRoot, "dbt_project/.venv/bin/python");
    const pythonVersion = (
      await execa(python, ["-c", "import duckdb; print(duckdb.__version__)"])
    ).stdout.trim();
    const nodeVersion = (await duckdbVersion()).replace(/^v/, "");
    expect(nodeVersion).toBe(pythonVersion);
  });
});
