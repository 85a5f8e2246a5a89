import { appendFile, cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readRunTransitions } from "../history/ledger.ts";
import { isClockPinned, resolveClock } from "../lib/clock.ts";
import { withDatabase } from "../lib/db.ts";
import { errorMessage, PipelineError } from "../lib/errors.ts";
import { markdownCode, markdownText } from "../lib/markdown.ts";
import { runPipeline } from "../run.ts";
import { parseNotApplicableCsv } from "../sources/echo_csv/index.ts";
import { readOverrideReasonCodes } from "../sources/echo_csv/reasons.ts";
import { parseEchoData } from "../sources/echo_data/index.ts";
import { decodeUtf8, readInput } from "../sources/read-input.ts";
import { registry } from "../sources/registry.ts";
import { inputHttpClient } from "../sources/source.ts";
import { loadConfig } from "../stages/config.ts";

const usage = `Usage: npm run overrides:check -- [options]

Checks an edit of the not-applicable CSV before it is merged. Every row must be readable, name a
CVE (or Debian TEMP id) and package that data.json lists, use status not_applicable and an internal_status
the catalogue knows (dbt_project/seeds/override_reasons.csv), and appear once. When every row is valid it
previews the effect: a dry run of the pipeline against the committed history (the upstream sources are not
fetched; their decisions stand), listing each advisory whose decision would change. Changes nothing.

Options:
  --config <path>    configuration whose data.json and history are the committed state (default: config.yaml)
  --csv <path>       the proposed CSV (default: the config's echo_csv location)
  --as-of <time>     the preview's clock (default: now)
  --summary <file>   also append the markdown report here (default: $GITHUB_STEP_SUMMARY when set)
  --no-preview       validate only
  -h, --help         show this help

Exit codes: 0 valid, 1 invalid rows (listed with their line numbers), 2 the check could not run.`;

export interface RowProblem {
  line: number;
  column: string | null;
  problem: string;
  text: string;
}

export interface PreviewChange {
  advisory_id: string;
  from_state: string | null;
  to_state: string | null;
  rule_id: string | null;
  reason_code: string | null;
  explanation: string | null;
}

export interface OverridesCheckResult {
  csv: string;
  rows: number;
  problems: RowProblem[];
  preview: { run_id: string; changes: PreviewChange[]; refused_because: string[] } | null;
}

export interface OverridesCheckOptions {
  configPath: string;
  csvPath?: string;
  asOf?: Date;
  clockPinned?: boolean;
  preview?: boolean;
}

export async function checkOverrides(options: OverridesCheckOptions): Promise<OverridesCheckResult> {
  const config = await loadConfig(options.configPath);
  const csv = options.csvPath ? resolve(options.csvPath) : config.sources.echo_csv.location;
  const problems: RowProblem[] = [];
  const accepted: { line: number; pair: string; text: string }[] = [];
  // A URL is read within the config's http limits, as a run would read it.
  const http = inputHttpClient({ http: config.http, hosts: registry.hostPolicies() });

  // The parser refuses an unknown reason code as the scheduled run's adapter does: same list, same words.
  const reasonCodes = await readOverrideReasonCodes(config.dbt.project_dir);
  const csvText = decodeUtf8(await readInput(csv, http), csv);
  const lines = csvText.split(/\r\n|\r|\n/);
  try {
    for (const item of parseNotApplicableCsv(csvText, csv, reasonCodes)) {
      if (item.kind === "rejected") {
        const line = item.rejection.location.line ?? 0;
        problems.push({
          line,
          column: item.rejection.location.key ?? null,
          problem: item.rejection.reason,
          text: item.rejection.excerpt ?? "",
        });
      } else if (item.kind === "observation") {
        const row = item.observation;
        accepted.push({
          line: row.line_number,
          pair: `${row.package_name}:${row.cve_id}`,
          text: lines[row.line_number - 1] ?? "",
        });
      }
    }
  } catch (error) {
    // A header the parser cannot use makes every row unreadable: one problem, on the header's line.
    if (!(error instanceof PipelineError)) throw error;
    problems.push({
      line: error.location?.line ?? 1,
      column: null,
      problem: error.hint ? `${error.message} (${error.hint})` : error.message,
      text: lines[(error.location?.line ?? 1) - 1] ?? "",
    });
  }

  const dataJson = config.sources.echo_data.location;
  const known = new Set<string>();
  for (const item of parseEchoData(decodeUtf8(await readInput(dataJson, http), dataJson), dataJson)) {
    if (item.kind === "observation")
      known.add(`${item.observation.package_name}:${item.observation.vuln_id}`);
  }
  for (const row of accepted) {
    if (!known.has(row.pair)) {
      problems.push({
        line: row.line,
        column: "cve_id",
        problem: `${row.pair} is not an advisory in data.json (${dataJson}): check the package and CVE`,
        text: row.text,
      });
    }
  }
  problems.sort((a, b) => a.line - b.line);

  const result: OverridesCheckResult = { csv, rows: accepted.length, problems, preview: null };
  if (problems.length > 0 || options.preview === false) return result;
  result.preview = await previewEffect(options, csv);
  return result;
}

/**
 * A dry run in a scratch folder: a fresh database restored from a copy of the committed history, the
 * proposed CSV, data.json as configured, and no upstream fetch (upstream decisions stand, as they would
 * between two fetches). What it would change is what the merged edit would change in the next run.
 */
