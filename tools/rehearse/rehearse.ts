// `npm run rehearse`: a local rehearsal of the scheduled workflow (.github/workflows/pipeline.yml) and its
// split into jobs. In a temporary git repository with a bare "origin", each run is:
//   - the build job on a fresh clone (no database, no output but what is committed): scheduled:run and
//     scheduled:stage, the same code the npm scripts run, on the bundled sample in file and mock mode with
//     pinned clocks; its publication folder is then "uploaded" (copied to an artifact store);
//   - the publish job on another fresh checkout of the build's commit, with no node_modules and no project
//     code run: the artifact is "downloaded" and the `run:` steps of the workflow's publish job, read from
//     pipeline.yml, run in bash as GitHub runs them (checksum check, commit, push).
// The site and the Pages deployment are left out (npm test builds the site; deploy-pages needs GitHub).
//
//   1. the first run publishes everything and commits it;
//   2. an analyst's override lands (and, while the run works, an unrelated commit): the second run restores
//      the history the first committed, records only the change, commits it, and rebases once to push;
//   3. the second run again, same clock and inputs: byte-identical files, nothing to commit;
//   4. a data.json missing half its packages: the publish guard refuses (exit 3): the build job fails, so
//      nothing is staged and the publish job never runs;
//   5. the publish job on tampered artifacts: a file changed after the build, SHA256SUMS rewritten to match
//      it (the checksum checks fail), and two publications a compromised build made, with a manifest and
//      digest of its own, to write outside output/: a path under .github/, and a last line of paths.txt
//      without a line end (the path checks fail): nothing is pushed;
//   6. a sound publication while the branch's history is rewritten (force-pushed): the push refuses to
//      replay the old history onto the new one.
//
// It prints each commit (files and message) and the checks, and exits non-zero when a check fails.
// test/integration/rehearsal.test.ts runs it. Options: --keep (leave the temporary directory).
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { parse as parseYaml } from "yaml";
import type { AdvisoryDocument } from "../../pipeline/formats/advisory-current.ts";
import { parseLedgerText } from "../../pipeline/formats/ledger.ts";
import type { LedgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import { errorMessage } from "../../pipeline/lib/errors.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const scheduledScript = join(repoRoot, "pipeline/ops/scheduled.ts");
const workflowPath = join(repoRoot, ".github/workflows/pipeline.yml");
const sampleDir = join(repoRoot, "test/fixtures/sample");

const configName = "config.rehearsal.yaml";
const branch = "main";

/** The clocks of the rehearsal's runs (the run ids follow from them). */
export const clocks = {
  first: "2026-11-01T06:00:00Z",
  second: "2026-11-02T06:00:00Z",
  refused: "2026-11-03T06:00:00Z",
};

export const runIdOf = (clock: string) => clock.replaceAll("-", "").replaceAll(":", "");

export interface StepResult {
  exitCode: number;
  output: string;
}

export interface CommitInfo {
  sha: string;
  subject: string;
  body: string;
  files: string[];
  /** The subject of the commit it sits on. */
  parentSubject: string;
}

export interface PublishStep extends StepResult {
  name: string;
}

export interface RehearsalRun {
  name: string;
  asOf: string;
  /** Whether the clone had no database when the run started (a fresh CI machine). */
  startedWithoutState: boolean;
  /** The build job's steps. */
  run: StepResult;
  stage: StepResult;
  /** The publish job's `run:` steps as run, in order; empty when the build job failed. */
  publish: PublishStep[];
  /** The artifact the build job uploaded and the digest of its manifest, when it staged one. */
  artifact?: string;
  manifestSha256?: string;
  /** The publish job's commit and push steps (exit code -1 and no output when they did not run). */
  commit: StepResult;
  push: StepResult;
  /** The commit this run added to origin, if any. */
  published: CommitInfo | null;
  /** The history files in the clone after the run. */
  ledgerFiles: string[];
  runSummaryFiles: string[];
  /** run_summary.json after the run. */
  summary: RunSummaryJson | undefined;
  stepSummary: string;
}

export interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

export interface TamperedPublication {
  name: string;
  steps: PublishStep[];
  /** Whether origin's branch moved. */
  pushed: boolean;
}

export interface RehearsalResult {
  dir: string;
  runs: RehearsalRun[];
  tampered: TamperedPublication[];
  /** The publish job when the branch was force-pushed between its checkout and its push. */
  rewrite: TamperedPublication;
  /** The advisory the analyst marks not applicable between the first and second run. */
  overriddenAdvisory: string;
  /** The second run's transitions file, parsed. */
  secondRunTransitions: Array<Record<string, unknown>>;
  /** Advisories whose decision (state, rule, versions, sources, dates decided) differs between the first and
   *  second published advisory_current.json. */
  changedDecisions: string[];
  /** advisory_current.json lines that differ at all between the two (explanations and evidence included). */
  rewrittenAdvisoryLines: number;
  /** origin's history, newest first: "<sha> <subject>". */
  originLog: string[];
  checks: Check[];
}

export interface RehearsalOptions {
  /** Leave the temporary directory for inspection. */
  keep?: boolean;
  /** Progress lines; stderr by default. */
  log?: (line: string) => void;
}

const identity = ["-c", "user.name=Rehearsal", "-c", "user.email=rehearsal@example.invalid"];

/** The environment of a step: this machine's, without anything that would point git or GitHub elsewhere. */
function stepEnvironment(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(GITHUB_|GIT_|RUNNER_|ACTIONS_)/.test(name) || name === "NVD_API_KEY" || name === "CI") continue;
    if (name === "SOURCE_DATE_EPOCH" || name.startsWith("ECHO_")) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

async function git(cwd: string, args: string[]): Promise<string> {
  const result = await execa("git", args, {
    cwd,
    reject: false,
    stdin: "ignore",
    env: stepEnvironment({}),
    extendEnv: false,
  });
  if (result.exitCode !== 0) {
    throw new Error(`git ${args.join(" ")} failed in ${cwd}: ${String(result.stderr || result.message)}`);
  }
  return String(result.stdout);
}

function configText(): string {
  return [
    "# The rehearsal's configuration: the bundled sample, upstream sources in mock mode, state and output",
    "# inside this repository like config.live.yaml. Written by tools/rehearse/rehearse.ts.",
    "database: .state/rehearsal.duckdb",
    "output_dir: output",
    "dbt:",
    `  project_dir: ${JSON.stringify(join(repoRoot, "dbt_project"))}`,
    `  executable: ${JSON.stringify(join(repoRoot, "dbt_project/.venv/bin/dbt"))}`,
    "sources:",
    "  echo_data:",
    "    location: inputs/data.json",
    "  echo_csv:",
    "    location: overrides/advisory_not_applicable.csv",
    "  debian_tracker:",
    "    enabled: true",
    "    mode: mock",
    "  osv:",
    "    enabled: true",
    "    mode: mock",
    "  nvd:",
    "    enabled: true",
    "    mode: mock",
    "  kev:",
    "    enabled: true",
    "    mode: mock",
    "http:",
    "  cache_dir: .state/http-cache",
    "",
  ].join("\n");
}

export async function rehearse(options: RehearsalOptions = {}): Promise<RehearsalResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = await mkdtemp(join(tmpdir(), "echo-rehearsal-"));
  const origin = join(dir, "origin.git");
  const stepSummaryFile = join(dir, "step-summary.md");
  try {
    // The repository as the project would hold it: config, inputs, overrides and the real .gitignore.
    await git(dir, ["init", "--quiet", "--bare", "--initial-branch", branch, origin]);
    const seed = join(dir, "seed");
    await git(dir, ["clone", "--quiet", origin, seed]);
    await mkdir(join(seed, "inputs"), { recursive: true });
    await mkdir(join(seed, "overrides"), { recursive: true });
    await writeFile(join(seed, configName), configText());
    await copyFile(join(sampleDir, "data.json"), join(seed, "inputs/data.json"));
    await copyFile(
      join(sampleDir, "advisory_not_applicable.csv"),
      join(seed, "overrides/advisory_not_applicable.csv"),
    );
    await copyFile(join(repoRoot, ".gitignore"), join(seed, ".gitignore"));
    await commitAll(seed, "Rehearsal repository: sample inputs and config");

    const runs: RehearsalRun[] = [];
    const scheduledRun = async (name: string, asOf: string, whilePushing?: () => Promise<void>) => {
      const run = await runScheduledJob(dir, origin, name, asOf, stepSummaryFile, whilePushing);
      runs.push(run);
      log(describeRun(run));
      return run;
    };

    // 1. The first run on the sample.
    const first = await scheduledRun("first run", clocks.first);

    // 2. An analyst's pull request marks one advisory not applicable; while the run works, an unrelated
    //    commit lands too, so the push is rejected once and rebased.
    const firstDocument = await readPublished<AdvisoryDocument>(origin, "output/advisory_current.json");
    const target = firstDocument.advisories.find(
      (advisory) => advisory.state === "under_investigation" && advisory.cve_id.startsWith("CVE-"),
    );
    if (!target) throw new Error("the sample has no advisory under investigation to override");
    await changeOrigin(
      dir,
      origin,
      "Mark an advisory not applicable (an analyst's pull request)",
      async (work) => {
        const path = join(work, "overrides/advisory_not_applicable.csv");
        const csv = await readFile(path, "utf8");
        await writeFile(
          path,
          `${csv}${target.cve_id},${target.package_name},not_applicable,,code_not_in_use\n`,
        );
      },
    );
    const second = await scheduledRun("second run (an override added)", clocks.second, () =>
      changeOrigin(dir, origin, "Document the overrides (merged while the run worked)", async (work) => {
        await writeFile(join(work, "overrides/README.md"), "Analysts change the CSV by pull request.\n");
      }),
    );
    const secondRunTransitions = await readTransitions(origin, runIdOf(clocks.second));
    const secondDocument = await readPublished<AdvisoryDocument>(origin, "output/advisory_current.json");

    // 3. The same run again on another fresh machine: same clock, same inputs.
    const third = await scheduledRun("second run again (nothing changed)", clocks.second);

    // 4. data.json loses half its packages: the publish guard refuses.
    await changeOrigin(dir, origin, "A data.json missing half its packages", async (work) => {
      const path = join(work, "inputs/data.json");
      const feed = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
      const names = Object.keys(feed);
      const kept = Object.fromEntries(
        names.slice(0, Math.floor(names.length / 2)).map((name) => [name, feed[name]]),
      );
      await writeFile(path, `${JSON.stringify(kept, null, 2)}\n`);
    });
    const refused = await scheduledRun("refused run (half of data.json gone)", clocks.refused);

    const originLog = (await git(origin, ["log", "--format=%H %s", branch])).trim().split("\n");

    // 5. The publish job on artifacts it must refuse, made from the second run's.
    if (!second.artifact || !second.manifestSha256) throw new Error("the second run staged no publication");
    const good = second.artifact;
    const goodDigest = second.manifestSha256;
    const appendTo = (path: string) => async (publication: string) => {
      await writeFile(join(publication, path), `${await readFile(join(publication, path), "utf8")} `);
    };
    const tampered: TamperedPublication[] = [];
    for (const [name, edit, recompute] of [
      ["a published file changed after the build", appendTo("files/output/data.json"), "none"],
      ["SHA256SUMS rewritten to match a changed file", appendTo("files/output/data.json"), "manifest"],
      [
        "a compromised build's publication writing outside output/, with its own manifest and digest",
        async (publication: string) => {
          await mkdir(join(publication, "files/.github/workflows"), { recursive: true });
          await writeFile(join(publication, "files/.github/workflows/ci.yml"), "on: push\n");
          await writeFile(
            join(publication, "paths.txt"),
            `${await readFile(join(publication, "paths.txt"), "utf8")}.github/workflows/ci.yml\n`,
          );
        },
        "manifest and digest",
      ],
      [
        "a compromised build's paths.txt whose last line, without a line end, names pipeline",
        async (publication: string) => {
          const paths = await readFile(join(publication, "paths.txt"), "utf8");
          await writeFile(join(publication, "paths.txt"), `${paths}pipeline`);
        },
        "manifest and digest",
      ],
    ] as const) {
      const outcome = await runTamperedPublish(dir, origin, name, good, goodDigest, edit, recompute);
      tampered.push(outcome);
      log(
        `\n== publish job on ${name}: ${outcome.steps.map((entry) => `${entry.name} exit ${entry.exitCode}`).join(", ")}; ${outcome.pushed ? "PUSHED" : "nothing pushed"}`,
      );
    }

    // 6. A sound publication, but the branch's history is rewritten (force-pushed) while the run works: the
    //    push must not replay the old history onto the new one.
    let rewrittenHead = "";
    const rewrite = await runTamperedPublish(
      dir,
      origin,
      "the branch's history rewritten while the run worked",
      good,
      goodDigest,
      appendTo("files/output/data.json"),
      "manifest and digest",
      async (stepName) => {
        if (stepName !== "Push the commit") return;
        const work = join(dir, "rewrite");
        await git(dir, ["clone", "--quiet", origin, work]);
        await git(work, [
          ...identity,
          "commit",
          "--quiet",
          "--amend",
          "--no-edit",
          "--allow-empty",
          "--date=now",
        ]);
        await git(work, ["push", "--quiet", "--force", "origin", `HEAD:refs/heads/${branch}`]);
        rewrittenHead = (await git(work, ["rev-parse", "HEAD"])).trim();
      },
    );
    const rewriteKept = (await git(origin, ["rev-parse", branch])).trim() === rewrittenHead;
    log(
      `\n== publish job with ${rewrite.name}: ${rewrite.steps.map((entry) => `${entry.name} exit ${entry.exitCode}`).join(", ")}; ${rewriteKept ? "the rewritten branch stands, nothing pushed" : "PUSHED"}`,
    );

    const firstText = await showFile(origin, first.published?.sha, "output/advisory_current.json");
    const secondText = await showFile(origin, second.published?.sha, "output/advisory_current.json");
    const result: RehearsalResult = {
      dir,
      runs,
      tampered,
      rewrite: { ...rewrite, pushed: !rewriteKept },
      overriddenAdvisory: target.advisory_id,
      secondRunTransitions,
      changedDecisions: changedDecisions(firstDocument, secondDocument),
      rewrittenAdvisoryLines:
        diffLines(firstText, secondText).filter((line) => line.includes('"advisory_id"')).length / 2,
      originLog,
      checks: [],
    };
    log(
      `\nNOTE: the second run rewrote ${result.rewrittenAdvisoryLines} of ${secondDocument.advisories.length} advisory lines of advisory_current.json (explanations and evidence dates), ${result.changedDecisions.length} with a changed decision.`,
    );
    result.checks = evaluate(result, { first, second, third, refused }, secondDocument);
    for (const check of result.checks)
      log(`${check.passed ? "PASS" : "FAIL"}  ${check.name}${check.passed ? "" : `: ${check.detail}`}`);
    return result;
  } finally {
    if (!options.keep) await rm(dir, { recursive: true, force: true });
    else log(`The rehearsal's repositories are in ${dir}`);
  }
}

