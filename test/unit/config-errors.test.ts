// Bad configs, table-driven: each row is a config text, where it lives (with the files around it), and the
// exact messages a run prints for it. Then the CLI once, spawned, on the repository's config.yaml copied
// into another folder: exit 2, one clear message, no stack trace.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../pipeline/stages/config.ts";
import { repoRoot } from "../helpers/workspace.ts";

const dbt = [
  "dbt:",
  `  project_dir: ${join(repoRoot, "dbt_project")}`,
  `  executable: ${join(repoRoot, "dbt_project/.venv/bin/dbt")}`,
];
const inputs = ["sources:", "  echo_data:", "    location: data.json", "  echo_csv:", "    location: na.csv"];
const schemaHint = "see config.yaml in the repository for every key";

interface Row {
  name: string;
  /** The config's text; `{repo}` is the repository's own config.yaml. */
  text: string[] | "{repo}";
  /** Files and folders beside it (a trailing / makes a folder). */
  around?: string[];
  /** What describe() prints, line by line; `{dir}` is the config's folder, `{line:text}` the line of `text`. */
  expected: string[];
}

const rows: Row[] = [
  {
    name: "the repository's config.yaml copied into another folder",
    text: "{repo}",
    expected: [
      "{dir}/config.yaml: 2 problems (relative paths resolve against {dir}, the config file's folder)",
      "{dir}/config.yaml:{line:    location: test/fixtures/sample/data.json} key sources.echo_data.location: {dir}/test/fixtures/sample/data.json is in a folder that does not exist ({dir}/test/fixtures/sample)",
      "{dir}/config.yaml:{line:    location: test/fixtures/sample/advisory_not_applicable.csv} key sources.echo_csv.location: {dir}/test/fixtures/sample/advisory_not_applicable.csv is in a folder that does not exist ({dir}/test/fixtures/sample)",
    ],
  },
  {
    name: "two bad keys at once",
    text: ["databse: state/echo-advisory.duckdb", ...dbt, ...inputs, "report:", "  list_limit: 0"],
    around: ["data.json", "na.csv"],
    expected: [
      `{dir}/config.yaml: 2 problems (${schemaHint})`,
      '{dir}/config.yaml:1 key databse: Unrecognized key: "databse" (did you mean "database"?)',
      "{dir}/config.yaml:11 key report.list_limit: Too small: expected number to be >=1",
    ],
  },
  {
    name: "a misspelt key",
    text: [
      ...dbt,
      "sources:",
      "  echo_data:",
      "    locaton: data.json",
      "  echo_csv:",
      "    location: na.csv",
    ],
    around: ["data.json", "na.csv"],
    expected: [
      `{dir}/config.yaml:6 key sources.echo_data.locaton: Unrecognized key: "locaton" (did you mean "location"?) (${schemaHint})`,
    ],
  },
  {
    name: "a value of the wrong type",
    text: [...dbt.slice(0, 3), '  threads: "two"', ...inputs],
    around: ["data.json", "na.csv"],
    expected: [
      `{dir}/config.yaml:4 key dbt.threads: Invalid input: expected number, received string (${schemaHint})`,
    ],
  },
  {
    name: "a file-mode source without a location",
    text: [...dbt, ...inputs, "  osv:", "    enabled: true", "    mode: file"],
    around: ["data.json", "na.csv"],
    expected: [
      `{dir}/config.yaml:9 key sources.osv.location: file mode needs a location (the recorded snapshot to read) (${schemaHint})`,
    ],
  },
  {
    // A missing file in a folder that exists is a delivery that did not arrive: a failed source at run time.
    name: "a file-mode source whose snapshot's folder is missing",
    text: [...dbt, ...inputs, "  nvd:", "    enabled: true", "    mode: file", "    location: snapshots/nvd"],
    around: ["data.json", "na.csv"],
    expected: [
      "{dir}/config.yaml:12 key sources.nvd.location: {dir}/snapshots/nvd is in a folder that does not exist ({dir}/snapshots) (relative paths resolve against {dir}, the config file's folder)",
    ],
  },
  {
    name: "a dbt project_dir without dbt_project.yml",
    text: [
      "dbt:",
      "  project_dir: not-a-project",
      `  executable: ${join(repoRoot, "dbt_project/.venv/bin/dbt")}`,
      ...inputs,
    ],
    around: ["data.json", "na.csv", "not-a-project/models/"],
    expected: [
      "{dir}/config.yaml:2 key dbt.project_dir: {dir}/not-a-project has no dbt_project.yml: it is not a dbt project (relative paths resolve against {dir}, the config file's folder)",
    ],
  },
  {
    name: "folders that cannot be created and a dbt that is not on PATH",
    text: [
      "database: blocked/state/echo-advisory.duckdb",
      "output_dir: blocked/output",
      "dbt:",
      `  project_dir: ${join(repoRoot, "dbt_project")}`,
      "  executable: dbt-that-is-not-installed",
      ...inputs,
    ],
    around: ["data.json", "na.csv", "blocked"],
    expected: [
      "{dir}/config.yaml: 4 problems (relative paths resolve against {dir}, the config file's folder)",
      "{dir}/config.yaml:1 key database: cannot write the database in {dir}/blocked/state: {dir}/blocked is a file, not a folder",
      "{dir}/config.yaml:2 key output_dir: cannot write to {dir}/blocked/output: {dir}/blocked is a file, not a folder",
      '{dir}/config.yaml:5 key dbt.executable: no executable "dbt-that-is-not-installed" on PATH',
      // Not in the file: the default (beside output_dir), named as such.
      "{dir}/config.yaml key history_dir: cannot write to {dir}/blocked/output/history: {dir}/blocked is a file, not a folder (the default)",
    ],
  },
];

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "echo-config-errors-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Writes the row's config and the files around it into a folder of its own; returns the config's path. */
async function place(row: Row, index: number): Promise<{ dir: string; path: string; text: string }> {
  const dir = join(scratch, `row-${index}`);
  await mkdir(dir, { recursive: true });
  for (const entry of row.around ?? []) {
    if (entry.endsWith("/")) await mkdir(join(dir, entry), { recursive: true });
    else {
      await mkdir(dirname(join(dir, entry)), { recursive: true });
      await writeFile(join(dir, entry), "");
    }
  }
  const text =
    row.text === "{repo}"
      ? await readFile(join(repoRoot, "config.yaml"), "utf8")
      : `${row.text.join("\n")}\n`;
  const path = join(dir, "config.yaml");
  await writeFile(path, text);
  return { dir, path, text };
}

