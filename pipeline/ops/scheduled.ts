// The scheduled job's steps that run project code (.github/workflows/pipeline.yml, job `build`), one npm
// script each, so that the workflow, a developer and the rehearsal (tools/rehearse/rehearse.ts) run exactly the
// same thing:
//
//   npm run scheduled:run     runs the pipeline on $ECHO_CONFIG (default config.live.yaml); its exit code
//                             passes through (3: the publish guard refused), and a line goes to
//                             $GITHUB_STEP_SUMMARY when that is set
//   npm run scheduled:stage   after a succeeded run, copies exactly what it published, a commit message and a
//                             checksum manifest into the publication folder that the build job hands over
//   npm run scheduled:site    builds the site from the config's output_dir for GitHub Pages (/<repository>/)
//
// The commit and push are not here: the `publish` job, the only one holding the write token, does them with
// plain git and coreutils in the workflow itself (no npm, no project code), after checking the manifest.
//
// Each works on the git repository of the current directory and the config's output_dir inside it.
import { createHash } from "node:crypto";
import { appendFile, copyFile, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { delimiter, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { changeFeedFileName, changesDirectory } from "../formats/changes.ts";
import type { RunSummaryJson } from "../formats/run-summary.ts";
import { errorMessage, PipelineError } from "../lib/errors.ts";
import { markdownText } from "../lib/markdown.ts";
import { type Config, loadConfig } from "../stages/config.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const cliPath = join(repoRoot, "pipeline/cli.ts");
const siteBuildPath = join(repoRoot, "site/build.ts");

export const defaultConfigPath = "config.live.yaml";

const usage = `Usage: node pipeline/ops/scheduled.ts <run|stage|site> [pipeline options]

  run      npm run scheduled:run [-- --as-of <time> ...]: runs the pipeline with --config $ECHO_CONFIG
           (default ${defaultConfigPath}); options after -- go to the pipeline. ECHO_ACCEPT_MASS_CHANGE=true
           adds --accept-mass-change. The exit code is the pipeline's (0 published, 3 refused by the
           publish guard). With GITHUB_STEP_SUMMARY set, a markdown summary of the run is appended to it.
  stage    npm run scheduled:stage: when the last run (run_summary.json in the config's output_dir)
           succeeded, copies what it published (advisory_current.json, cve_facts.json, data.json,
           openvex.json, run_summary.json, the run's report, changes.atom, and the changes and history
           folders whole) into $ECHO_PUBLICATION_DIR (default .state/publication) with paths.txt,
           commit-message.txt and SHA256SUMS, for the publish job. Fails when the run did not publish, or
           when the output is not under output/ in the repository. With GITHUB_OUTPUT set, writes
           manifest_sha256 (the SHA-256 of SHA256SUMS) to it.
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

/** The one folder of the repository a publication may write to: the publish job refuses any other path. */
export const publicationRoot = "output";

/** The publication's own files, beside `files/` (the published files at their paths in the repository). */
export const publicationLayout = {
  files: "files",
  paths: "paths.txt",
  message: "commit-message.txt",
  manifest: "SHA256SUMS",
} as const;

export interface StageOutcome {
  dir: string;
  runId: string;
  /** The repository paths the publish job replaces (files, and folders it mirrors whole). */
  paths: string[];
  fileCount: number;
  /** SHA-256 of SHA256SUMS: the build job's output, which the publish job checks the artifact against. */
  manifestSha256: string;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every regular file under `dir`, as paths relative to it; anything else (a link, a device) is refused. */
async function regularFiles(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await regularFiles(dir, path)));
    else if (entry.isFile()) found.push(path);
    else throw new PipelineError(`${join(dir, path)} is neither a file nor a folder; it cannot be published`);
  }
  return found.sort(byCodeUnit);
}

async function sha256Of(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/**
 * `scheduled:stage`: after a succeeded run, copies what it published into a publication folder
 * ($ECHO_PUBLICATION_DIR, default .state/publication) for the publish job, which holds the write token and runs
 * no npm, pip or project code: `files/output/…` (the files at their repository paths), `paths.txt` (the paths the
 * publish job replaces: the top-level files, and the changes and history folders whole so that removed files
 * go too), `commit-message.txt`, and `SHA256SUMS` (sha256sum's format) over all of them. The SHA-256 of
 * SHA256SUMS is printed and, in GitHub Actions, written to $GITHUB_OUTPUT as `manifest_sha256`.
 */
export async function scheduledStage(options: StepOptions = {}): Promise<StageOutcome> {
  const resolved = resolveOptions(options);
  const { cwd, env, print } = resolved;
  const config = await loadConfig(configPathOf(resolved));
  const summary = await readSummary(config);
  if (!summary) {
    throw new PipelineError(`no run summary at ${join(config.output_dir, "run_summary.json")}`, {
      hint: "run npm run scheduled:run first",
    });
  }
  if (summary.status !== "succeeded") {
    throw new PipelineError(
      summary.status === "blocked"
        ? `run ${summary.run_id} was refused by the publish guard (${summary.publish_guard.reasons.join("; ")}): nothing to publish`
        : `run ${summary.run_id} did not publish (status ${summary.status}): nothing to publish`,
    );
  }
  const top = (await gitOrThrow(cwd, ["rev-parse", "--show-toplevel"])).trim();
  const root = join(top, publicationRoot);
  const inRoot = (key: string, path: string) => {
    const inside = relative(root, path);
    if (inside.startsWith("..") || isAbsolute(inside)) {
      throw new PipelineError(
        `${key} ${path} is outside ${root}: the publish job writes only under ${publicationRoot}/`,
        { hint: `set ${key} to ${publicationRoot}/ or a folder inside it` },
      );
    }
    return relative(top, path).split(sep).join("/");
  };
  inRoot("output_dir", config.output_dir);
  inRoot("history_dir", config.history_dir);
  const files = [
    "advisory_current.json",
    "cve_facts.json",
    "data.json",
    "openvex.json",
    "run_summary.json",
    `run_report_${summary.run_id}.md`,
    changeFeedFileName,
  ].map((name) => join(config.output_dir, name));
  for (const path of files) {
    if ((await fileStamp(path)) === undefined) {
      throw new PipelineError(`run ${summary.run_id} succeeded but ${path} is missing`);
    }
  }
  const folders = [changesDirectory(config.output_dir), config.history_dir];
  const paths = [
    ...files.map((path) => inRoot("output_dir", path)),
    ...folders.map((path, index) => inRoot(index === 0 ? "output_dir" : "history_dir", path)),
  ].sort(byCodeUnit);

  const dir = resolve(cwd, env.ECHO_PUBLICATION_DIR || ".state/publication");
  await rm(dir, { recursive: true, force: true });
  const filesDir = join(dir, publicationLayout.files);
  for (const path of paths) {
    const from = join(top, path);
    const to = join(filesDir, path);
    await mkdir(dirname(to), { recursive: true });
    const info = await lstat(from).catch(() => undefined);
    if (info?.isDirectory()) {
      for (const file of await regularFiles(from)) {
        await mkdir(dirname(join(to, file)), { recursive: true });
        await copyFile(join(from, file), join(to, file));
      }
    } else if (info?.isFile()) {
      await copyFile(from, to);
    } else if (info !== undefined) {
      throw new PipelineError(`${from} is neither a file nor a folder; it cannot be published`);
    }
  }
  const { subject, body } = commitMessage(summary);
  await writeFile(join(dir, publicationLayout.paths), `${paths.join("\n")}\n`);
  await writeFile(join(dir, publicationLayout.message), `${subject}\n\n${body}\n`);
  const listed = await regularFiles(dir);
  const lines: string[] = [];
  for (const file of listed) lines.push(`${await sha256Of(join(dir, file))}  ${file}\n`);
  const manifest = lines.join("");
  await writeFile(join(dir, publicationLayout.manifest), manifest);
  const manifestSha256 = createHash("sha256").update(manifest).digest("hex");
  if (env.GITHUB_OUTPUT) await appendFile(env.GITHUB_OUTPUT, `manifest_sha256=${manifestSha256}\n`);
  const fileCount = listed.filter((file) => file.startsWith(`${publicationLayout.files}/`)).length;
  print(
    `Staged run ${summary.run_id} for publication in ${dir}: ${fileCount} files under ${paths.length} paths`,
  );
  for (const path of paths) print(`  ${path}`);
  print(`SHA256SUMS: ${manifestSha256}`);
  return { dir, runId: summary.run_id, paths, fileCount, manifestSha256 };
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
    if (command === "stage" && rest.length === 0) {
      await scheduledStage();
      return 0;
    }
    if (command === "site" && rest.length === 0) return await scheduledSite();
    process.stderr.write(usage);
    return command === "-h" || command === "--help" ? 0 : 2;
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n`);
    return error instanceof PipelineError ? error.exitCode : 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