async function commitAll(work: string, message: string): Promise<void> {
  await git(work, ["add", "--all"]);
  await git(work, [...identity, "commit", "--quiet", "--no-verify", "-m", message]);
  await git(work, ["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`]);
}

let changeCount = 0;
/** A commit that lands on origin from elsewhere (a merged pull request). */
async function changeOrigin(
  dir: string,
  origin: string,
  message: string,
  edit: (work: string) => Promise<void>,
) {
  changeCount += 1;
  const work = join(dir, `change-${changeCount}`);
  await git(dir, ["clone", "--quiet", origin, work]);
  await edit(work);
  await commitAll(work, message);
}

async function step(
  clone: string,
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<StepResult> {
  const result = await execa(process.execPath, [scheduledScript, name, ...args], {
    cwd: clone,
    env: stepEnvironment(env),
    extendEnv: false,
    all: true,
    reject: false,
    stdin: "ignore",
  });
  return { exitCode: result.exitCode ?? -1, output: String(result.all ?? "") };
}

interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  shell?: string;
}

/** The publish job's steps, read from the workflow the scheduled run uses. */
async function publishJobSteps(): Promise<WorkflowStep[]> {
  const workflow = parseYaml(await readFile(workflowPath, "utf8")) as {
    jobs?: { publish?: { steps?: WorkflowStep[] } };
  };
  const steps = workflow.jobs?.publish?.steps;
  if (!steps?.length) throw new Error(`${workflowPath} has no publish job with steps`);
  return steps;
}

/** What the rehearsal's runner knows of GitHub's contexts; any other expression is an error. */
function expand(value: string, contexts: Record<string, string>): string {
  return value.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_whole, expression: string) => {
    const known = contexts[expression];
    if (known === undefined)
      throw new Error(`the rehearsal cannot evaluate \${{ ${expression} }} in ${workflowPath}`);
    return known;
  });
}

