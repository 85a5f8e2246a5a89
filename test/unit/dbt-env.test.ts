import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dbtEnvironment, dbtProfileVariables } from "../../pipeline/lib/dbt-env.ts";
import { repoRoot } from "../helpers/workspace.ts";

describe("dbt's environment", () => {
  const parent = {
    PATH: "/usr/bin:/bin",
    HOME: "/home/runner",
    LANG: "C.UTF-8",
    TZ: "UTC",
    TMPDIR: "/tmp/run",
    NVD_API_KEY: "nvd-secret",
    GITHUB_TOKEN: "ghs_secret",
    AWS_SECRET_ACCESS_KEY: "aws-secret",
    DBT_PROFILES_DIR: "/somewhere/else",
    ECHO_DUCKDB_PATH: "/parent/choice.duckdb",
    PYTHONPATH: "/injected",
  };

  it("is the pipeline's own variables over PATH, HOME, the locale, TZ, TMPDIR and no bytecode: nothing else", () => {
    const env = dbtEnvironment(
      { ECHO_DUCKDB_PATH: "/run/echo.duckdb", DBT_PARTIAL_PARSE: "true", DO_NOT_TRACK: "1" },
      parent,
    );
    expect(env).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/runner",
      LANG: "C.UTF-8",
      TZ: "UTC",
      TMPDIR: "/tmp/run",
      PYTHONDONTWRITEBYTECODE: "1",
      ECHO_DUCKDB_PATH: "/run/echo.duckdb",
      DBT_PARTIAL_PARSE: "true",
      DO_NOT_TRACK: "1",
    });
  });

  it("takes nothing from the parent but the inherited few, and refuses to pass anything else on", () => {
    expect(Object.keys(dbtEnvironment({}, parent)).sort()).toEqual([
      "HOME",
      "LANG",
      "PATH",
      "PYTHONDONTWRITEBYTECODE",
      "TMPDIR",
      "TZ",
    ]);
    expect(() => dbtEnvironment({ NVD_API_KEY: "x" }, parent)).toThrow(/NVD_API_KEY is not a variable dbt/);
    expect(() => dbtEnvironment({ ECHO_OTHER: "x" }, parent)).toThrow(/ECHO_OTHER/);
  });

  it("names every variable the dbt project reads with env_var()", async () => {
    const project = join(repoRoot, "dbt_project");
    const read = new Set<string>();
    for (const entry of await readdir(project, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      if (!entry.isFile() || /(^|\/)(\.venv|target|logs|dbt_packages)\//.test(path.slice(project.length))) {
        continue;
      }
      if (!/\.(yml|yaml|sql)$/.test(entry.name)) continue;
      for (const match of (await readFile(path, "utf8")).matchAll(/env_var\(\s*['"]([^'"]+)['"]/g)) {
        read.add(match[1] as string);
      }
    }
    expect([...read].sort()).toEqual([...dbtProfileVariables].sort());
  });
});
