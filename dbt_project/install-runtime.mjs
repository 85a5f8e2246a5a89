#!/usr/bin/env node
// Installs dbt's Python runtime into dbt_project/.venv from the hash-pinned requirements.
// Runs from `npm ci` (postinstall), so a fresh clone needs only Node, Python 3.11+ and the registries.
// Plain JavaScript on purpose: npm may start it with the machine's own (older) Node.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const projectDir = dirname(fileURLToPath(import.meta.url));
const venvDir = join(projectDir, ".venv");
const requirementsPath = join(projectDir, "requirements.txt");
const stampPath = join(venvDir, ".requirements.sha256");
const minimumPython = [3, 11];

function fail(message) {
  console.error(`dbt runtime setup: ${message}`);
  process.exit(1);
}

function pythonVersion(command) {
  const probe = spawnSync(command, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {
    encoding: "utf8",
  });
  if (probe.status !== 0 || !probe.stdout) return undefined;
  const [major, minor] = probe.stdout.trim().split(".").map(Number);
  return { command, major, minor };
}

function findPython() {
  const candidates = [
    process.env.ECHO_PYTHON,
    "python3.13",
    "python3.12",
    "python3.11",
    "python3",
    "python",
  ].filter(Boolean);
  for (const candidate of candidates) {
    const found = pythonVersion(candidate);
    if (
      found &&
      (found.major > minimumPython[0] ||
        (found.major === minimumPython[0] && found.minor >= minimumPython[1]))
    ) {
      return found;
    }
  }
  return undefined;
}

function run(command, args) {
  const result = spawnSync(command, args, { stdio: "inherit" });
  if (result.status !== 0) {
    fail(`'${command} ${args.join(" ")}' exited with ${result.status ?? result.signal}`);
  }
}

/**
 * Parses the project once into dbt_project/.venv/installed-parse, whose partial_parse.msgpack a run's state
 * folder starts from (pipeline/stages/transform.ts, seedPartialParse); not dbt_project/target, which any
 * `dbt` command run in the project overwrites with its own settings: without it each new state folder's first run parses
 * the whole project, about 5 s. dbt reuses a parse only under the same connection settings, so this one is
 * made with the default config's: the database file named echo-advisory.duckdb (runs name it relative to
 * its folder) and duckdb.memory_limit 1.5GB. A run under other settings parses in full, as before. The
 * environment is as minimal as a run's (pipeline/lib/dbt-env.ts). A failure here costs only that time.
 */
function parseProject() {
  const environment = {
    PYTHONDONTWRITEBYTECODE: "1",
    ECHO_DUCKDB_PATH: "echo-advisory.duckdb",
    ECHO_DBT_THREADS: "2",
    ECHO_DUCKDB_MEMORY_LIMIT: "1.5GB",
    DBT_PARTIAL_PARSE: "true",
    DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
    DO_NOT_TRACK: "1",
  };
  for (const name of ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"])
    if (process.env[name] !== undefined) environment[name] = process.env[name];
  const parsed = spawnSync(
    join(venvDir, "bin", "dbt"),
    [
      "parse",
      "--quiet",
      "--project-dir",
      projectDir,
      "--profiles-dir",
      projectDir,
      "--target-path",
      join(venvDir, "installed-parse"),
      "--log-path",
      join(projectDir, "logs"),
    ],
    { encoding: "utf8", env: environment, cwd: projectDir },
  );
  if (parsed.status === 0)
    console.log("dbt runtime setup: project parsed into dbt_project/.venv/installed-parse");
  else
    console.warn(
      `dbt runtime setup: parsing the project failed (exit ${parsed.status ?? parsed.signal}); runs will parse it themselves\n${parsed.stdout}${parsed.stderr}`,
    );
}

if (process.env.ECHO_SKIP_DBT_SETUP === "1") {
  console.log("dbt runtime setup: skipped (ECHO_SKIP_DBT_SETUP=1)");
  process.exit(0);
}

const requirementsHash = createHash("sha256").update(readFileSync(requirementsPath)).digest("hex");
const venvPython = join(venvDir, "bin", "python");
if (
  existsSync(venvPython) &&
  existsSync(stampPath) &&
  readFileSync(stampPath, "utf8").trim() === requirementsHash
) {
  console.log("dbt runtime setup: dbt_project/.venv is up to date");
  parseProject();
  process.exit(0);
}

const python = findPython();
if (!python) {
  fail(
    "no Python 3.11 or newer found on PATH (tried python3.13, python3.12, python3.11, python3, python); install one or set ECHO_PYTHON",
  );
}
console.log(
  `dbt runtime setup: creating dbt_project/.venv with ${python.command} ${python.major}.${python.minor}`,
);
rmSync(venvDir, { recursive: true, force: true });
run(python.command, ["-m", "venv", venvDir]);
run(venvPython, [
  "-m",
  "pip",
  "install",
  "--quiet",
  "--disable-pip-version-check",
  "--no-input",
  "--require-hashes",
  "-r",
  requirementsPath,
]);
writeFileSync(stampPath, `${requirementsHash}\n`);
parseProject();
console.log("dbt runtime setup: done");
