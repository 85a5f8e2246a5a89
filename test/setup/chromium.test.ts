import { describe, expect, it } from "vitest";
import { type CommandResult, ensureChromium } from "./chromium.ts";

/** A fake apt-get: answers each call from a script and records the command lines it was given. */
function fakeRunner(answers: CommandResult[], onInstalled?: () => void) {
  const calls: string[] = [];
  const run = async (file: string, args: string[]) => {
    calls.push([file, ...args].join(" "));
    const answer = answers.shift() ?? { exitCode: 99, output: "unexpected call" };
    if (answer.exitCode === 0 && args.includes("install")) onInstalled?.();
    return answer;
  };
  return { calls, run };
}

const ok = { exitCode: 0, output: "done" };
const install = "apt-get install -y --no-install-recommends chromium";

describe("installing Debian's chromium for the browser tests", () => {
  it("does nothing when the browser is already there", async () => {
    const { calls, run } = fakeRunner([]);
    const started = performance.now();
    await expect(ensureChromium({ run })).resolves.toBe("/usr/bin/chromium");
    expect(performance.now() - started).toBeLessThan(50);
    expect(calls).toEqual([]);
  });

  it("installs the package when the path is missing, without apt-get update when the install works", async () => {
    let installed = false;
    const { calls, run } = fakeRunner([ok], () => {
      installed = true;
    });
    await ensureChromium({
      executablePath: "/nonexistent/chromium",
      exists: () => installed,
      run,
      isRoot: true,
      log: () => {},
    });
    expect(calls).toEqual([install]);
  });

  it("runs apt-get update only after a failed install, then installs again; not root goes through sudo -n", async () => {
    let installed = false;
    const { calls, run } = fakeRunner(
      [{ exitCode: 100, output: "E: Unable to locate package chromium" }, ok, ok],
      () => {
        installed = true;
      },
    );
    await ensureChromium({
      executablePath: "/nonexistent/chromium",
      exists: () => installed,
      run,
      isRoot: false,
      log: () => {},
    });
    const sudo = "sudo -n env DEBIAN_FRONTEND=noninteractive";
    expect(calls).toEqual([`${sudo} ${install}`, `${sudo} apt-get update`, `${sudo} ${install}`]);
  });

  it("names the failing command and the tail of its output", async () => {
    const output = Array.from({ length: 40 }, (_, n) => `line ${n + 1}`)
      .concat("E: Could not open lock file /var/lib/dpkg/lock-frontend")
      .join("\n");
    const { run } = fakeRunner([
      { exitCode: 100, output: "E: Unable to locate package chromium" },
      ok,
      {
        exitCode: 100,
        output,
      },
    ]);
    const error = await ensureChromium({
      executablePath: "/nonexistent/chromium",
      exists: () => false,
      run,
      isRoot: true,
      log: () => {},
    }).then(
      () => new Error("no error"),
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain("/nonexistent/chromium is missing; installing the package failed");
    expect(error.message).toContain(`Command: ${install} (exit code 100)`);
    expect(error.message).toContain("E: Could not open lock file /var/lib/dpkg/lock-frontend");
    expect(error.message).toContain("line 40");
    expect(error.message).not.toContain("line 5\n");
  });

  it("reports a failed apt-get update, and a program that cannot run at all", async () => {
    const { run } = fakeRunner([
      { exitCode: -1, output: "spawn sudo ENOENT" },
      { exitCode: -1, output: "spawn sudo ENOENT" },
    ]);
    await expect(
      ensureChromium({ executablePath: "/nonexistent/chromium", exists: () => false, run, log: () => {} }),
    ).rejects.toThrow(/refreshing the package lists failed\.\nCommand: .*apt-get update \(exit code -1\)/);
  });

  it("fails when the install succeeds but the browser is still not at the path", async () => {
    const { run } = fakeRunner([ok]);
    await expect(
      ensureChromium({
        executablePath: "/nonexistent/chromium",
        exists: () => false,
        run,
        isRoot: true,
        log: () => {},
      }),
    ).rejects.toThrow("the install succeeded but /nonexistent/chromium still does not exist");
  });
});