/** A fake token: it must reach only the push step, and the rehearsal's origin is a local path anyway. */
const rehearsalToken = "rehearsal-token-0000";

/**
 * The publish job as GitHub runs it: a checkout of `sha` (fetched at depth 1, detached, like actions/checkout
 * with ref: github.sha), the artifact downloaded to the runner's temporary folder, then each `run:` step in
 * `bash --noprofile --norc -eo pipefail` with the step's env, stopping at the first failure.
 */
async function runPublishJob(
  dir: string,
  origin: string,
  sha: string,
  artifact: string,
  manifestSha256: string,
  beforeStep?: (name: string) => Promise<void>,
): Promise<PublishStep[]> {
  const workspace = join(dir, "publish-work");
  const runnerTemp = join(dir, "publish-runner-temp");
  await rm(workspace, { recursive: true, force: true });
  await rm(runnerTemp, { recursive: true, force: true });
  await mkdir(workspace, { recursive: true });
  await git(workspace, ["init", "--quiet"]);
  await git(workspace, ["remote", "add", "origin", `file://${origin}`]);
  await git(workspace, ["fetch", "--quiet", "--depth", "1", "origin", sha]);
  await git(workspace, ["checkout", "--quiet", "--detach", "FETCH_HEAD"]);
  await cp(artifact, join(runnerTemp, "publication"), { recursive: true });
  const contexts: Record<string, string> = {
    "runner.temp": runnerTemp,
    "needs.build.outputs.manifest_sha256": manifestSha256,
    "github.token": rehearsalToken,
    "github.ref_name": branch,
    "github.sha": sha,
  };
  const done: PublishStep[] = [];
  for (const step of await publishJobSteps()) {
    if (step.run === undefined) continue; // checkout and download-artifact, done above
    const name = step.name ?? step.run.split("\n")[0] ?? "";
    await beforeStep?.(name);
    if ((step.shell ?? "bash") !== "bash") throw new Error(`publish step ${name}: only bash is rehearsed`);
    const env = Object.fromEntries(
      Object.entries(step.env ?? {}).map(([key, value]) => [key, expand(String(value), contexts)]),
    );
    const script = join(runnerTemp, "step.sh");
    await writeFile(script, step.run);
    const result = await execa(
      join(await publishToolsPath(dir), "bash"),
      ["--noprofile", "--norc", "-eo", "pipefail", script],
      {
        cwd: workspace,
        env: stepEnvironment({
          ...env,
          // No node, npm, npx, pip or python reachable: the job must not need them.
          PATH: await publishToolsPath(dir),
          GITHUB_ACTIONS: "true",
          GITHUB_SHA: sha,
          GITHUB_WORKSPACE: workspace,
          GITHUB_SERVER_URL: "https://github.com",
          RUNNER_TEMP: runnerTemp,
        }),
        extendEnv: false,
        all: true,
        reject: false,
        stdin: "ignore",
      },
    );
    done.push({ name, exitCode: result.exitCode ?? -1, output: String(result.all ?? "") });
    if (result.exitCode !== 0) break;
  }
  return done;
}

