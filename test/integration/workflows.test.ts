// The GitHub Actions workflows: actionlint passes on every one of them, and the project's security rules
// hold (pinned actions, least privilege, no secrets where pull requests run, one pipeline run at a time,
// every step an npm script so that it runs the same way locally).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../helpers/workspace.ts";
import { actionlintPath, actionlintVersion } from "../setup/actionlint.ts";

const workflowsDir = join(repoRoot, ".github/workflows");
const workflowFiles = readdirSync(workflowsDir)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();

type Mapping = Record<string, unknown>;

/** A GitHub Actions expression, `${{ inner }}`. */
const expression = (inner: string) => `\${{ ${inner} }}`;
interface Step extends Mapping {
  uses?: string;
  run?: string;
  env?: Mapping;
  with?: Mapping;
}
interface Job extends Mapping {
  permissions?: unknown;
  steps?: Step[];
  env?: Mapping;
  uses?: string;
  environment?: unknown;
  concurrency?: unknown;
}
interface Workflow {
  on: unknown;
  permissions?: unknown;
  env?: Mapping;
  concurrency?: unknown;
  jobs: Record<string, Job>;
}

function load(name: string): { text: string; workflow: Workflow } {
  const text = readFileSync(join(workflowsDir, name), "utf8");
  return { text, workflow: parse(text) as Workflow };
}

/** The events a workflow runs on, whichever of YAML's three spellings `on:` uses. */
function triggers(workflow: Workflow): string[] {
  const on = workflow.on;
  if (typeof on === "string") return [on];
  if (Array.isArray(on)) return on.map(String);
  return Object.keys((on ?? {}) as Mapping);
}

async function actionlint(args: string[], input?: string) {
  return execa(
    actionlintPath(),
    // shellcheck and pyflakes are used when found on PATH; they are left out so every machine lints alike.
    ["-no-color", "-shellcheck=", "-pyflakes=", ...args],
    { cwd: repoRoot, reject: false, all: true, ...(input === undefined ? {} : { input }) },
  );
}

describe(`actionlint ${actionlintVersion}`, () => {
  it("finds workflows to check", () => {
    expect(workflowFiles).toEqual(expect.arrayContaining(["ci.yml", "pipeline.yml"]));
  });

  it("passes on every workflow", async () => {
    const result = await actionlint(workflowFiles.map((name) => join(".github/workflows", name)));
    expect(String(result.all), String(result.all)).toBe("");
    expect(result.exitCode).toBe(0);
  });

  it("is not vacuous: it rejects a broken workflow", async () => {
    const broken = [
      "on: push",
      "permissions: {}",
      "jobs:",
      "  test:",
      "    runs-on: ubuntu-24.04",
      "    permissions:",
      "      contents: raed",
      "    steps:",
      `      - run: echo ${expression("github.event.head_commit.message")}`,
      "      - uses: actions/checkout@v4",
      "        with:",
      `          persist-credentials: ${expression("secret.TOKEN")}`,
    ].join("\n");
    const result = await actionlint(["-stdin-filename", ".github/workflows/broken.yml", "-"], broken);
    expect(result.exitCode).toBe(1);
    const output = String(result.all);
    expect(output).toContain('"raed" is invalid'); // a misspelt permission
    expect(output).toContain("potentially untrusted"); // an untrusted input expanded in a script
    expect(output).toContain('undefined variable "secret"'); // an expression naming an unknown context
  });
});

