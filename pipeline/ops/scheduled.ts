// The scheduled job's steps (.github/workflows/pipeline.yml), one npm script each, so that the workflow, a
// developer and the rehearsal (tools/rehearse/rehearse.ts) run exactly the same thing:
//
//   npm run scheduled:run     runs the pipeline on $ECHO_CONFIG (default config.live.yaml); its exit code
//                             passes through (3: the publish guard refused), and a line goes to
//                             $GITHUB_STEP_SUMMARY when that is set
//   npm run scheduled:commit  commits exactly the files a succeeded run published, with a message naming
//                             the run and its counts; nothing when nothing changed or the run was refused
//   npm run scheduled:push    pushes that commit; when the branch moved meanwhile, rebases once and retries
//   npm run scheduled:site    builds the site from the config's output_dir for GitHub Pages (/<repository>/)
//
// Each works on the git repository of the current directory and the config's output_dir inside it.
import { appendFile, readFile, stat } from "node:fs/promises";
import { delimiter, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { changeFeedFileName, changesDirectory, changesDirectoryName } from "../formats/changes.ts";
import type { RunSummaryJson } from "../formats/run-summary.ts";
import { errorMessage, PipelineError } from "../lib/errors.ts";
import { markdownText } from "../lib/markdown.ts";
import { type Config, loadConfig } from "../stages/config.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const cliPath = join(repoRoot, "pipeline/cli.ts");
const siteBuildPath = join(repoRoot, "site/build.ts");

export const defaultConfigPath = "config.live.yaml";

/** The bot's identity on the commits; GIT_AUTHOR_* / GIT_COMMITTER_* in the environment still win. */
export const botIdentity = {
  name: "github-actions[bot]",
  email: "41898282+github-actions[bot]@users.noreply.github.com",
};

const usage = `Usage: node pipeline/ops/scheduled.ts <run|commit|push|site> [pipeline options]

  run      npm run scheduled:run [-- --as-of <time> ...]: runs the pipeline with --config $ECHO_CONFIG
           (default ${defaultConfigPath}); options after -- go to the pipeline. ECHO_ACCEPT_MASS_CHANGE=true
           adds --accept-mass-change. The exit code is the pipeline's (0 published, 3 refused by the
           publish guard). With GITHUB_STEP_SUMMARY set, a markdown summary of the run is appended to it.
  commit   npm run scheduled:commit: when the last run (run_summary.json in the config's output_dir)
           succeeded, stages advisory_current.json, cve_facts.json, data.json, openvex.json,
           run_summary.json, the run's report, changes.atom, the changes directory and the history
           directory, and commits them alone with a message naming the run and its counts. No commit when
           nothing changed, or when the run was refused (the reason is printed).
  push     npm run scheduled:push: pushes HEAD to the branch ($GITHUB_REF_NAME in GitHub Actions, else the
           current branch) of $ECHO_PUSH_REMOTE (default origin); when that is rejected, rebases onto the
           remote branch once and pushes again. GITHUB_TOKEN, when set, authenticates to GitHub for these
           two commands only.
  site     npm run scheduled:site: builds the site from the config's output_dir into <output_dir>/site,
           under the path GitHub Pages serves it from: $ECHO_SITE_BASE, else /<repository>/ from
           $GITHUB_REPOSITORY (/ for a <owner>.github.io repository), else /.
`;

export type Env = Record<string, string | undefined>;

export interface StepOptions {
  /** The git work tree the step works in (and against which ECHO_CONFIG resolves). */
  cwd?: string;
  env?: Env;
  /** Progress and messages; stdout by default. */
  print?: (line: string) => void;
}

interface Resolved {
  cwd: string;
  env: Env;
  print: (line: string) => void;
}

function resolveOptions(options: StepOptions): Resolved {
  return {
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    print: options.print ?? ((line) => process.stdout.write(`${line}\n`)),
  };
}

function configPathOf({ cwd, env }: Resolved): string {
  return resolve(cwd, env.ECHO_CONFIG || defaultConfigPath);
}

// ---------------------------------------------------------------------------------------------------------
// Describing a run

const stateOrder = ["fixed", "not_applicable", "wont_fix", "pending_upstream", "under_investigation"];

const count = (value: number) => value.toLocaleString("en-US");
const plural = (value: number, one: string, many: string) => `${count(value)} ${value === 1 ? one : many}`;

export function decisionChangeCount(summary: RunSummaryJson): number {
  return summary.transitions.reduce((sum, entry) => sum + entry.count, 0);
}

/** "40,625 advisories (36,515 fixed, 1,969 not applicable, 2,141 under investigation); 12 decision changes" */
export function describeCounts(summary: RunSummaryJson): string {
  const rank = (state: string) => {
    const index = stateOrder.indexOf(state);
    return index === -1 ? stateOrder.length : index;
  };
  const states = summary.state_distribution
    .filter((entry) => entry.count > 0)
    .sort((a, b) => rank(a.state) - rank(b.state) || a.state.localeCompare(b.state))
    .map((entry) => `${count(entry.count)} ${entry.state.replaceAll("_", " ")}`);
  const changes = decisionChangeCount(summary);
  return `${plural(summary.advisory_count, "advisory", "advisories")}${states.length ? ` (${states.join(", ")})` : ""}; ${plural(changes, "decision change", "decision changes")}`;
}

/** The commit message: a subject naming the run and its counts, then the changes by kind and the report. */
export function commitMessage(summary: RunSummaryJson): { subject: string; body: string } {
  const subject = `Advisory run ${summary.run_id}: ${describeCounts(summary)}`;
  const lines: string[] = [];
  if (summary.transitions.length > 0) {
    lines.push("Decision changes:");
    for (const entry of summary.transitions) {
      lines.push(`  ${entry.from ?? "(new)"} -> ${entry.to ?? "(no longer listed)"}: ${count(entry.count)}`);
    }
  } else {
    lines.push("No decision changed.");
  }
  if (summary.publish_guard.mass_change_accepted) {
    lines.push(
      "",
      `Published with --accept-mass-change (${count(summary.publish_guard.state_changes)} state changes).`,
    );
  }
  const failed = summary.checks.filter((check) => !check.passed);
  if (failed.length > 0) {
    lines.push(
      "",
      `Warnings: ${failed.map((check) => `${check.check_id} (${count(check.failing_count)})`).join(", ")}`,
    );
  }
  lines.push("", `Report: run_report_${summary.run_id}.md`);
  return { subject, body: lines.join("\n") };
}

/** The markdown a run leaves in the GitHub Actions step summary. */
export function stepSummaryMarkdown(exitCode: number, summary: RunSummaryJson | undefined): string {
  if (!summary) {
    if (exitCode === 0) {
      return "### Advisory pipeline run: nothing published\n\nThe run wrote no summary (a dry run writes nothing).\n";
    }
    return `### Advisory pipeline run failed (exit ${exitCode})\n\nNo run summary was written; the job log says where it stopped. Nothing was published.\n`;
  }
  const counts = describeCounts(summary);
  if (summary.status === "succeeded") {
    return `### Advisory run ${summary.run_id}: published\n\n${counts}.\n`;
  }
  if (summary.status === "blocked") {
    const reasons = summary.publish_guard.reasons
      .map((reason) => `- ${markdownText(reason, { lineStart: true })}`)
      .join("\n");
    return `### Advisory run ${summary.run_id}: NOT published (exit ${exitCode})\n\nThe publish guard refused the run; the published files stay as they were and nothing is committed.\n\n${reasons}\n\n${counts} computed. If the change is expected, run the workflow by hand with "accept mass change".\n`;
  }
  return `### Advisory run ${summary.run_id}: ${summary.status} (exit ${exitCode})\n\n${counts}.\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Files

async function readSummary(config: Config): Promise<RunSummaryJson | undefined> {
  const path = join(config.output_dir, "run_summary.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text) as RunSummaryJson;
}

async function fileStamp(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path);
    return `${info.ino}:${info.mtimeMs}:${info.size}`;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// git

interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs git in the work tree; hooks are off (nothing in the work tree runs during these steps). */
async function git(cwd: string, args: string[], env: Env = {}): Promise<GitResult> {
  const result = await execa("git", ["-c", "core.hooksPath=/dev/null", ...args], {
    cwd,
    env,
    reject: false,
    stdin: "ignore",
  });
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? result.message ?? ""),
  };
}

async function gitOrThrow(cwd: string, args: string[], env: Env = {}): Promise<string> {
  const result = await git(cwd, args, env);
  if (result.exitCode !== 0) {
    throw new PipelineError(
      `git ${args.join(" ")} failed (exit ${result.exitCode}): ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

// ---------------------------------------------------------------------------------------------------------
// Steps

/** `scheduled:run`: the pipeline on the live config; returns the pipeline's exit code. */
export async function scheduledRun(args: string[], options: StepOptions = {}): Promise<number> {
  const resolved = resolveOptions(options);
  const { cwd, env, print } = resolved;
  const configPath = configPathOf(resolved);
  const config = await loadConfig(configPath);
  const summaryPath = join(config.output_dir, "run_summary.json");
  const before = await fileStamp(summaryPath);
  const acceptMassChange = ["1", "true"].includes((env.ECHO_ACCEPT_MASS_CHANGE ?? "").toLowerCase());
  const cliArgs = ["--config", configPath, ...(acceptMassChange ? ["--accept-mass-change"] : []), ...args];
  print(`Running the pipeline: node pipeline/cli.ts ${cliArgs.join(" ")}`);
  const result = await execa(process.execPath, [cliPath, ...cliArgs], {
    cwd,
    env,
    extendEnv: false,
    stdio: options.print ? "pipe" : "inherit",
    all: Boolean(options.print),
    reject: false,
  });
  if (options.print && result.all) for (const line of String(result.all).split("\n")) print(line);
  const exitCode = result.exitCode ?? 1;
  // A summary written by this run, not one left by an earlier run that this one never reached.
  const after = await fileStamp(summaryPath);
  const summary = after !== undefined && after !== before ? await readSummary(config) : undefined;
  const markdown = stepSummaryMarkdown(exitCode, summary);
  print(markdown.trimEnd());
  if (env.GITHUB_STEP_SUMMARY) await appendFile(env.GITHUB_STEP_SUMMARY, `${markdown}\n`);
  return exitCode;
}

export interface CommitOutcome {
  committed: boolean;
  /** Why nothing was committed, when nothing was. */
  reason?: string;
  sha?: string;
  subject?: string;
  files: string[];
}

/** `scheduled:commit`: commits what the last run published, and nothing else. */
export async function scheduledCommit(options: StepOptions = {}): Promise<CommitOutcome> {
  const resolved = resolveOptions(options);
  const { cwd, print } = resolved;
  const config = await loadConfig(configPathOf(resolved));
  const summary = await readSummary(config);
  if (!summary) {
    throw new PipelineError(`no run summary at ${join(config.output_dir, "run_summary.json")}`, {
      hint: "run npm run scheduled:run first",
    });
  }
  if (summary.status !== "succeeded") {
    const why =
      summary.status === "blocked"
        ? `run ${summary.run_id} was refused by the publish guard (${summary.publish_guard.reasons.join("; ")})`
        : `run ${summary.run_id} did not publish (status ${summary.status})`;
    print(`Not committing: ${why}. The published files stay as they were.`);
    return { committed: false, reason: why, files: [] };
  }

  const top = (await gitOrThrow(cwd, ["rev-parse", "--show-toplevel"])).trim();
  const inRepo = (path: string) => {
    const inside = relative(top, path);
    if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) {
      throw new PipelineError(
        `${path} is outside the git work tree ${top}; nothing can be committed from it`,
      );
    }
    return inside;
  };
  const published = [
    "advisory_current.json",
    "cve_facts.json",
    "data.json",
    "openvex.json",
    "run_summary.json",
    `run_report_${summary.run_id}.md`,
    changeFeedFileName,
    `${changesDirectoryName}/${summary.run_id}.json`,
  ].map((name) => join(config.output_dir, name));
  for (const path of published) {
    if ((await fileStamp(path)) === undefined) {
      throw new PipelineError(`run ${summary.run_id} succeeded but ${path} is missing`);
    }
  }
  // The history directory and the change files whole: this run's files, any earlier run's that a commit has
  // not kept yet, and the removal of the change files past the last 30.
  const paths = [...published, changesDirectory(config.output_dir), config.history_dir].map(inRepo);
  await gitOrThrow(top, ["add", "--", ...paths]);
  const staged = (await gitOrThrow(top, ["diff", "--cached", "--name-only", "--", ...paths]))
    .split("\n")
    .filter(Boolean);
  if (staged.length === 0) {
    const why = `run ${summary.run_id} published exactly what the last commit holds`;
    print(`Nothing to commit: ${why}.`);
    return { committed: false, reason: why, files: [] };
  }
  const { subject, body } = commitMessage(summary);
  await gitOrThrow(top, [
    "-c",
    `user.name=${botIdentity.name}`,
    "-c",
    `user.email=${botIdentity.email}`,
    "-c",
    "commit.gpgsign=false",
    "commit",
    "--quiet",
    "--no-verify",
    "-m",
    subject,
    "-m",
    body,
    // Only these paths, whatever else the index holds.
    "--only",
    "--",
    ...paths,
  ]);
  const sha = (await gitOrThrow(top, ["rev-parse", "HEAD"])).trim();
  print(`Committed ${sha.slice(0, 12)} ${subject}`);
  for (const file of staged) print(`  ${file}`);
  return { committed: true, sha, subject, files: staged };
}

/** Extra git configuration, passed through the environment, that authenticates to GitHub with a token. */
function tokenConfig(env: Env, remoteUrl: string): Env {
  const token = env.GITHUB_TOKEN;
  const server = (env.GITHUB_SERVER_URL || "https://github.com").replace(/\/$/, "");
  if (!token || !remoteUrl.startsWith(`${server}/`)) return {};
  const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
  // Through the environment rather than the command line, so the token shows in no process list.
  return {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: `http.${server}/.extraheader`,
    GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${basic}`,
  };
}

export interface PushOutcome {
  pushed: boolean;
  retried: boolean;
  branch: string;
}

/** `scheduled:push`: pushes HEAD; when the branch moved meanwhile, rebases onto it once and pushes again. */
export async function scheduledPush(options: StepOptions = {}): Promise<PushOutcome> {
  const { cwd, env, print } = resolveOptions(options);
  const remote = env.ECHO_PUSH_REMOTE || "origin";
  const branch =
    env.ECHO_PUSH_BRANCH ||
    (env.GITHUB_ACTIONS === "true" ? env.GITHUB_REF_NAME : undefined) ||
    (
      await gitOrThrow(cwd, ["symbolic-ref", "--short", "HEAD"]).catch(() => {
        throw new PipelineError("HEAD is detached: set ECHO_PUSH_BRANCH to the branch to push to");
      })
    ).trim();
  const remoteUrl = (await gitOrThrow(cwd, ["remote", "get-url", remote])).trim();
  const auth = tokenConfig(env, remoteUrl);
  const push = () => git(cwd, ["push", "--porcelain", remote, `HEAD:refs/heads/${branch}`], auth);

  let result = await push();
  if (result.exitCode === 0) {
    print(pushReport(result, remote, branch));
    return { pushed: true, retried: false, branch };
  }
  print(`The push to ${remote}/${branch} was rejected: ${lastLine(result.stderr)}`);
  print(`Rebasing onto ${remote}/${branch} and pushing once more.`);
  const pulled = await git(cwd, ["pull", "--rebase", "--no-autostash", "--quiet", remote, branch], {
    ...auth,
    // The rebase rewrites the bot's commit: it stays the bot's.
    GIT_COMMITTER_NAME: env.GIT_COMMITTER_NAME || botIdentity.name,
    GIT_COMMITTER_EMAIL: env.GIT_COMMITTER_EMAIL || botIdentity.email,
  });
  if (pulled.exitCode !== 0) {
    await git(cwd, ["rebase", "--abort"]);
    throw new PipelineError(`cannot rebase onto ${remote}/${branch}: ${pulled.stderr.trim()}`, {
      hint: "the next scheduled run starts again from the branch as it is",
    });
  }
  result = await push();
  if (result.exitCode !== 0) {
    throw new PipelineError(`the push to ${remote}/${branch} failed again: ${result.stderr.trim()}`);
  }
  print(pushReport(result, remote, branch));
  return { pushed: true, retried: true, branch };
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .at(-1) ?? "(no message)"
  );
}

function pushReport(result: GitResult, remote: string, branch: string): string {
  // --porcelain: "=" up to date, " " fast-forward, "*" new ref.
  const line = result.stdout.split("\n").find((entry) => entry.includes(`refs/heads/${branch}`)) ?? "";
  return line.startsWith("=")
    ? `Nothing to push: ${remote}/${branch} already has HEAD.`
    : `Pushed HEAD to ${remote}/${branch}${line ? ` (${line.split("\t").at(-1)?.trim()})` : ""}.`;
}

/** The path GitHub Pages serves the site under: /<repository>/, or / for a user or organisation site. */
export function pagesBase(env: Env): string {
  if (env.ECHO_SITE_BASE) return env.ECHO_SITE_BASE;
  const [owner, name] = (env.GITHUB_REPOSITORY ?? "").split("/");
  if (!owner || !name || name.toLowerCase() === `${owner.toLowerCase()}.github.io`) return "/";
  return `/${name}/`;
}

/** `scheduled:site`: `npm run site:build` on the config's output, for GitHub Pages. */
export async function scheduledSite(options: StepOptions = {}): Promise<number> {
  const resolved = resolveOptions(options);
  const { cwd, env, print } = resolved;
  const config = await loadConfig(configPathOf(resolved));
  const base = pagesBase(env);
  print(`Building the site from ${config.output_dir} under ${base}`);
  const result = await execa(process.execPath, [siteBuildPath], {
    cwd,
    // Astro's launcher runs on the first node on PATH: this one (Node 24), as under npm.
    env: {
      ...env,
      PATH: [dirname(process.execPath), env.PATH].filter(Boolean).join(delimiter),
      ECHO_OUTPUT_DIR: config.output_dir,
      ECHO_SITE_BASE: base,
    },
    extendEnv: false,
    stdio: "inherit",
    reject: false,
  });
  return result.exitCode ?? 1;
}

// ---------------------------------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "run") return await scheduledRun(rest);
    if (command === "site" && rest.length === 0) return await scheduledSite();
    if (rest.length > 0 || (command !== "commit" && command !== "push")) {
      process.stderr.write(usage);
      return command === "-h" || command === "--help" ? 0 : 2;
    }
    if (command === "commit") await scheduledCommit();
    else await scheduledPush();
    return 0;
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n`);
    return error instanceof PipelineError ? error.exitCode : 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