const notRun: StepResult = { exitCode: -1, output: "" };

/** What the publish job's steps may call: git and coreutils, nothing that could run project code. */
const publishTools = [
  "tail",
  "bash",
  "git",
  "sha256sum",
  "cut",
  "sort",
  "uniq",
  "find",
  "grep",
  "wc",
  "base64",
  "cat",
  "rm",
  "cp",
  "mkdir",
  "dirname",
  "ls",
];

/** A folder holding links to the publish tools alone: the publish steps run with it as their whole PATH. */
async function publishToolsPath(dir: string): Promise<string> {
  const bin = join(dir, "publish-tools");
  if (existsSync(bin)) return bin;
  await mkdir(bin, { recursive: true });
  for (const tool of publishTools) {
    const found = await execa("bash", ["-c", `command -v ${tool}`], { reject: false });
    const path = String(found.stdout).trim();
    if (found.exitCode !== 0 || !path.startsWith("/")) throw new Error(`the rehearsal needs ${tool} on PATH`);
    await symlink(path, join(bin, tool));
  }
  return bin;
}

/** The scheduled workflow's build and publish jobs, each on a fresh machine, as GitHub runs them. */
async function runScheduledJob(
  dir: string,
  origin: string,
  name: string,
  asOf: string,
  stepSummaryFile: string,
  whilePushing?: () => Promise<void>,
): Promise<RehearsalRun> {
  // actions/checkout on a new machine: the same path every time, holding the branch as it is now and
  // nothing else (no database, no output that was not committed).
  const clone = join(dir, "work");
  await rm(clone, { recursive: true, force: true });
  await git(dir, ["clone", "--quiet", "--depth", "1", "--branch", branch, `file://${origin}`, clone]);
  const startedWithoutState = !existsSync(join(clone, ".state"));
  const before = (await git(origin, ["rev-parse", branch])).trim();
  const builtFrom = (await git(clone, ["rev-parse", "HEAD"])).trim();
  await writeFile(stepSummaryFile, "");
  const buildTemp = join(dir, "build-runner-temp");
  await rm(buildTemp, { recursive: true, force: true });
  await mkdir(buildTemp, { recursive: true });
  const githubOutput = join(buildTemp, "github-output");
  await writeFile(githubOutput, "");
  const env = {
    ECHO_CONFIG: configName,
    GITHUB_STEP_SUMMARY: stepSummaryFile,
    ECHO_PUBLICATION_DIR: join(buildTemp, "publication"),
    GITHUB_OUTPUT: githubOutput,
  };
  const run = await step(clone, "run", ["--as-of", asOf], env);
  // A failed step fails the build job: nothing after it runs. The rehearsal still tries the stage step after
  // a refused run, to show it refuses on its own too; the publish job never runs.
  const stage = await step(clone, "stage", [], env);
  let publish: PublishStep[] = [];
  let artifact: string | undefined;
  let manifestSha256: string | undefined;
  if (run.exitCode === 0 && stage.exitCode === 0) {
    manifestSha256 = /^manifest_sha256=([0-9a-f]{64})$/m.exec(await readFile(githubOutput, "utf8"))?.[1];
    if (!manifestSha256)
      throw new Error(`the stage step wrote no manifest_sha256 to GITHUB_OUTPUT:\n${stage.output}`);
    // upload-artifact, then download-artifact on the publish job's machine.
    artifact = join(dir, "artifacts", runIdOf(asOf), "publication");
    await rm(artifact, { recursive: true, force: true });
    await cp(join(buildTemp, "publication"), artifact, { recursive: true });
    publish = await runPublishJob(dir, origin, builtFrom, artifact, manifestSha256, async (stepName) => {
      if (stepName === "Push the commit") await whilePushing?.();
    });
  }
  const after = (await git(origin, ["rev-parse", branch])).trim();
  let published: CommitInfo | null = null;
  if (after !== before) {
    // The run's own commit: the newest one on origin that the bot made.
    const sha = (await git(origin, ["log", "-1", "--format=%H", "--author=github-actions", branch])).trim();
    const [subject = "", ...bodyLines] = (await git(origin, ["log", "-1", "--format=%B", sha]))
      .trimEnd()
      .split("\n");
    const files = (await git(origin, ["show", "--name-only", "--format=", sha]))
      .trim()
      .split("\n")
      .filter(Boolean);
    const parentSubject = (await git(origin, ["log", "-1", "--format=%s", `${sha}~1`])).trim();
    if (sha !== before) published = { sha, subject, body: bodyLines.join("\n").trim(), files, parentSubject };
  }
  const summaryPath = join(clone, "output/run_summary.json");
  const publishStep = (stepName: string) => publish.find((entry) => entry.name === stepName) ?? notRun;
  return {
    name,
    asOf,
    startedWithoutState,
    run,
    stage,
    publish,
    ...(artifact && manifestSha256 ? { artifact, manifestSha256 } : {}),
    commit: publishStep("Commit the published files"),
    push: publishStep("Push the commit"),
    published,
    ledgerFiles: await listDir(join(clone, "output/history/transitions")),
    runSummaryFiles: await listDir(join(clone, "output/history/runs")),
    summary: existsSync(summaryPath)
      ? (JSON.parse(await readFile(summaryPath, "utf8")) as RunSummaryJson)
      : undefined,
    stepSummary: await readFile(stepSummaryFile, "utf8"),
  };
}