describe.each(workflowFiles)("%s follows the security rules", (name) => {
  const { text, workflow } = load(name);
  const jobs = Object.entries(workflow.jobs);

  it("pins every action to a full commit SHA, with its version in a comment", () => {
    const uses = text.split("\n").filter((line) => /^\s*(-\s+)?uses:/.test(line));
    expect(uses.length).toBeGreaterThan(0);
    for (const line of uses) {
      if (/uses:\s*\.\//.test(line)) continue; // an action of this repository
      expect(line).toMatch(/uses:\s*[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$/);
    }
  });

  it("never runs on pull_request_target", () => {
    expect(triggers(workflow)).not.toContain("pull_request_target");
  });

  it("grants nothing by default: top-level permissions are empty or read-only", () => {
    const permissions = workflow.permissions;
    expect(permissions, "top-level permissions must be set").toBeDefined();
    if (typeof permissions === "string") expect(permissions).toBe("read-all");
    else for (const level of Object.values(permissions as Mapping)) expect(["read", "none"]).toContain(level);
  });

  it("gives every job explicit permissions", () => {
    for (const [id, job] of jobs) expect(job.permissions, `job ${id}`).toBeDefined();
  });

  it("keeps the checkout token out of .git/config", () => {
    for (const [, job] of jobs) {
      for (const step of job.steps ?? []) {
        if (step.uses?.startsWith("actions/checkout@"))
          expect(step.with?.["persist-credentials"]).toBe(false);
      }
    }
  });

  it("uses no secrets when it runs on pull requests", () => {
    if (!triggers(workflow).some((event) => event.startsWith("pull_request"))) return;
    // The parsed workflow, so that a comment explaining the rule does not break it.
    const parsed = JSON.stringify(workflow);
    expect(parsed).not.toMatch(/secrets\./);
    expect(parsed).not.toMatch(/github\.token|GITHUB_TOKEN/);
  });

  it("runs npm scripts (and git push) only, so every step runs the same way locally", () => {
    const allowed = /^(npm ci|npm test|npm run [\w:-]+( -- [^;&|`$]*)?|git push( [\w./:-]+)*)$/;
    for (const [, job] of jobs) {
      for (const step of job.steps ?? []) {
        if (step.run === undefined) continue;
        for (const command of step.run.trim().split("&&")) expect(command.trim()).toMatch(allowed);
      }
    }
  });
});

describe("pipeline.yml", () => {
  const { workflow } = load("pipeline.yml");
  const on = workflow.on as Mapping;

  it("runs on a schedule and by hand, never on pull requests", () => {
    const schedule = on.schedule as Array<{ cron: string }>;
    expect(schedule.length).toBeGreaterThan(0);
    for (const entry of schedule) expect(entry.cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    expect(on).toHaveProperty("workflow_dispatch");
    expect(Object.keys(on).sort()).toEqual(["schedule", "workflow_dispatch"]);
  });

  it("never runs twice at once, and never cancels a run in progress", () => {
    expect(workflow.concurrency).toMatchObject({ group: expect.any(String), "cancel-in-progress": false });
  });

  it("grants contents: write to the committing job only, and Pages rights to the deploying job only", () => {
    const permissions = Object.fromEntries(
      Object.entries(workflow.jobs).map(([id, job]) => [id, job.permissions]),
    );
    expect(permissions).toEqual({
      run: { contents: "write" },
      deploy: { pages: "write", "id-token": "write" },
    });
    expect(workflow.jobs.deploy?.environment).toMatchObject({ name: "github-pages" });
    expect(workflow.jobs.deploy?.needs).toBe("run");
  });

  it("hands the NVD key to the pipeline step alone, and the push token to the push step alone", () => {
    const steps = workflow.jobs.run?.steps ?? [];
    const referencing = (pattern: RegExp) =>
      steps.filter((step) => pattern.test(JSON.stringify(step))).map((step) => step.run);
    expect(referencing(/secrets\./)).toEqual(["npm run scheduled:run"]);
    expect(steps.find((step) => step.run === "npm run scheduled:run")?.env?.NVD_API_KEY).toBe(
      expression("secrets.NVD_API_KEY"),
    );
    expect(referencing(/github\.token|GITHUB_TOKEN/)).toEqual(["npm run scheduled:push"]);
    expect(JSON.stringify(workflow.env ?? {})).not.toMatch(/secrets\.|token/i);
    for (const job of Object.values(workflow.jobs))
      expect(JSON.stringify(job.env ?? {})).not.toMatch(/secrets\./);
  });

  it("runs, commits, pushes, then builds and deploys the site, in that order", () => {
    const steps = workflow.jobs.run?.steps ?? [];
    const runs = steps.map((step) => step.run).filter(Boolean);
    expect(runs).toEqual([
      "npm ci",
      "npm run scheduled:run",
      "npm run scheduled:commit",
      "npm run scheduled:push",
      "npm run scheduled:site",
    ]);
    expect(steps.at(-1)?.uses).toMatch(/^actions\/upload-pages-artifact@/);
    expect(steps.at(-1)?.with?.path).toBe("output/site");
    expect(workflow.jobs.deploy?.steps?.map((step) => step.uses?.split("@")[0])).toEqual([
      "actions/deploy-pages",
    ]);
  });
});

describe("ci.yml", () => {
  const { workflow } = load("ci.yml");

  it("tests every push to main and every pull request with the README's command, read-only", () => {
    expect(Object.keys(workflow.on as Mapping).sort()).toEqual(["pull_request", "push"]);
    expect(workflow.permissions).toEqual({ contents: "read" });
    const steps = Object.values(workflow.jobs).flatMap((job) => job.steps ?? []);
    expect(steps.map((step) => step.run).filter(Boolean)).toEqual(["npm ci && npm test"]);
    for (const job of Object.values(workflow.jobs)) expect(job.permissions).toEqual({ contents: "read" });
  });

  it("keeps the browser tests' screenshots", () => {
    const steps = Object.values(workflow.jobs).flatMap((job) => job.steps ?? []);
    const upload = steps.find((step) => step.uses?.startsWith("actions/upload-artifact@"));
    expect(upload?.with?.path).toBe("test/artifacts/");
  });
});