async function previewEffect(
  options: OverridesCheckOptions,
  csv: string,
): Promise<OverridesCheckResult["preview"]> {
  const scratch = await mkdtemp(join(tmpdir(), "echo-overrides-check-"));
  try {
    const committed = await loadConfig(options.configPath);
    const history = join(scratch, "history");
    const output = join(scratch, "output");
    const copyIfPresent = (from: string, to: string) =>
      cp(from, to, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
    await copyIfPresent(committed.history_dir, history);
    // The published file carries each observation's first-fetched date, which the explanations quote.
    await copyIfPresent(
      join(committed.output_dir, "advisory_current.json"),
      join(output, "advisory_current.json"),
    );
    const database = join(scratch, "preview.duckdb");
    const outcome = await runPipeline({
      configPath: options.configPath,
      asOf: options.asOf ?? new Date(),
      clockPinned: options.clockPinned ?? false,
      dryRun: true,
      onlySources: ["echo_data", "echo_csv"],
      adjustConfig: (config) => ({
        ...config,
        database,
        output_dir: output,
        history_dir: history,
        http: { ...config.http, cache_dir: join(scratch, "http-cache") },
        sources: { ...config.sources, echo_csv: { ...config.sources.echo_csv, location: csv } },
      }),
    });
    const changes = await withDatabase(database, async (db) => {
      const transitions = await readRunTransitions(db, outcome.runId);
      const explanations = new Map(
        (
          await db.all<{ advisory_id: string; explanation: string }>(
            "select advisory_id, explanation from marts.mart_advisory_current",
          )
        ).map((row) => [row.advisory_id, row.explanation]),
      );
      return transitions.map((transition) => ({
        advisory_id: transition.advisory_id,
        from_state: transition.from_state,
        to_state: transition.to_state,
        rule_id: transition.rule_id,
        reason_code: transition.reason_code,
        explanation: explanations.get(transition.advisory_id) ?? null,
      }));
    });
    return { run_id: outcome.runId, changes, refused_because: outcome.summary.publish.reasons };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Markdown for the pull request's job summary: the problems with their rows, or the preview. */
export function renderOverridesReport(result: OverridesCheckResult): string {
  const cell = (value: string | null) => markdownText(value);
  const out: string[] = ["## Not-applicable overrides check", ""];
  if (result.problems.length > 0) {
    out.push(
      `**${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}** in ${markdownCode(result.csv)}; fix ${result.problems.length === 1 ? "it" : "them"} before merging.`,
      "",
      "| Line | Column | Problem | Row |",
      "| ---: | --- | --- | --- |",
      ...result.problems.map(
        (problem) =>
          `| ${problem.line} | ${cell(problem.column)} | ${cell(problem.problem)} | ${markdownCode(problem.text, { inTable: true })} |`,
      ),
    );
    return `${out.join("\n")}\n`;
  }
  out.push(`All ${result.rows} rows are valid.`, "");
  if (!result.preview) return `${out.join("\n")}\n`;
  const { changes, refused_because: refused } = result.preview;
  if (changes.length === 0) {
    out.push("Merging this edit changes no advisory's decision.");
  } else {
    out.push(
      `Merging this edit would change ${changes.length} advisor${changes.length === 1 ? "y" : "ies"}:`,
      "",
      "| Advisory | Before | After | Rule | Reason | Explanation after |",
      "| --- | --- | --- | --- | --- | --- |",
      ...changes.map(
        (change) =>
          `| ${cell(change.advisory_id)} | ${cell(change.from_state ?? "(new)")} | ${cell(change.to_state ?? "(no longer listed)")} | ${cell(change.rule_id)} | ${cell(change.reason_code)} | ${cell(change.explanation)} |`,
      ),
    );
  }
  if (refused.length > 0) {
    out.push(
      "",
      "**The next scheduled run would refuse to publish this:**",
      "",
      ...refused.map((reason) => `- ${markdownText(reason, { lineStart: true })}`),
    );
  }
  return `${out.join("\n")}\n`;
}

async function main(): Promise<number> {
  let values: ReturnType<typeof parseOptions>["values"];
  try {
    values = parseOptions().values;
  } catch (error) {
    console.error(`${errorMessage(error)}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  try {
    const result = await checkOverrides({
      configPath: values.config ?? "config.yaml",
      ...(values.csv ? { csvPath: values.csv } : {}),
      asOf: resolveClock(values["as-of"]),
      clockPinned: isClockPinned(values["as-of"]),
      preview: !values["no-preview"],
    });
    const report = renderOverridesReport(result);
    process.stdout.write(report);
    const summaryFile = values.summary ?? process.env.GITHUB_STEP_SUMMARY;
    if (summaryFile) await appendFile(summaryFile, report);
    return result.problems.length > 0 ? 1 : 0;
  } catch (error) {
    const location = error instanceof PipelineError ? error.location : undefined;
    const where = location?.file ? ` (${location.file}${location.line ? `:${location.line}` : ""})` : "";
    const described = error instanceof PipelineError ? error.describe() : `${errorMessage(error)}${where}`;
    console.error(`overrides check could not run: ${described}`);
    return 2;
  }
}

function parseOptions() {
  return parseArgs({
    options: {
      config: { type: "string" },
      csv: { type: "string" },
      "as-of": { type: "string" },
      summary: { type: "string" },
      "no-preview": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
}

if (import.meta.main) process.exitCode = await main();