/**
 * The publish job on artifacts it must refuse: `edit` changes a copy of a good run's artifact; with
 * `recomputeManifest`, a compromised build wrote it, with a manifest and reported digest to match.
 */
async function runTamperedPublish(
  dir: string,
  origin: string,
  name: string,
  good: string,
  goodManifestSha256: string,
  edit: (publication: string) => Promise<void>,
  /** "none": the build's manifest stays; "manifest": SHA256SUMS is rewritten to match, the reported digest is
   *  the build's; "manifest and digest": a compromised build rewrote both. */
  recompute: "none" | "manifest" | "manifest and digest",
  beforeStep?: (name: string) => Promise<void>,
): Promise<TamperedPublication> {
  const artifact = join(dir, "artifacts", `tampered-${name.replace(/\W+/g, "-")}`, "publication");
  await rm(artifact, { recursive: true, force: true });
  await cp(good, artifact, { recursive: true });
  await edit(artifact);
  let manifestSha256 = goodManifestSha256;
  if (recompute !== "none") {
    const files = await listFiles(artifact);
    const lines: string[] = [];
    for (const file of files.filter((entry) => entry !== "SHA256SUMS")) {
      lines.push(
        `${createHash("sha256")
          .update(await readFile(join(artifact, file)))
          .digest("hex")}  ${file}\n`,
      );
    }
    await writeFile(join(artifact, "SHA256SUMS"), lines.join(""));
    if (recompute === "manifest and digest") {
      manifestSha256 = createHash("sha256").update(lines.join("")).digest("hex");
    }
  }
  const before = (await git(origin, ["rev-parse", branch])).trim();
  const steps = await runPublishJob(dir, origin, before, artifact, manifestSha256, beforeStep);
  const after = (await git(origin, ["rev-parse", branch])).trim();
  return { name, steps, pushed: after !== before };
}

