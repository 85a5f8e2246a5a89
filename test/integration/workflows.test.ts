// The GitHub Actions workflows: actionlint and zizmor (auditor persona) pass on every one of them, and the
// project's security rules hold (pinned actions and images, least privilege, no secrets where pull requests
// run, one pipeline run at a time, the job that can push runs no npm, npx, pip or project code, and every
// other step is an npm script so that it runs the same way locally).

import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../helpers/workspace.ts";
import { actionlintPath, actionlintVersion } from "../setup/actionlint.ts";
import { shellcheckPath, shellcheckVersion, zizmorPath, zizmorVersion } from "../setup/workflow-audit.ts";

const workflowsDir = join(repoRoot, ".github/workflows");
const workflowFiles = readdirSync(workflowsDir)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();

type Mapping = Record<string, unknown>;

/** A GitHub Actions expression, `${{ inner }}`. */
const expression = (inner: string) => `\${{ ${inner} }}`;
interface Step extends Mapping {
  name?: string;
  id?: string;
  shell?: string;
  uses?: string;
  run?: string;
  env?: Mapping;
  with?: Mapping;
}
interface Job extends Mapping {
  permissions?: unknown;
  needs?: string | string[];
  outputs?: Mapping;
  container?: unknown;
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
    // shellcheck is the pinned one (test/setup/workflow-audit.ts), so every machine lints alike; pyflakes is
    // left out: no workflow runs Python inline.
    ["-no-color", `-shellcheck=${shellcheckPath()}`, "-pyflakes=", ...args],
    { cwd: repoRoot, reject: false, all: true, ...(input === undefined ? {} : { input }) },
  );
}

describe(`actionlint ${actionlintVersion}, with shellcheck ${shellcheckVersion()}`, () => {
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
      "      - run: cp $SOURCE $TARGET",
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
    expect(output).toContain("SC2086"); // shellcheck: an unquoted variable split into words
  });
});

function withoutTokens(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !/^(GH|GITHUB)_TOKEN$|^ZIZMOR_/.test(name)),
  );
}

async function zizmor(dir: string) {
  // --offline: the audits that ask GitHub's API (impostor commits, known-vulnerable actions) need the network,
  // which tests never touch.
  return execa(
    zizmorPath(),
    ["--offline", "--persona", "auditor", "--no-progress", "--format", "plain", "."],
    {
      cwd: dir,
      reject: false,
      all: true,
      // No token: with one, zizmor would run its online audits.
      env: { ...withoutTokens(process.env), NO_COLOR: "1" },
      extendEnv: false,
    },
  );
}

