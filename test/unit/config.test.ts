import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { installedDbt, installedDbtProject, loadConfig, parseConfig } from "../../pipeline/stages/config.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const CONFIG_PATH = "/srv/echo/conf/config.yaml";

/** The smallest valid config; tests add or break lines from here. */
const MINIMAL = [
  "sources:",
  "  echo_data:",
  "    location: data.json",
  "  echo_csv:",
  "    location: na.csv",
];

function config(...lines: string[]): string {
  return `${lines.join("\n")}\n`;
}

function configErrorFrom(text: string): PipelineError {
  try {
    parseConfig(text, CONFIG_PATH);
  } catch (error) {
    if (error instanceof PipelineError) return error;
    throw error;
  }
  throw new Error("expected a PipelineError, the config was accepted");
}

async function rejectionOf(promise: Promise<unknown>): Promise<PipelineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PipelineError) return error;
    throw error;
  }
  throw new Error("expected a PipelineError, the promise resolved");
}

describe("a valid config", () => {
  it("loads the repository's config.yaml with paths resolved against its directory", async () => {
    const loaded = await loadConfig(join(repoRoot, "config.yaml"));
    expect(loaded).toMatchObject({
      configPath: join(repoRoot, "config.yaml"),
      database: join(repoRoot, ".state/echo-advisory.duckdb"),
      output_dir: join(repoRoot, "output/sample"),
      history_dir: join(repoRoot, "output/sample/history"),
      duckdb: { memory_limit: "1.5GB" },
      dbt: {
        project_dir: join(repoRoot, "dbt_project"),
        executable: join(repoRoot, "dbt_project/.venv/bin/dbt"),
        threads: 2,
      },
      sources: {
        echo_data: { enabled: true, location: join(repoRoot, "test/fixtures/sample/data.json") },
        echo_csv: {
          enabled: true,
          location: join(repoRoot, "test/fixtures/sample/advisory_not_applicable.csv"),
        },
        debian_tracker: { enabled: true, mode: "mock" },
        osv: { enabled: true, mode: "mock" },
        nvd: { enabled: true, mode: "mock" },
        kev: { enabled: true, mode: "mock" },
      },
      http: { cache_dir: join(repoRoot, ".state/http-cache") },
      quality: {
        max_state_change_share: 0.05,
        stalled_after_days: 30,
        source_drop_percent: 20,
        severities: {},
      },
      report: { list_limit: 50 },
    });
  });

  it("takes a check's severity from quality.severities and refuses an unknown check id by key", () => {
    const parsed = parseConfig(
      config(...MINIMAL, "quality:", "  severities:", "    regressions: error"),
      CONFIG_PATH,
    );
    expect(parsed.quality.severities).toEqual({ regressions: "error" });
    let problem: unknown;
    try {
      parseConfig(config(...MINIMAL, "quality:", "  severities:", "    no_such_check: warn"), CONFIG_PATH);
    } catch (error) {
      problem = error;
    }
    expect(problem).toBeInstanceOf(PipelineError);
    expect((problem as PipelineError).describe()).toMatch(/quality\.severities\.no_such_check/);
  });

  it("fills defaults and resolves relative paths against the config file, not the working directory; dbt is the installed one", () => {
    expect(parseConfig(config(...MINIMAL), CONFIG_PATH)).toEqual({
      configPath: CONFIG_PATH,
      database: "/srv/echo/conf/.state/echo-advisory.duckdb",
      output_dir: "/srv/echo/conf/output",
      history_dir: "/srv/echo/conf/output/history",
      duckdb: { memory_limit: "1.5GB" },
      site: {},
      dbt: { project_dir: installedDbtProject, executable: installedDbt, threads: 2 },
      sources: {
        echo_data: { enabled: true, location: "/srv/echo/conf/data.json" },
        echo_csv: { enabled: true, location: "/srv/echo/conf/na.csv" },
      },
      http: {
        cache_dir: "/srv/echo/conf/.state/http-cache",
        timeout_ms: 60_000,
        max_attempts: 6,
        max_response_mb: 1024,
      },
      quality: {
        max_state_change_share: 0.05,
        stalled_after_days: 30,
        source_drop_percent: 20,
        severities: {},
      },
      report: { list_limit: 50 },
      openvex: { purl_namespace: "echo", purl_qualifiers: { distro: "echo-1" } },
    });
  });

  it("keeps URLs as they are and absolute paths untouched, and resolves ../", () => {
    const parsed = parseConfig(
      config(
        "database: ../state/db.duckdb",
        "output_dir: /var/lib/echo/output",
        "sources:",
        "  echo_data:",
        "    location: https://advisory.echohq.com/data.json",
        "  echo_csv:",
        "    enabled: false",
        "    location: HTTP://feeds.example.test/na.csv?x=../y",
      ),
      CONFIG_PATH,
    );
    expect(parsed.database).toBe("/srv/echo/state/db.duckdb");
    expect(parsed.output_dir).toBe("/var/lib/echo/output");
    // The history lives under the output directory unless configured elsewhere.
    expect(parsed.history_dir).toBe("/var/lib/echo/output/history");
    expect(parsed.sources.echo_data).toEqual({
      enabled: true,
      location: "https://advisory.echohq.com/data.json",
    });
    expect(parsed.sources.echo_csv).toEqual({
      enabled: false,
      location: "HTTP://feeds.example.test/na.csv?x=../y",
    });
  });

  it("keeps a bare dbt executable name for a PATH lookup", () => {
    const parsed = parseConfig(config(...MINIMAL, "dbt:", "  executable: dbt", "  threads: 4"), CONFIG_PATH);
    expect(parsed.dbt).toEqual({ project_dir: installedDbtProject, executable: "dbt", threads: 4 });
    const named = parseConfig(
      config(...MINIMAL, "dbt:", "  project_dir: ../dbt", "  executable: bin/dbt"),
      CONFIG_PATH,
    );
    expect(named.dbt).toEqual({
      project_dir: "/srv/echo/dbt",
      executable: "/srv/echo/conf/bin/dbt",
      threads: 2,
    });
  });

  it("trims blanks around a location", () => {
    const parsed = parseConfig(
      config(
        "sources:",
        "  echo_data:",
        '    location: " data.json "',
        "  echo_csv:",
        "    location: na.csv",
      ),
      CONFIG_PATH,
    );
    expect(parsed.sources.echo_data.location).toBe("/srv/echo/conf/data.json");
  });
});