async function listFiles(root: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await listFiles(root, path)));
    else found.push(path);
  }
  return found.sort();
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

async function showFile(origin: string, sha: string | undefined, path: string): Promise<string> {
  return sha ? git(origin, ["show", `${sha}:${path}`]) : "";
}

async function readPublished<T>(origin: string, path: string): Promise<T> {
  return JSON.parse(await git(origin, ["show", `${branch}:${path}`])) as T;
}

/** The run's ledger file as committed, read (and checked) as the pipeline reads it; none when it has none. */
async function readTransitions(origin: string, runId: string): Promise<LedgerTransition[]> {
  const path = `output/history/transitions/${runId}.jsonl`;
  const text = await git(origin, ["show", `${branch}:${path}`]).catch(() => "");
  // git() returns the output without its final line end, which the ledger file has.
  return text === "" ? [] : parseLedgerText(`${text}\n`, path, runId);
}

/** Lines of `after` that `before` does not have, and the reverse, prefixed + and -. */
function diffLines(before: string, after: string): string[] {
  const a = new Set(before.split("\n"));
  const b = new Set(after.split("\n"));
  return [
    ...before
      .split("\n")
      .filter((line) => !b.has(line))
      .map((line) => `- ${line}`),
    ...after
      .split("\n")
      .filter((line) => !a.has(line))
      .map((line) => `+ ${line}`),
  ];
}

/** The fields that make an advisory's decision; explanations and evidence dates are left out. */
function decisionOf(advisory: AdvisoryDocument["advisories"][number]): string {
  const { state, rule_id, reason_code, fixed_version, confidence, decided_at, first_seen } = advisory;
  return JSON.stringify([
    state,
    rule_id,
    reason_code,
    fixed_version,
    confidence,
    decided_at,
    first_seen,
    advisory.contributing_sources,
    advisory.dissenting_sources,
  ]);
}

function changedDecisions(before: AdvisoryDocument, after: AdvisoryDocument): string[] {
  const earlier = new Map(before.advisories.map((advisory) => [advisory.advisory_id, decisionOf(advisory)]));
  const ids = new Set([...earlier.keys(), ...after.advisories.map((advisory) => advisory.advisory_id)]);
  const later = new Map(after.advisories.map((advisory) => [advisory.advisory_id, decisionOf(advisory)]));
  return [...ids].filter((id) => earlier.get(id) !== later.get(id)).sort();
}