function expand(line: string, dir: string, text: string): string {
  const lines = text.split("\n");
  return line
    .replaceAll("{dir}", dir)
    .replace(/\{line:([^}]*)\}/g, (_, start: string) =>
      String(lines.findIndex((l) => l.startsWith(start)) + 1),
    );
}

describe("a bad config", () => {
  it.each(rows.map((row, index) => [row.name, row, index] as const))("%s", async (_name, row, index) => {
    const { dir, path, text } = await place(row, index);
    const error = await loadConfig(path).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as ConfigError).describe().split("\n")).toEqual(
      row.expected.map((line) => expand(line, dir, text)),
    );
  });
});

describe("a config in a folder of its own that names only its data", () => {
  it("runs with the dbt project and the dbt installed with the pipeline", async () => {
    const { dir, path } = await place(
      {
        name: "own folder",
        text: ["database: state/my.duckdb", "output_dir: out", ...inputs],
        around: ["data.json", "na.csv"],
        expected: [],
      },
      97,
    );
    await expect(loadConfig(path)).resolves.toMatchObject({
      database: join(dir, "state/my.duckdb"),
      dbt: {
        project_dir: join(repoRoot, "dbt_project"),
        executable: join(repoRoot, "dbt_project/.venv/bin/dbt"),
      },
      sources: { echo_data: { location: join(dir, "data.json") } },
    });
  });

  it("a dbt project it names is its own, resolved against its folder", async () => {
    const { dir, path } = await place(
      {
        name: "named project",
        text: ["dbt:", "  project_dir: elsewhere", ...inputs],
        around: ["data.json", "na.csv", "elsewhere/"],
        expected: [],
      },
      96,
    );
    const error = await loadConfig(path).catch((thrown: unknown) => thrown);
    expect((error as ConfigError).describe()).toContain(
      `key dbt.project_dir: ${join(dir, "elsewhere")} has no dbt_project.yml`,
    );
  });
});

describe("a source file that is missing in a folder that exists", () => {
  it("is not a config problem: at run time it is a failed source whose last good data stays in use", async () => {
    const { path } = await place(
      {
        name: "missing delivery",
        text: [
          ...dbt,
          "sources:",
          "  echo_data:",
          "    location: inbox/data.json",
          "  echo_csv:",
          "    location: na.csv",
        ],
        around: ["inbox/", "na.csv"],
        expected: [],
      },
      98,
    );
    await expect(loadConfig(path)).resolves.toMatchObject({
      sources: { echo_data: { location: join(dirname(path), "inbox/data.json") } },
    });
  });
});

describe("the command line on a copied config.yaml", () => {
  it("exits 2 with the one message, naming the resolved paths, and no stack trace", async () => {
    const first = rows[0] as Row;
    const { dir, path, text } = await place(first, 99);
    const result = await execa(process.execPath, [join(repoRoot, "pipeline/cli.ts"), "--config", path], {
      reject: false,
      env: { ECHO_LOG_FORMAT: "json" },
    });
    expect(result.exitCode).toBe(2);
    const logged = String(result.stderr)
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: string; message: string });
    expect(logged.filter((entry) => entry.level === "error").map((entry) => entry.message)).toEqual([
      first.expected.map((line) => expand(line, dir, text)).join("\n"),
    ]);
    expect(String(result.stderr)).not.toMatch(/\bat .*\.ts:\d+|ENOENT|scandir/);
    expect(String(result.stdout)).toBe("");
  });
});