describe(`zizmor ${zizmorVersion()}, auditor persona`, () => {
  it("finds nothing in .github/ (workflows and dependabot.yml; .github/zizmor.yml ignores nothing)", async () => {
    const result = await zizmor(repoRoot);
    const output = String(result.all);
    expect(output, output).toContain("No findings to report");
    expect(result.exitCode, output).toBe(0);
    expect(output).toContain("completed ./.github/workflows/pipeline.yml");
    expect(output).toContain("completed ./.github/dependabot.yml");
  });

  it("is not vacuous: it reports an unpinned image, a secret outside an environment and an expanded input", async () => {
    const dir = await mkdtemp(join(tmpdir(), "echo-zizmor-"));
    try {
      await mkdir(join(dir, ".github/workflows"), { recursive: true });
      const broken = [
        "on:",
        "  issues:",
        "permissions: {}",
        "jobs:",
        "  test:",
        "    runs-on: ubuntu-24.04",
        "    permissions:",
        "      contents: read # read the repository",
        "    container:",
        "      image: python:3.11-bookworm",
        "    steps:",
        `      - run: echo ${expression("github.event.issue.title")}`,
        "        env:",
        `          KEY: ${expression("secrets.KEY")}`,
      ].join("\n");
      await writeFile(join(dir, ".github/workflows/broken.yml"), `${broken}\n`);
      const result = await zizmor(dir);
      const output = String(result.all);
      expect(result.exitCode, output).not.toBe(0);
      expect(output).toContain("unpinned-images");
      expect(output).toContain("secrets-outside-env");
      expect(output).toContain("template-injection");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * What a job that can push may run: git and coreutils, and the shell's own words. Anything else (npm, npx,
 * pip, Node, Python, a project script, or a wrapper that runs one: env, eval, xargs, sudo, timeout…) fails.
 */
const allowedInWritingJobs = new Set([
  ...["git", "sha256sum", "cut", "sort", "uniq", "find", "grep", "cp", "rm", "mkdir", "dirname", "base64"],
  ...["tail", "wc", "cat", "ls", "echo", "printf", "test", "[", "[["],
  ...["set", "export", "exit", "cd", "read", "mapfile", "local", "true", "false", "return", "shift", "unset"],
  ...["for", "done", "fi", "case", "esac", "fail"],
]);
const shellKeywords = /^(if|then|do|else|elif|while|until|!|in)$/;
const quoted = "\u0001"; // stands for quoted text
const expanded = "\u0002"; // stands for a parameter expansion

/** The index just past the `close` that balances the `open` at `start`, skipping quoted text. */
function balanced(text: string, start: number, open: string, close: string): number {
  let depth = 0;
  for (let index = start; index < text.length; index += 1) {
    const char = text[index];
    if (char === "'") index = text.indexOf("'", index + 1);
    else if (char === "\\") index += 1;
    else if (char === open) depth += 1;
    else if (char === close && --depth === 0) return index + 1;
    if (index < 0) break;
  }
  return text.length;
}

/**
 * The words that run as commands in a bash script: each simple command's first word, after keywords and
 * assignments, with the commands inside $( ), backticks and double quotes included. Quoted or expanded
 * text is replaced by a marker, so `"npm" ci` and `$tool ci` show as what they are: commands that hide.
 */
function commandWords(script: string): string[] {
  const commands: string[] = [];
  let current = "";
  const end = () => {
    commands.push(current);
    current = "";
  };
  for (let index = 0; index < script.length; index += 1) {
    const char = script[index] ?? "";
    const next = script[index + 1] ?? "";
    const atWordStart = current === "" || /\s$/.test(current);
    if (char === "#" && atWordStart) {
      const lineEnd = script.indexOf("\n", index);
      index = lineEnd < 0 ? script.length : lineEnd - 1;
    } else if (char === "\\" && next === "\n") {
      index += 1;
    } else if (char === "\\") {
      current += char + next;
      index += 1;
    } else if (char === "'") {
      const close = script.indexOf("'", index + 1);
      index = close < 0 ? script.length : close;
      current += quoted;
    } else if (char === '"') {
      // The commands a double-quoted word runs ($(…) and backticks) count; its text does not.
      let cursor = index + 1;
      for (; cursor < script.length && script[cursor] !== '"'; cursor += 1) {
        if (script[cursor] === "\\") cursor += 1;
        else if (script.startsWith("$(", cursor)) {
          const close = balanced(script, cursor + 1, "(", ")");
          commands.push(...commandWords(script.slice(cursor + 2, close - 1)).map((word) => `\u0000${word}`));
          cursor = close - 1;
        } else if (script[cursor] === "`") {
          const close = script.indexOf("`", cursor + 1);
          commands.push(...commandWords(script.slice(cursor + 1, close)).map((word) => `\u0000${word}`));
          cursor = close;
        }
      }
      index = cursor;
      current += quoted;
    } else if (char === "$" && next === "(") {
      const close = balanced(script, index + 1, "(", ")");
      commands.push(...commandWords(script.slice(index + 2, close - 1)).map((word) => `\u0000${word}`));
      index = close - 1;
      current += expanded;
    } else if (char === "$" && next === "{") {
      index = balanced(script, index + 1, "{", "}") - 1;
      current += expanded;
    } else if (char === "$") {
      current += expanded;
    } else if (char === "`") {
      const close = script.indexOf("`", index + 1);
      commands.push(...commandWords(script.slice(index + 1, close)).map((word) => `\u0000${word}`));
      index = close < 0 ? script.length : close;
      current += expanded;
    } else if (
      char === "[" &&
      next === "[" &&
      (current.trim() === "" || shellKeywords.test(current.trim()))
    ) {
      // A test's patterns hold ( ) and | that are not the shell's.
      const close = script.indexOf("]]", index);
      index = close < 0 ? script.length : close + 1;
      current += "[[";
    } else if ("\n;&|(){}".includes(char)) {
      end();
    } else {
      current += char;
    }
  }
  end();
  const words: string[] = [];
  for (const command of commands) {
    if (command.startsWith("\u0000")) {
      words.push(command.slice(1));
      continue;
    }
    const parts = command.trim().split(/\s+/).filter(Boolean);
    while (
      parts.length > 0 &&
      (shellKeywords.test(parts[0] ?? "") || /^[A-Za-z_]\w*=/.test(parts[0] ?? ""))
    ) {
      parts.shift();
    }
    if (parts[0] !== undefined) words.push(parts[0]);
  }
  return words;
}

/** The commands of a `run:` script that a job holding contents: write may not run (none when it may). */
function forbiddenCommands(script: string): string[] {
  const found = new Set<string>();
  for (const word of commandWords(script)) {
    if (allowedInWritingJobs.has(word)) continue;
    found.add(
      word.includes(quoted) || word.includes(expanded) || word.includes("\\")
        ? `a command word that is quoted, escaped or expanded (${JSON.stringify(word.replaceAll(quoted, "'…'").replaceAll(expanded, "$…"))})`
        : word,
    );
  }
  return [...found];
}

function writesContents(job: Job): boolean {
  const permissions = job.permissions;
  if (permissions === "write-all") return true;
  return (
    typeof permissions === "object" && permissions !== null && (permissions as Mapping).contents === "write"
  );
}

describe("the job holding contents: write", () => {
  it("runs no npm, npx, pip or project script, and only actions pinned by SHA", () => {
    let writingJobs = 0;
    for (const name of workflowFiles) {
      const { workflow } = load(name);
      for (const [id, job] of Object.entries(workflow.jobs)) {
        if (!writesContents(job)) continue;
        writingJobs += 1;
        expect(
          job.uses,
          `${name} ${id}: a reusable workflow runs code this file does not show`,
        ).toBeUndefined();
        expect(job.container, `${name} ${id}: an image brings its own code`).toBeUndefined();
        // A default shell (node {0}, python {0}) would run every step through it; BASH_ENV and ENV make
        // bash source a file first; GIT_* and PATH would point git or the shell elsewhere.
        expect((workflow as unknown as Mapping).defaults, `${name}: defaults`).toBeUndefined();
        expect(job.defaults, `${name} ${id}: defaults`).toBeUndefined();
        const forbiddenEnv = /^(BASH_ENV|ENV|PATH|LD_\w+|GIT_\w+|NODE_OPTIONS|PYTHON\w*)$/;
        const envNames = [
          ...Object.keys(workflow.env ?? {}),
          ...Object.keys(job.env ?? {}),
          ...(job.steps ?? []).flatMap((step) => Object.keys(step.env ?? {})),
        ];
        expect(
          envNames.filter((envName) => forbiddenEnv.test(envName)),
          `${name} ${id}`,
        ).toEqual([]);
        for (const step of job.steps ?? []) {
          if (step.uses !== undefined) {
            expect(step.uses, `${name} ${id}`).toMatch(
              /^actions\/(checkout|download-artifact)@[0-9a-f]{40}$/,
            );
          }
          if (step.run !== undefined) {
            expect(forbiddenCommands(step.run), `${name} ${id}: ${step.name ?? step.run}`).toEqual([]);
            expect(step.shell ?? "bash", `${name} ${id}`).toBe("bash");
          }
        }
      }
    }
    expect(writingJobs).toBe(1);
  });

  it("is not vacuous: it names npm, npx, pip, Node, project scripts and commands that hide", () => {
    const flagged = (script: string) => forbiddenCommands(script);
    expect(flagged("npm run scheduled:push")).toEqual(["npm"]);
    expect(flagged("set -e\nnpx some-tool")).toEqual(["npx"]);
    expect(flagged("python3 -m pip install x")).toEqual(["python3"]);
    expect(flagged("pip install -r requirements.txt")).toEqual(["pip"]);
    expect(flagged("node pipeline/ops/scheduled.ts push")).toEqual(["node"]);
    expect(flagged("./tools/push.sh")).toEqual(["./tools/push.sh"]);
    expect(flagged("bash tools/publish.sh")).toEqual(["bash"]);
    expect(flagged("git add x && . ./env.sh")).toEqual(["."]);
    expect(flagged("if true; then make publish; fi")).toEqual(["make"]);
    expect(flagged('files="$(FOO=1 npm ls)"')).toEqual(["npm"]);
    // Wrappers, and words that hide the command (the reviewer's bypasses of an earlier denylist).
    expect(flagged('echo "step #1"; npm ci')).toEqual(["npm"]);
    for (const wrapper of [
      "eval npm ci",
      "env -i npm ci",
      "sudo npm ci",
      "xargs npm ci",
      "nohup node x",
      "timeout 60 npx tool",
      "exec npm ci",
      "command npm ci",
    ]) {
      expect(flagged(wrapper), wrapper).toEqual([wrapper.split(" ")[0]]);
    }
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, where ${…} is the shell's own expansion
    for (const hidden of ['"npm" ci', "\\npm ci", "n=npm; $n ci", "${tool} ci", "`echo npm` ci"]) {
      expect(flagged(hidden).join(), hidden).toMatch(/quoted, escaped or expanded/);
    }
    // Arguments, comments, quoted messages and a test's patterns are not commands.
    expect(flagged("find . -type f | cut -c67- | sort")).toEqual([]);
    expect(flagged('[[ "$path" =~ ^output(/$name)+$ ]] || fail "outside"')).toEqual([]);
    expect(flagged("# no npm here\necho 'npm is not run' && git push origin HEAD")).toEqual([]);
    expect(flagged('echo "::error::the push (npm) failed: $(git rev-parse HEAD)"')).toEqual([]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, where ${…} is the shell's own expansion
    expect(flagged('for path in "${paths[@]}"; do rm -rf -- "$path"; done')).toEqual([]);
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

  it("pins every container image by digest", () => {
    for (const [id, job] of jobs) {
      if (job.container === undefined) continue;
      const image = typeof job.container === "string" ? job.container : (job.container as Mapping).image;
      expect(String(image), `job ${id}`).toMatch(/^[\w./:-]+@sha256:[0-9a-f]{64}$/);
    }
  });

  it("runs npm scripts only in the jobs that cannot push, so every such step runs the same way locally", () => {
    const allowed = /^(npm ci( --omit=dev)?|npm test|npm run [\w:-]+( -- [^;&|`$]*)?)$/;
    for (const [, job] of jobs) {
      if (writesContents(job)) continue;
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

  it("grants contents: write to the publishing job only, and Pages rights to the deploying job only", () => {
    const permissions = Object.fromEntries(
      Object.entries(workflow.jobs).map(([id, job]) => [id, job.permissions]),
    );
    expect(permissions).toEqual({
      build: { contents: "read" },
      publish: { contents: "write" },
      deploy: { pages: "write", "id-token": "write" },
    });
    expect(workflow.jobs.publish?.needs).toBe("build");
    expect(workflow.jobs.deploy?.needs).toEqual(["build", "publish"]);
    expect(workflow.jobs.deploy?.environment).toMatchObject({ name: "github-pages" });
  });

  it("builds only on the default branch, with the NVD key from an environment limited to it", () => {
    expect(workflow.jobs.build?.if).toBe("github.ref == 'refs/heads/main'");
    expect(workflow.jobs.build?.environment).toBe("nvd-api");
  });

  it("hands the NVD key to the pipeline step alone, and the push token to the push step alone", () => {
    const steps = Object.entries(workflow.jobs).flatMap(([id, job]) =>
      (job.steps ?? []).map((step) => ({ id, step })),
    );
    const referencing = (pattern: RegExp) =>
      steps
        .filter(({ step }) => pattern.test(JSON.stringify(step)))
        .map(({ id, step }) => `${id}: ${step.name ?? step.run}`);
    expect(referencing(/secrets\./)).toEqual(["build: Run the pipeline"]);
    const run = steps.find(({ step }) => step.name === "Run the pipeline")?.step;
    expect(run?.run).toBe("npm run scheduled:run");
    expect(run?.env?.NVD_API_KEY).toBe(expression("secrets.NVD_API_KEY"));
    expect(referencing(/github\.token|GITHUB_TOKEN/)).toEqual(["publish: Push the commit"]);
    expect(JSON.stringify(workflow.env ?? {})).not.toMatch(/secrets\.|token/i);
    for (const job of Object.values(workflow.jobs))
      expect(JSON.stringify(job.env ?? {})).not.toMatch(/secrets\./);
  });

  it("build: Node from setup-node (.nvmrc) and production packages only, then runs, stages and builds the site", () => {
    const steps = workflow.jobs.build?.steps ?? [];
    const setupNode = steps.find((step) => step.uses?.startsWith("actions/setup-node@"));
    expect(setupNode?.with?.["node-version-file"]).toBe(".nvmrc");
    // --omit=dev leaves out the `node` npm package, whose install script fetches a Node binary the lockfile
    // does not pin: in CI every npm script runs on setup-node's Node.
    expect(steps.map((step) => step.run).filter(Boolean)).toEqual([
      "npm ci --omit=dev",
      "npm run scheduled:run",
      "npm run scheduled:stage",
      "npm run scheduled:site",
    ]);
    const uploads = steps.filter((step) => step.uses?.startsWith("actions/upload-"));
    expect(
      uploads.map((step) => [step.uses?.split("@")[0], step.with?.name ?? null, step.with?.path]),
    ).toEqual([
      ["actions/upload-artifact", "publication", `${expression("runner.temp")}/publication`],
      ["actions/upload-pages-artifact", null, "output/site"],
    ]);
    const stage = steps.find((step) => step.run === "npm run scheduled:stage");
    expect(stage?.env?.ECHO_PUBLICATION_DIR).toBe(`${expression("runner.temp")}/publication`);
    expect(workflow.jobs.build?.outputs?.manifest_sha256).toBe(
      expression(`steps.${stage?.id}.outputs.manifest_sha256`),
    );
    // The state cache is saved by actions/cache after the job succeeds, as before the split.
    expect(steps.find((step) => step.uses?.startsWith("actions/cache@"))?.with?.path).toBe(".state/live");
  });

  it("publish: checks out the build's commit, downloads the publication, checks it against the build's digest, commits and pushes", () => {
    const steps = workflow.jobs.publish?.steps ?? [];
    expect(steps.map((step) => step.uses?.split("@")[0] ?? step.name)).toEqual([
      "actions/checkout",
      "actions/download-artifact",
      "Check the publication against the build job's manifest",
      "Commit the published files",
      "Push the commit",
    ]);
    expect(steps[0]?.with).toMatchObject({ ref: expression("github.sha"), "persist-credentials": false });
    expect(steps[1]?.with).toMatchObject({ name: "publication" });
    expect(steps[2]?.env?.MANIFEST_SHA256).toBe(expression("needs.build.outputs.manifest_sha256"));
    expect(steps[2]?.run).toContain("sha256sum --check --strict");
    // No expression is expanded inside a script: values reach the shell through env.
    for (const step of steps) expect(step.run ?? "").not.toContain("${{");
  });

  it("deploy: deploys the Pages artifact and nothing else", () => {
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