function publishedFiles(runId: string, withLedger: boolean): string[] {
  return [
    "output/advisory_current.json",
    "output/changes.atom",
    `output/changes/${runId}.json`,
    "output/cve_facts.json",
    "output/data.json",
    ...(withLedger ? [`output/history/transitions/${runId}.jsonl`] : []),
    `output/history/runs/${runId}.json`,
    "output/openvex.json",
    `output/run_report_${runId}.md`,
    "output/run_summary.json",
  ].sort();
}

function evaluate(
  result: RehearsalResult,
  runs: { first: RehearsalRun; second: RehearsalRun; third: RehearsalRun; refused: RehearsalRun },
  secondDocument: AdvisoryDocument,
): Check[] {
  const checks: Check[] = [];
  const check = (name: string, passed: boolean, detail: string) => checks.push({ name, passed, detail });
  const { first, second, third, refused } = runs;
  const firstId = runIdOf(clocks.first);
  const secondId = runIdOf(clocks.second);
  const subjectPattern = (runId: string, changes: string) =>
    new RegExp(`^Advisory run ${runId}: [\\d,]+ advisories \\([^)]+\\); ${changes}$`);

  for (const run of result.runs) {
    check(
      `${run.name}: started on a fresh clone without a database`,
      run.startedWithoutState,
      "the clone had .state",
    );
  }

  check("first run: the pipeline exits 0", first.run.exitCode === 0, first.run.output.slice(-2000));
  check(
    "first run: the commit holds exactly the published files",
    JSON.stringify(first.published?.files ?? []) === JSON.stringify(publishedFiles(firstId, true)),
    `committed ${JSON.stringify(first.published?.files)}`,
  );
  const firstCount = first.summary ? first.summary.advisory_count.toLocaleString("en-US") : "?";
  check(
    "first run: the message names the run, its counts and every advisory as a decision change",
    subjectPattern(firstId, `${firstCount} decision changes`).test(first.published?.subject ?? ""),
    `subject ${JSON.stringify(first.published?.subject)}`,
  );

  check("second run: the pipeline exits 0", second.run.exitCode === 0, second.run.output.slice(-2000));
  check(
    "second run: the commit holds exactly the published files, its ledger file included",
    JSON.stringify(second.published?.files ?? []) === JSON.stringify(publishedFiles(secondId, true)),
    `committed ${JSON.stringify(second.published?.files)}`,
  );
  check(
    "second run: the message names the run and one decision change",
    subjectPattern(secondId, "1 decision change").test(second.published?.subject ?? ""),
    `subject ${JSON.stringify(second.published?.subject)}`,
  );
  check(
    "second run: restored the first run's history (both ledger files, both run summaries)",
    JSON.stringify(second.ledgerFiles) === JSON.stringify([`${firstId}.jsonl`, `${secondId}.jsonl`]) &&
      JSON.stringify(second.runSummaryFiles) === JSON.stringify([`${firstId}.json`, `${secondId}.json`]),
    `ledger ${JSON.stringify(second.ledgerFiles)}, summaries ${JSON.stringify(second.runSummaryFiles)}`,
  );
  const [transition] = result.secondRunTransitions;
  check(
    "second run: its transitions hold only the overridden advisory, moved to not_applicable by the override",
    result.secondRunTransitions.length === 1 &&
      transition?.advisory_id === result.overriddenAdvisory &&
      transition?.from_state === "under_investigation" &&
      transition?.to_state === "not_applicable" &&
      transition?.rule_id === "analyst_override",
    JSON.stringify(result.secondRunTransitions),
  );
  const overridden = secondDocument.advisories.find(
    (advisory) => advisory.advisory_id === result.overriddenAdvisory,
  );
  check(
    "second run: on a fresh machine, no advisory's decision changed but the overridden one's",
    overridden?.state === "not_applicable" &&
      JSON.stringify(result.changedDecisions) === JSON.stringify([result.overriddenAdvisory]),
    `changed decisions: ${JSON.stringify(result.changedDecisions.slice(0, 20))}`,
  );
  check(
    "second run: the push was rejected once (the branch moved), rebased onto it and pushed",
    second.push.exitCode === 0 &&
      /rejected/.test(second.push.output) &&
      second.published?.parentSubject.includes("merged while the run worked") === true,
    `${second.push.output}\nparent: ${second.published?.parentSubject}`,
  );
  check(
    "first and second runs: the step summary names the run and says it was published",
    first.stepSummary.includes(`Advisory run ${firstId}: published`) &&
      second.stepSummary.includes(`Advisory run ${secondId}: published`),
    `${first.stepSummary}\n${second.stepSummary}`,
  );

  check("same run again: the pipeline exits 0", third.run.exitCode === 0, third.run.output.slice(-2000));
  check(
    "same run again: byte-identical files, so no commit and nothing pushed",
    third.published === null &&
      /Nothing to commit/.test(third.commit.output) &&
      /Nothing to push/.test(third.push.output),
    `${third.commit.output}\n${third.push.output}`,
  );

  check(
    "refused run: the pipeline exits 3 (the publish guard refused)",
    refused.run.exitCode === 3,
    `exit ${refused.run.exitCode}: ${refused.run.output.slice(-2000)}`,
  );
  check(
    "refused run: the build job fails, the stage step refuses on its own, and the publish job never runs",
    refused.published === null &&
      refused.stage.exitCode !== 0 &&
      /refused by the publish guard.*nothing to publish/.test(refused.stage.output) &&
      refused.publish.length === 0,
    `stage exit ${refused.stage.exitCode}: ${refused.stage.output}; publish steps ${refused.publish.length}`,
  );
  check(
    "refused run: the step summary says it was not published and why",
    /NOT published \(exit 3\)/.test(refused.stepSummary) && /^- /m.test(refused.stepSummary),
    refused.stepSummary,
  );
  for (const run of [first, second, third]) {
    const verify = run.publish.find((entry) => entry.name.startsWith("Check the publication"));
    check(
      `${run.name}: the publish job checked the artifact against the build's manifest digest`,
      verify?.exitCode === 0 &&
        run.manifestSha256 !== undefined &&
        verify.output.includes(`matches the build job's manifest (${run.manifestSha256})`),
      verify?.output ?? "the check step did not run",
    );
  }
  for (const outcome of result.tampered) {
    const [verify, ...after] = outcome.steps;
    check(
      `tampered artifact (${outcome.name}): the publish job's check fails, nothing is committed or pushed`,
      verify?.exitCode === 1 && after.length === 0 && !outcome.pushed,
      JSON.stringify(outcome.steps.map((entry) => [entry.name, entry.exitCode, entry.output.slice(-400)])),
    );
  }
  const expectedRefusals = [
    /a file of the publication does not match SHA256SUMS/,
    /SHA256SUMS is not the manifest the build job wrote/,
    /paths\.txt names \.github\/workflows\/ci\.yml, outside output\/|the publication holds files\/\.github/,
    /paths\.txt does not end with a line end/,
  ];
  const rewrite = result.rewrite;
  check(
    "history rewritten during the run: the publish job checks and commits, then refuses to push onto the rewritten branch",
    rewrite.steps.map((entry) => entry.exitCode).join(",") === "0,0,1" &&
      /no longer holds .* \(its history was rewritten\)/.test(rewrite.steps[2]?.output ?? "") &&
      !rewrite.pushed,
    JSON.stringify(rewrite.steps.map((entry) => [entry.name, entry.exitCode, entry.output.slice(-400)])),
  );
  check(
    "tampered artifacts: each is refused for its own reason",
    result.tampered.length === expectedRefusals.length &&
      result.tampered.every((outcome, index) =>
        expectedRefusals[index]?.test(outcome.steps[0]?.output ?? ""),
      ),
    JSON.stringify(result.tampered.map((outcome) => outcome.steps[0]?.output)),
  );
  const published = result.runs.flatMap((run) => run.published?.files ?? []);
  check(
    "every commit touches output/ only",
    published.every((file) => file.startsWith("output/")),
    JSON.stringify(published),
  );
  return checks;
}

