import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import type { AdvisoryDocument } from "../../pipeline/formats/advisory-current.ts";
import { withDatabase } from "../../pipeline/lib/db.ts";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const sampleDataJson = join(repoRoot, "test/fixtures/sample/data.json");
export const sampleCsv = join(repoRoot, "test/fixtures/sample/advisory_not_applicable.csv");
export const sharedDataDir = resolve(repoRoot, "../shared/data");

export interface Workspace {
  dir: string;
  configPath: string;
  outputDir: string;
  database: string;
  /** Copies a file into the workspace's input folder and returns its new path. */
  input(name: string, content: string | Buffer): Promise<string>;
  writeConfig(options: {
    dataJson: string;
    csv: string;
    dbtProjectDir?: string;
    extra?: string;
  }): Promise<void>;
  /** Runs the CLI on the workspace's config; `env` adds to this process's environment. */
  run(args?: string[], env?: Record<string, string>): Promise<PipelineResult>;
  readAdvisoryCurrent(): Promise<AdvisoryCurrent>;
  landingCounts(): Promise<Record<string, number>>;
  cleanup(): Promise<void>;
}

export interface PipelineResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The published document, typed as the export stage writes it. */
export type AdvisoryCurrent = AdvisoryDocument;

/** A throw-away folder with its own config, database and output, so tests never touch the repo's state. */
export async function createWorkspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "echo-advisory-test-"));
  const configPath = join(dir, "config.yaml");
  const outputDir = join(dir, "output");
  const database = join(dir, "state", "echo-advisory.duckdb");
  return {
    dir,
    configPath,
    outputDir,
    database,
    async input(name, content) {
      const path = join(dir, "input", name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
      return path;
    },
    async writeConfig({ dataJson, csv, dbtProjectDir, extra }) {
      await writeFile(
        configPath,
        [
          "database: state/echo-advisory.duckdb",
          "output_dir: output",
          "dbt:",
          `  project_dir: ${JSON.stringify(dbtProjectDir ?? join(repoRoot, "dbt_project"))}`,
          `  executable: ${JSON.stringify(join(repoRoot, "dbt_project/.venv/bin/dbt"))}`,
          "sources:",
          "  echo_data:",
          `    location: ${JSON.stringify(dataJson)}`,
          "  echo_csv:",
          `    location: ${JSON.stringify(csv)}`,
          extra ?? "",
        ].join("\n"),
      );
    },
    async run(args = [], env = {}) {
      const result = await execa(
        process.execPath,
        [join(repoRoot, "pipeline/cli.ts"), "--config", configPath, ...args],
        {
          reject: false,
          env: { ECHO_LOG_FORMAT: "json", ...env },
        },
      );
      return {
        exitCode: result.exitCode ?? -1,
        stdout: String(result.stdout),
        stderr: String(result.stderr),
      };
    },
    async readAdvisoryCurrent() {
      return JSON.parse(await readFile(join(outputDir, "advisory_current.json"), "utf8")) as AdvisoryCurrent;
    },
    async landingCounts() {
      return withDatabase(database, async (db) => {
        const tables = await db.all<{ name: string }>(
          "select table_name as name from information_schema.tables where table_schema = 'landing' order by 1",
        );
        const counts: Record<string, number> = {};
        for (const { name } of tables) {
          const row = await db.one<{ n: number }>(`select count(*)::integer as n from landing.${name}`);
          counts[name] = row?.n ?? 0;
        }
        return counts;
      });
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function countStates(document: AdvisoryCurrent): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const advisory of document.advisories) counts[advisory.state] = (counts[advisory.state] ?? 0) + 1;
  return counts;
}

/** What a failed source must never change: each advisory's state and fixed version. */
export function decisions(document: AdvisoryCurrent): string[] {
  return document.advisories.map(
    (advisory) => `${advisory.advisory_id} ${advisory.state} ${advisory.fixed_version}`,
  );
}

/** Every file under a directory with its text, keyed by path: for "byte-identical output" assertions. */
export async function readTree(directory: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      files[path] = await readFile(path, "utf8");
    }
  }
  return files;
}

/**
 * Points a workspace at the vendor's real snapshot and the real upstream records in ../shared (file mode).
 * Upstream sources are off unless enabled, so each says so.
 */
export async function writeRealDataConfig(workspace: Workspace): Promise<void> {
  const upstream = join(sharedDataDir, "upstream");
  await workspace.writeConfig({
    dataJson: join(sharedDataDir, "echo/data.json"),
    csv: join(sharedDataDir, "echo/advisory_not_applicable.csv"),
    extra: [
      "  debian_tracker:",
      "    enabled: true",
      "    mode: file",
      `    location: ${JSON.stringify(join(upstream, "debian/tracker-excerpt.json"))}`,
      "  osv:",
      "    enabled: true",
      "    mode: file",
      `    location: ${JSON.stringify(join(upstream, "osv"))}`,
      "  nvd:",
      "    enabled: true",
      "    mode: file",
      `    location: ${JSON.stringify(join(upstream, "nvd"))}`,
      "  kev:",
      "    enabled: true",
      "    mode: file",
      `    location: ${JSON.stringify(join(upstream, "kev"))}`,
    ].join("\n"),
  });
}
