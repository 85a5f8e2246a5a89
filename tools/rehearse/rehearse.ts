// `npm run rehearse`: a local rehearsal of the scheduled job (.github/workflows/pipeline.yml). In a temporary
// git repository with a bare "origin", each run starts like a CI machine, from a fresh clone (no database, no
// output but what is committed), and runs the job's steps (scheduled:run, scheduled:commit, scheduled:push,
// the same code the npm scripts run) on the bundled sample in file and mock mode, with pinned clocks:
//
//   1. the first run publishes everything and commits it;
//   2. an analyst's override lands (and, while the run works, an unrelated commit): the second run restores
//      the history the first committed, records only the change, commits it, and rebases once to push;
//   3. the second run again, same clock and inputs: byte-identical files, nothing to commit;
//   4. a data.json missing half its packages: the publish guard refuses (exit 3), nothing is committed.
//
// It prints each commit (files and message) and the checks, and exits non-zero when a check fails.
// test/integration/rehearsal.test.ts runs it. Options: --keep (leave the temporary directory).
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { execa } from "execa";
import type { AdvisoryDocument } from "../../pipeline/formats/advisory-current.ts";
import { parseLedgerText } from "../../pipeline/formats/ledger.ts";
import type { LedgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import { errorMessage } from "../../pipeline/lib/errors.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const scheduledScript = join(repoRoot, "pipeline/ops/scheduled.ts");
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

export interface RehearsalRun {
  name: string;
  asOf: string;
  /** Whether the clone had no database when the run started (a fresh CI machine). */
  startedWithoutState: boolean;
  run: StepResult;
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

export interface RehearsalResult {
  dir: string;
  runs: RehearsalRun[];
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
    const firstText = await showFile(origin, first.published?.sha, "output/advisory_current.json");
    const secondText = await showFile(origin, second.published?.sha, "output/advisory_current.json");
    const result: RehearsalResult = {
      dir,
      runs,
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

/** The scheduled job's steps on a fresh clone, as a CI machine runs them. */
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
  await writeFile(stepSummaryFile, "");
  const env = { ECHO_CONFIG: configName, GITHUB_STEP_SUMMARY: stepSummaryFile };
  const run = await step(clone, "run", ["--as-of", asOf], env);
  // The workflow commits and pushes only after a run that exits 0; the rehearsal always tries, to show that
  // the commit step refuses on its own too.
  const commit = await step(clone, "commit", [], env);
  await whilePushing?.();
  const push = await step(clone, "push", [], env);
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
    published = { sha, subject, body: bodyLines.join("\n").trim(), files, parentSubject };
  }
  const summaryPath = join(clone, "output/run_summary.json");
  return {
    name,
    asOf,
    startedWithoutState,
    run,
    commit,
    push,
    published,
    ledgerFiles: await listDir(join(clone, "output/history/transitions")),
    runSummaryFiles: await listDir(join(clone, "output/history/runs")),
    summary: existsSync(summaryPath)
      ? (JSON.parse(await readFile(summaryPath, "utf8")) as RunSummaryJson)
      : undefined,
    stepSummary: await readFile(stepSummaryFile, "utf8"),
  };
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
    "refused run: no commit, and the commit step says why",
    refused.published === null &&
      refused.commit.exitCode === 0 &&
      /Not committing: .*refused by the publish guard/.test(refused.commit.output),
    refused.commit.output,
  );
  check(
    "refused run: the step summary says it was not published and why",
    /NOT published \(exit 3\)/.test(refused.stepSummary) && /^- /m.test(refused.stepSummary),
    refused.stepSummary,
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
    `\n== ${run.name} (--as-of ${run.asOf}): run exit ${run.run.exitCode}, commit exit ${run.commit.exitCode}, push exit ${run.push.exitCode}`,
  ];
  if (run.published) {
    lines.push(`   commit ${run.published.sha.slice(0, 12)} ${run.published.subject}`);
    if (run.published.body) lines.push(...run.published.body.split("\n").map((line) => `     ${line}`));
    lines.push(...run.published.files.map((file) => `     ${file}`));
  } else {
    const said = run.commit.output
      .split("\n")
      .find((line) => /^(Nothing to commit|Not committing)/.test(line));
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