function describeRun(run: RehearsalRun): string {
  const lines = [
    `\n== ${run.name} (--as-of ${run.asOf})`,
    `   build job: scheduled:run exit ${run.run.exitCode}, scheduled:stage exit ${run.stage.exitCode}${run.manifestSha256 ? ` (manifest ${run.manifestSha256.slice(0, 16)}…)` : ""}`,
    run.publish.length === 0
      ? "   publish job: not run (the build job failed)"
      : `   publish job: ${run.publish.map((entry) => `${entry.name} exit ${entry.exitCode}`).join("; ")}`,
  ];
  if (run.published) {
    lines.push(`   commit ${run.published.sha.slice(0, 12)} ${run.published.subject}`);
    if (run.published.body) lines.push(...run.published.body.split("\n").map((line) => `     ${line}`));
    lines.push(...run.published.files.map((file) => `     ${file}`));
  } else {
    const said = [...run.commit.output.split("\n"), ...run.stage.output.split("\n")].find((line) =>
      /^(Nothing to commit|.*nothing to publish)/.test(line),
    );
    lines.push(`   no commit${said ? `: ${said}` : ""}`);
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { keep: { type: "boolean" } }, allowPositionals: false });
  const started = Date.now();
  const result = await rehearse({ keep: values.keep ?? false });
  const failed = result.checks.filter((check) => !check.passed);
  process.stderr.write(
    `\nRehearsal: ${result.checks.length - failed.length} checks passed, ${failed.length} failed (${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
  );
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`rehearsal failed: ${errorMessage(error)}\n`);
      process.exitCode = 1;
    },
  );
}
