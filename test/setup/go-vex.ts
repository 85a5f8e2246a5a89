// The reference OpenVEX reader for the interop test (test/integration/openvex-interop.test.ts): a small Go
// program (test/interop/go-vex/, its go.mod and go.sum pin github.com/openvex/go-vex) built once per machine
// into .tools/ like actionlint (test/setup/actionlint.ts): the Go module proxy, checked against Go's
// checksum database, then one stat per test run. It is built on demand by the test that needs it, not as a
// global setup, so that only that test waits for it.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { outputTail } from "./chromium.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const goVexSourceDir = join(repoRoot, "test/interop/go-vex");
const toolsDir = join(repoRoot, ".tools/go-vex");

/** The go-vex version go.mod pins, for messages. */
export function goVexVersion(): string {
  const goMod = readFileSync(join(goVexSourceDir, "go.mod"), "utf8");
  return /github\.com\/openvex\/go-vex (v\S+)/.exec(goMod)?.[1] ?? "(unknown)";
}

/** Where the program lives once built: named after a hash of its sources, so an edit rebuilds it. */
export function vexcheckPath(): string {
  const hash = createHash("sha256");
  for (const name of ["go.mod", "go.sum", "main.go"]) hash.update(readFileSync(join(goVexSourceDir, name)));
  return join(toolsDir, hash.digest("hex").slice(0, 16), "vexcheck");
}

export type GoVexBuild = { path: string } | { unavailable: string };

/** Output of a Go command that could not reach the module proxy (or was told not to). */
const unreachable =
  /dial tcp|no such host|connection refused|i\/o timeout|TLS handshake timeout|proxy\.golang\.org|GOPROXY=off|GOFLAGS=-mod=vendor|network is unreachable|module lookup disabled/i;

/**
 * Builds the program unless it is there. Returns `unavailable` with the reason only when Go is not
 * installed or the module proxy cannot be reached; any other failure (a compile error) throws.
 */
export async function ensureVexcheck(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<GoVexBuild> {
  const path = vexcheckPath();
  if (existsSync(path)) return { path };
  const go = process.env.GO ?? (existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go");
  const version = await execa(go, ["version"], { reject: false, stdin: "ignore" });
  if (version.exitCode !== 0) {
    return { unavailable: `Go is not installed (${go} version: ${version.shortMessage ?? "failed"})` };
  }
  await mkdir(toolsDir, { recursive: true });
  const building = await mkdtemp(join(toolsDir, "build-"));
  const command = ["build", "-trimpath", "-o", join(building, "vexcheck"), "."];
  log(`${path} is missing: building the go-vex ${goVexVersion()} reader (go ${command.join(" ")})`);
  try {
    const result = await execa(go, command, {
      cwd: goVexSourceDir,
      all: true,
      reject: false,
      stdin: "ignore",
      // go.sum pins every module; -mod=readonly refuses to change it. No VCS stamp: the program is a test tool.
      env: { CGO_ENABLED: "0", GOFLAGS: "-mod=readonly -buildvcs=false" },
    });
    const output = String(result.all ?? result.message ?? "");
    if (result.exitCode !== 0) {
      if (unreachable.test(output)) {
        return {
          unavailable: `the Go module proxy cannot be reached to fetch go-vex ${goVexVersion()}: ${outputTail(output, 3)}`,
        };
      }
      throw new Error(
        `building the go-vex reader failed.\nCommand: go ${command.join(" ")} in ${goVexSourceDir} (exit code ${result.exitCode})\n` +
          `Output (last lines):\n${outputTail(output)}`,
      );
    }
    await mkdir(dirname(path), { recursive: true });
    await rename(join(building, "vexcheck"), path);
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return { path };
}

export interface VexQuery {
  vulnerability: string;
  product: string;
  subcomponents?: string[];
}

export interface VexcheckReport {
  context: string;
  id: string;
  statement_count: number;
  /** Statements go-vex's Statement.Validate refused, with its message. */
  invalid: { index: number; error: string }[];
  /** For each query, the statuses of the statements go-vex's VEX.Matches returns, and their products. */
  answers: { query: VexQuery; statuses: string[]; products: string[][] }[];
}

/** Loads a document with go-vex (vex.Open), validates each statement and answers the queries. */
export async function vexcheck(
  binary: string,
  document: string,
  queries: VexQuery[],
): Promise<VexcheckReport> {
  const result = await execa(binary, [document], {
    input: JSON.stringify({ queries }),
    reject: false,
  });
  if (result.exitCode !== 0) {
    throw new Error(`vexcheck ${document} failed (exit ${result.exitCode}): ${String(result.stderr)}`);
  }
  return JSON.parse(String(result.stdout)) as VexcheckReport;
}