describe("a config with a YAML syntax error", () => {
  it("names the line and column", () => {
    const error = configErrorFrom(
      config("sources:", "  echo_data:", "    location: data.json: x", "  echo_csv:", "    location: na.csv"),
    );
    expect(error.message).toBe("invalid YAML: Nested mappings are not allowed in compact mappings");
    expect(error.location).toEqual({ file: CONFIG_PATH, line: 3, column: 15 });
    expect(error.exitCode).toBe(2);
    expect(error.describe()).toBe(
      `${CONFIG_PATH}:3:15: invalid YAML: Nested mappings are not allowed in compact mappings`,
    );
  });

  it("names the line of a badly indented key", () => {
    const error = configErrorFrom(
      config("sources:", "  echo_data:", "    location: data.json", "   echo_csv:", "    location: na.csv"),
    );
    expect(error.message).toBe("invalid YAML: All mapping items must start at the same column");
    expect(error.location.line).toBe(4);
  });

  it("names the line of a tab used for indentation", () => {
    const error = configErrorFrom(config("sources:", "\techo_data:", "\t\tlocation: data.json"));
    expect(error.message).toBe("invalid YAML: Tabs are not allowed as indentation");
    expect(error.location).toEqual({ file: CONFIG_PATH, line: 2, column: 1 });
  });

  it("rejects a duplicate key, naming the line of the second one", () => {
    const error = configErrorFrom(
      config(
        "sources:",
        "  echo_data:",
        "    location: a.json",
        "    location: b.json",
        "  echo_csv:",
        "    location: na.csv",
      ),
    );
    expect(error.message).toBe("invalid YAML: Map keys must be unique");
    expect(error.location).toEqual({ file: CONFIG_PATH, line: 4, column: 5 });
    expect(error.exitCode).toBe(2);
  });

  it("rejects a duplicate top-level key", () => {
    const error = configErrorFrom(config("database: a.duckdb", ...MINIMAL, "database: b.duckdb"));
    expect(error.message).toBe("invalid YAML: Map keys must be unique");
    expect(error.location.line).toBe(7);
  });

  it("rejects a second YAML document", () => {
    const error = configErrorFrom(config(...MINIMAL, "---", "report:", "  list_limit: 5"));
    expect(error.message).toMatch(/^invalid YAML: Source contains multiple documents/);
    expect(error.location.line).toBe(6);
  });
});

