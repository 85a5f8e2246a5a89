// No committed file names a path of one developer's or one CI machine's disk (a home folder, a wheel cache
// handed to pip with --find-links, this workplace's checkout): on any other machine such a path is missing, or
// worse, points at something else. The paths the project means are relative, or examples under /srv.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/workspace.ts";

const machinePaths: Array<[string, RegExp]> = [
  ["a home folder", /(^|[\s"'`=(:,[])(\/home\/[\w.-]+|\/Users\/[\w.-]+|\/root)\//],
  ["a Windows profile", /[A-Za-z]:\\(Users|Documents and Settings)\\/i],
  ["a macOS temporary folder", /\/(private\/)?var\/folders\//],
  [
    "a local wheel or package cache",
    /(--find-links|--extra-index-url)[=\s]\s*(\/|~|[A-Za-z]:\\)|\/opt\/wheels/,
  ],
  ["this workplace's checkout", /(^|[\s"'`=(:,[])\/work\/(main|shared|ci-check|wt-[\w-]+)\b/],
  ["an absolute file: URL", /file:\/\/\/(home|Users|root|work|tmp|opt)\//],
];

/** The machine paths `text` names, as "line N: what (excerpt)". */
function findMachinePaths(text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, index) => {
    for (const [what, pattern] of machinePaths) {
      const match = pattern.exec(line);
      if (match) found.push(`line ${index + 1}: ${what} (${line.trim().slice(0, 120)})`);
    }
  });
  return found;
}

describe("no committed file names a path of one machine", () => {
  it("holds for every file git tracks or would add (untracked, not ignored)", async () => {
    const listed = await execa("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
      cwd: repoRoot,
    });
    // This file is left out: its examples are the very paths it looks for.
    const files = String(listed.stdout)
      .split("\0")
      .filter((file) => file !== "" && file !== "test/unit/no-machine-paths.test.ts");
    expect(files.length).toBeGreaterThan(100);
    const offences: string[] = [];
    for (const file of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(repoRoot, file));
      } catch {
        continue; // listed by git but deleted in the work tree
      }
      if (bytes.includes(0)) continue; // binary
      for (const offence of findMachinePaths(bytes.toString("utf8"))) offences.push(`${file} ${offence}`);
    }
    expect(offences).toEqual([]);
  });

  it("is not vacuous: it finds what pip-compile and a developer's machine leave behind", () => {
    // Assembled, so that this file does not hold the very line that other scanners look for.
    const wheelCache = ["--find-links", "/opt/wheels"].join(" ");
    expect(findMachinePaths(`${wheelCache}\nagate==1.9.1`)).toEqual([
      `line 1: a local wheel or package cache (${wheelCache})`,
    ]);
    expect(findMachinePaths('  project_dir: "/home/alice/echo/dbt_project"')).toHaveLength(1);
    expect(findMachinePaths("cd /Users/bob/src/echo && npm test")).toHaveLength(1);
    expect(findMachinePaths("python: /root/.pyenv/versions/3.11.7/bin/python")).toHaveLength(1);
    expect(findMachinePaths(String.raw`C:\Users\carol\echo\config.yaml`)).toHaveLength(1);
    expect(findMachinePaths("data: /work/shared/data/data.json")).toHaveLength(1);
    // Relative paths, URLs and the documented /srv examples are fine.
    expect(findMachinePaths("pip install --find-links=~/wheels dbt-core")).toHaveLength(1);
    expect(findMachinePaths("rm -f /tmp/echo-lock")).toEqual([]);
    expect(findMachinePaths("location: ../shared/data/data.json")).toEqual([]);
    expect(findMachinePaths("a `--find-links` wheel cache is a machine path")).toEqual([]);
    expect(findMachinePaths("binary_packages: /srv/apt/dists/echo-1/main/source/Sources.gz")).toEqual([]);
    expect(findMachinePaths("https://example.org/home/alice/")).toEqual([]);
  });
});
