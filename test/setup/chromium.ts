// Vitest global setup: the browser tests drive Debian's Chromium (the `chromium` package), never a browser
// downloaded by Playwright. When /usr/bin/chromium is missing (a clean CI machine), this installs it with
// apt-get; when it is there, it costs one stat.
import { existsSync } from "node:fs";
import { execa } from "execa";

export const chromiumPath = "/usr/bin/chromium";

export interface CommandResult {
  exitCode: number;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** Runs a command to completion; never throws for a non-zero exit or a missing program. */
export type CommandRunner = (file: string, args: string[]) => Promise<CommandResult>;

export interface EnsureChromiumOptions {
  /** Where the browser must end up; /usr/bin/chromium by default. */
  executablePath?: string;
  /** Runs apt-get (tests pass a fake). */
  run?: CommandRunner;
  /** Whether this process is root; otherwise the commands go through `sudo -n`. */
  isRoot?: boolean;
  /** Progress lines (the install takes a while); stderr by default. */
  log?: (line: string) => void;
  exists?: (path: string) => boolean;
}

const runCommand: CommandRunner = async (file, args) => {
  const result = await execa(file, args, {
    all: true,
    reject: false,
    stdin: "ignore",
    env: { DEBIAN_FRONTEND: "noninteractive" },
  });
  return { exitCode: result.exitCode ?? -1, output: String(result.all ?? result.message ?? "") };
};

/** The last lines of a command's output, for an error message. */
export function outputTail(output: string, lines = 20): string {
  const kept = output.trimEnd().split("\n").slice(-lines).join("\n");
  return kept === "" ? "(no output)" : kept;
}

/**
 * Makes sure Debian's Chromium is installed at `executablePath`, installing the `chromium` package with
 * apt-get when it is not. `apt-get update` runs only when the first install fails (a fresh image has no
 * package lists). Throws an error naming the failing command and the tail of its output.
 */
export async function ensureChromium(options: EnsureChromiumOptions = {}): Promise<string> {
  const executablePath = options.executablePath ?? chromiumPath;
  const exists = options.exists ?? existsSync;
  if (exists(executablePath)) return executablePath;

  const run = options.run ?? runCommand;
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // sudo drops the environment, so the non-interactive frontend is passed through `env`.
  const prefix = isRoot ? [] : ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"];
  const command = (...args: string[]): [string, string[]] => {
    const [file, ...rest] = [...prefix, "apt-get", ...args];
    return [file as string, rest];
  };
  const shown = ([file, args]: [string, string[]]) => [file, ...args].join(" ");
  const fail = (attempt: [string, string[]], result: CommandResult, why: string) =>
    new Error(
      `Debian's chromium is needed by the browser tests and ${executablePath} is missing; ${why}.\n` +
        `Command: ${shown(attempt)} (exit code ${result.exitCode})\n` +
        `Output (last lines):\n${outputTail(result.output)}`,
    );

  const install = command("install", "-y", "--no-install-recommends", "chromium");
  log(`${executablePath} is missing: installing Debian's chromium package (${shown(install)})`);
  let result = await run(...install);
  if (result.exitCode !== 0) {
    const update = command("update");
    log(`the install failed (exit code ${result.exitCode}); refreshing the package lists (${shown(update)})`);
    const updated = await run(...update);
    if (updated.exitCode !== 0) throw fail(update, updated, "refreshing the package lists failed");
    result = await run(...install);
    if (result.exitCode !== 0) throw fail(install, result, "installing the package failed");
  }
  if (!exists(executablePath)) {
    throw fail(install, result, `the install succeeded but ${executablePath} still does not exist`);
  }
  return executablePath;
}

/** Vitest globalSetup entry point. */
export default async function setup(): Promise<void> {
  await ensureChromium();
}