describe("a config that does not match the schema", () => {
  it("takes DuckDB's memory cap in DuckDB's units and refuses a size without one, naming the key", () => {
    const binary = parseConfig(config(...MINIMAL, "duckdb:", "  memory_limit: 1.5 GiB"), CONFIG_PATH);
    expect(binary.duckdb.memory_limit).toBe("1.5 GiB");
    for (const value of ["2048", "2 gigs", "80%", '""']) {
      const error = configErrorFrom(config(...MINIMAL, "duckdb:", `  memory_limit: ${value}`));
      expect(error.location, value).toEqual({ file: CONFIG_PATH, key: "duckdb.memory_limit", line: 7 });
      expect(error.message).toBe('must be a size with its unit, such as "2GB" or "1.5GiB"');
    }
  });

  it("rejects an unknown key, naming its full path and line", () => {
    const error = configErrorFrom(
      config("sources:", "  echo_data:", "    locaton: data.json", "  echo_csv:", "    location: na.csv"),
    );
    // The key it misspells is then missing too; that is the same problem, reported once.
    expect(error.message).toBe('Unrecognized key: "locaton" (did you mean "location"?)');
    expect(error.location).toEqual({ file: CONFIG_PATH, key: "sources.echo_data.locaton", line: 3 });
    expect(error.exitCode).toBe(2);
    expect(error.describe()).toBe(
      '/srv/echo/conf/config.yaml:3 key sources.echo_data.locaton: Unrecognized key: "locaton" (did you mean "location"?) (see config.yaml in the repository for every key)',
    );
  });

  it("rejects an unknown key next to a valid one", () => {
    const error = configErrorFrom(
      config(
        "sources:",
        "  echo_data:",
        "    location: data.json",
        "    enabeld: true",
        "  echo_csv:",
        "    location: na.csv",
      ),
    );
    expect(error.location).toEqual({ file: CONFIG_PATH, key: "sources.echo_data.enabeld", line: 4 });
  });

  it.each([
    ["top level", ["colour: red", ...MINIMAL], "colour", 1, ""],
    ["dbt", [...MINIMAL, "dbt:", "  thread: 2"], "dbt.thread", 7, ' (did you mean "threads"?)'],
    [
      "report",
      [...MINIMAL, "report:", "  listlimit: 5"],
      "report.listlimit",
      7,
      ' (did you mean "list_limit"?)',
    ],
    // The line of the key, not of its value below it.
    ["sources", [...MINIMAL, "  extra_feed:", "    location: x.csv"], "sources.extra_feed", 6, ""],
  ])("rejects an unknown key in %s", (_where, lines, key, line, guess) => {
    const error = configErrorFrom(config(...lines));
    expect(error.location).toEqual({ file: CONFIG_PATH, key, line });
    expect(error.message).toBe(`Unrecognized key: "${key.split(".").at(-1)}"${guess}`);
  });

  it.each([
    [
      "a string for threads",
      [...MINIMAL, "dbt:", '  threads: "two"'],
      "dbt.threads",
      7,
      /expected number, received string/,
    ],
    ["a fraction for threads", [...MINIMAL, "dbt:", "  threads: 2.5"], "dbt.threads", 7, /expected int/],
    ["zero threads", [...MINIMAL, "dbt:", "  threads: 0"], "dbt.threads", 7, /Too small/],
    [
      "a string for enabled",
      ["sources:", "  echo_data:", "    enabled: yes", "    location: a", "  echo_csv:", "    location: b"],
      "sources.echo_data.enabled",
      3,
      /expected boolean, received string/,
    ],
    [
      "a number for location",
      ["sources:", "  echo_data:", "    location: 42", "  echo_csv:", "    location: b"],
      "sources.echo_data.location",
      3,
      /expected string, received number/,
    ],
    [
      "a list for location",
      ["sources:", "  echo_data:", "    location: [a, b]", "  echo_csv:", "    location: b"],
      "sources.echo_data.location",
      3,
      /expected string, received array/,
    ],
    [
      "a string for a source",
      ["sources:", "  echo_data: data.json", "  echo_csv:", "    location: b"],
      "sources.echo_data",
      2,
      /expected object, received string/,
    ],
    ["a string for dbt", [...MINIMAL, "dbt: fast"], "dbt", 6, /expected object, received string/],
    ["a list_limit of 0", [...MINIMAL, "report:", "  list_limit: 0"], "report.list_limit", 7, /Too small/],
    ["a number for database", ["database: 5", ...MINIMAL], "database", 1, /expected string, received number/],
  ])("rejects %s, naming the key", (_what, lines, key, line, message) => {
    const error = configErrorFrom(config(...lines));
    expect(error.location).toEqual({ file: CONFIG_PATH, key, line });
    expect(error.message).toMatch(message);
    expect(error.exitCode).toBe(2);
  });

  it("rejects a blank location", () => {
    const error = configErrorFrom(
      config("sources:", "  echo_data:", '    location: "  "', "  echo_csv:", "    location: na.csv"),
    );
    expect(error.message).toBe("must not be empty");
    expect(error.location).toEqual({ file: CONFIG_PATH, key: "sources.echo_data.location", line: 3 });
  });

  it("rejects a config without sources.echo_csv", () => {
    const error = configErrorFrom(config("sources:", "  echo_data:", "    location: data.json"));
    expect(error.message).toBe("missing (expected object)");
    // The line of the section it is missing from.
    expect(error.location).toEqual({ file: CONFIG_PATH, key: "sources.echo_csv", line: 1 });
    expect(error.exitCode).toBe(2);
  });

  it("rejects a source without a location", () => {
    const error = configErrorFrom(
      config("sources:", "  echo_data:", "    enabled: true", "  echo_csv:", "    location: na.csv"),
    );
    expect(error.location).toEqual({ file: CONFIG_PATH, key: "sources.echo_data.location", line: 2 });
    expect(error.message).toBe("missing (expected string)");
  });

  it.each([
    ["an empty file", "", "sources", /^missing \(expected object\)$/],
    ["a comment only", "# nothing yet\n", "sources", /^missing \(expected object\)$/],
    ["sources with no value", "sources:\n", "sources", /expected object, received null/],
    ["a list", "- sources\n", "(top level)", /expected object, received array/],
    ["a scalar", "sources\n", "(top level)", /expected object, received string/],
  ])("rejects %s", (_what, text, key, message) => {
    const error = configErrorFrom(text);
    expect(error.location.key).toBe(key);
    expect(error.message).toMatch(message);
    expect(error.exitCode).toBe(2);
  });

  it("reports every problem at once, top to bottom, one line each", () => {
    const error = configErrorFrom(config("sources:", "  echo_data:", "    enabled: 1"));
    expect(error.describe()).toBe(
      [
        `${CONFIG_PATH}: 3 problems (see config.yaml in the repository for every key)`,
        `${CONFIG_PATH}:1 key sources.echo_csv: missing (expected object)`,
        `${CONFIG_PATH}:2 key sources.echo_data.location: missing (expected string)`,
        `${CONFIG_PATH}:3 key sources.echo_data.enabled: Invalid input: expected boolean, received number`,
      ].join("\n"),
    );
  });
});

