// The repository's own safety settings: who must review what (CODEOWNERS), how dependencies are updated
// (Dependabot), and where to report a vulnerability (SECURITY.md).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../helpers/workspace.ts";

function codeowners(): Array<{ pattern: string; owners: string[] }> {
  return readFileSync(join(repoRoot, ".github/CODEOWNERS"), "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter(Boolean)
    .map((line) => {
      const [pattern = "", ...owners] = line.split(/\s+/);
      return { pattern, owners };
    });
}

/** The owners of `path` under CODEOWNERS' rule: the last matching pattern wins (anchored patterns only). */
function ownersOf(path: string): string[] {
  let owners: string[] = [];
  for (const entry of codeowners()) {
    const pattern = entry.pattern;
    const matches =
      pattern === "*" ||
      (pattern.endsWith("/") ? path.startsWith(pattern) : path === pattern || path.startsWith(`${pattern}/`));
    if (matches) owners = entry.owners;
  }
  return owners;
}

describe("CODEOWNERS", () => {
  it("names only paths that exist, each with at least one team", () => {
    for (const { pattern, owners } of codeowners()) {
      expect(owners.length, pattern).toBeGreaterThan(0);
      for (const owner of owners) expect(owner, pattern).toMatch(/^@[\w-]+\/[\w-]+$/);
      if (pattern !== "*")
        expect(existsSync(join(repoRoot, pattern)), `${pattern} does not exist`).toBe(true);
    }
  });

  it("gives overrides to the research team, and the workflows, configs and pinned runtimes to the security team", () => {
    expect(ownersOf("/overrides/advisory_not_applicable.csv")).toEqual(["@echohq/security-research"]);
    expect(ownersOf("/dbt_project/seeds/override_reasons.csv")).toContain("@echohq/security-research");
    for (const path of [
      "/.github/workflows/pipeline.yml",
      "/.github/CODEOWNERS",
      "/config.live.yaml",
      "/package-lock.json",
      "/dbt_project/requirements.txt",
    ]) {
      expect(ownersOf(path), path).toContain("@echohq/security");
    }
    for (const path of ["/pipeline/run.ts", "/dbt_project/models", "/config.yaml"]) {
      expect(ownersOf(path), path).toEqual(["@echohq/advisory-engineering"]);
    }
  });
});

describe("Dependabot", () => {
  const config = parse(readFileSync(join(repoRoot, ".github/dependabot.yml"), "utf8")) as {
    updates: Array<{
      "package-ecosystem": string;
      directory: string;
      schedule: { interval: string };
      cooldown?: { "default-days"?: number };
      groups?: Record<string, unknown>;
    }>;
  };

  it("updates the actions, npm and every pip requirements file weekly, grouped, a week after release", () => {
    const entries = config.updates.map((entry) => `${entry["package-ecosystem"]} ${entry.directory}`);
    expect(entries.sort()).toEqual([
      "github-actions /",
      "npm /",
      "pip /dbt_project",
      "pip /test/setup/workflow-audit",
    ]);
    for (const entry of config.updates) {
      expect(entry.schedule.interval).toBe("weekly");
      expect(entry.cooldown?.["default-days"]).toBeGreaterThanOrEqual(7);
      if (entry["package-ecosystem"] !== "pip" || entry.directory === "/dbt_project") {
        expect(Object.keys(entry.groups ?? {}).length, entry["package-ecosystem"]).toBe(1);
      }
      expect(existsSync(join(repoRoot, entry.directory))).toBe(true);
    }
  });
});

describe("SECURITY.md", () => {
  it("says how to report a vulnerability privately", () => {
    const text = readFileSync(join(repoRoot, "SECURITY.md"), "utf8");
    expect(text).toContain("Report a vulnerability");
    expect(text).toMatch(/privately/);
  });
});