describe("a config that would send the NVD key elsewhere", () => {
  const key = { NVD_API_KEY: "nvd-key-in-the-environment" };
  const nvd = (...lines: string[]) => config(...MINIMAL, "  nvd:", "    enabled: true", ...lines);
  const parse = (text: string, env: NodeJS.ProcessEnv) => parseConfig(text, CONFIG_PATH, { env });
  const problemOf = (text: string, env: NodeJS.ProcessEnv) => {
    try {
      parse(text, env);
    } catch (error) {
      if (error instanceof PipelineError) return error;
      throw error;
    }
    throw new Error("expected a PipelineError, the config was accepted");
  };

  it("is refused when a key is set, naming the file, the key path, the variable and the rule", () => {
    const text = nvd("    mode: live", "    location: http://127.0.0.1:8080/rest/json/cves/2.0");
    const error = problemOf(text, key);
    expect(error.exitCode).toBe(2);
    expect(error.location).toMatchObject({ file: CONFIG_PATH, key: "sources.nvd.location", line: 9 });
    expect(error.describe()).toContain(
      `${CONFIG_PATH}:9 key sources.nvd.location: http://127.0.0.1:8080/rest/json/cves/2.0 would receive the secret in NVD_API_KEY, but the NVD API key is sent only over https to services.nvd.nist.gov: unset NVD_API_KEY, or leave sources.nvd.location out`,
    );
    expect(error.describe()).not.toContain(key.NVD_API_KEY);
  });

  it("is refused for plain http, another port or host, and credentials, even on NVD's host", () => {
    for (const location of [
      "http://services.nvd.nist.gov/rest/json/cves/2.0",
      "https://services.nvd.nist.gov:8443/rest/json/cves/2.0",
      "https://services.nvd.nist.gov.example.com/rest/json/cves/2.0",
      "https://user:pw@services.nvd.nist.gov/rest/json/cves/2.0",
      "mirror/nvd",
    ]) {
      const error = problemOf(nvd("    mode: live", `    location: ${location}`), key);
      expect(error.location.key, location).toBe("sources.nvd.location");
      expect(error.message).not.toContain("pw");
    }
  });

  it("reads the variable api_key_env names", () => {
    const text = nvd("    mode: live", "    api_key_env: MY_NVD_KEY", "    location: http://127.0.0.1:8080/");
    expect(() => parse(text, key)).not.toThrow();
    expect(problemOf(text, { MY_NVD_KEY: "k" }).message).toMatch(/secret in MY_NVD_KEY.*unset MY_NVD_KEY/);
  });

  it("is accepted without a key, on NVD's API over https, and when the key is not sent (file, mock, disabled)", () => {
    const local = "    location: http://127.0.0.1:8080/rest/json/cves/2.0";
    expect(() => parse(nvd("    mode: live", local), {})).not.toThrow();
    expect(() => parse(nvd("    mode: live", local), { NVD_API_KEY: "  " })).not.toThrow();
    expect(() => parse(nvd("    mode: live"), key)).not.toThrow();
    expect(() =>
      parse(nvd("    mode: live", "    location: https://services.nvd.nist.gov:443/rest/json/cves/2.0"), key),
    ).not.toThrow();
    expect(() => parse(nvd("    mode: file", "    location: http://127.0.0.1:8080/x"), key)).not.toThrow();
    expect(() => parse(nvd("    mode: mock"), key)).not.toThrow();
    const disabled = config(...MINIMAL, "  nvd:", "    enabled: false", "    mode: live", local);
    expect(() => parse(disabled, key)).not.toThrow();
  });
});

describe("loadConfig on a file it cannot read", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("says a missing file does not exist, with exit code 2", async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-config-"));
    const path = join(dir, "missing.yaml");
    const error = await rejectionOf(loadConfig(path));
    expect(error.message).toBe("the config file does not exist");
    expect(error.location).toEqual({ file: path });
    expect(error.hint).toBe("pass an existing file with --config");
    expect(error.exitCode).toBe(2);
  });

  it("rejects a directory with exit code 2", async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-config-"));
    const error = await rejectionOf(loadConfig(dir));
    expect(error.message).toBe("cannot read the config file: EISDIR");
    expect(error.exitCode).toBe(2);
  });

  it("reports a problem in a loaded file under its absolute path", async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-config-"));
    const path = join(dir, "nested", "config.yaml");
    await mkdir(dirname(path));
    await writeFile(
      path,
      config("sources:", "  echo_data:", "    location: data.json", "    location: again.json"),
    );
    const error = await rejectionOf(loadConfig(path));
    expect(error.location).toEqual({ file: path, line: 4, column: 5 });
  });

  it("resolves the loaded file's relative paths against its own directory", async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-config-"));
    const path = join(dir, "nested", "config.yaml");
    await mkdir(dirname(path));
    await writeFile(path, config(...MINIMAL));
    // Only read: that folder has no dbt project to run with.
    const loaded = await loadConfig(path, { checkPaths: false });
    expect(loaded.configPath).toBe(path);
    expect(loaded.sources.echo_data.location).toBe(join(dir, "nested", "data.json"));
    expect(loaded.database).toBe(join(dir, "nested", ".state", "echo-advisory.duckdb"));
  });
});
