import { join } from "node:path";
import { historyUrl } from "../formats/advisory.ts";
import { runReportPath } from "../formats/run-report.ts";
import type { StateCount, TransitionCount } from "../formats/run-summary.ts";
import { type RuleCount, runSummaryFileName, runSummaryPath } from "../formats/run-summary.ts";
import type { Database } from "../lib/db.ts";
import type { StagedRelease } from "../lib/files.ts";
import { serialiseJson } from "../lib/json-file.ts";
import { markdownText } from "../lib/markdown.ts";
import {
  type CheckResult,
  type PublishDecision,
  type RejectedRecordSummary,
  type RunStatus,
  type RunSummary,
  type SourceRunSummary,
  type StageTiming,
  toSummaryJson,
} from "../run-summary.ts";
import type { Config } from "./config.ts";
import type { TransformResult } from "./transform.ts";

export interface ReportStageInput {
  config: Config;
  runId: string;
  asOf: Date;
  startedAt: Date;
  clockPinned: boolean;
  status: RunStatus;
  exitCode: number;
  guard: PublishDecision;
  advisoryCount: number;
  transitions: TransitionCount[];
  /** The stages so far; the report's own ends up in the run record, not in the report. */
  stageTimings: StageTiming[];
  sources: SourceRunSummary[];
  checks: CheckResult[];
  rejectedTotal: number;
  transform: TransformResult;
}

/**
 * Assembles the run's summary, stages the report and the summary (the latest and the run's own copy in the
 * history), and publishes the release in one step. A dry run publishes nothing; a blocked run publishes only
 * its report and summary, which say why.
 */
export async function reportStage(
  db: Database,
  release: StagedRelease,
  input: ReportStageInput,
): Promise<RunSummary> {
  const { config, runId, transform } = input;
  const rules = await db.all<RuleCount>(
    "select priority, rule_id, state, reason_code, advisory_count::integer as advisory_count from marts.mart_rule_catalogue order by priority",
  );
  const rejected = await db.all<RejectedRecordSummary>(
    "select source, file, line, key, reason from meta.rejected_records where run_id = ? order by source, line, key limit ?",
    [runId, config.report.list_limit],
  );
  const countNodes = (prefix: string) =>
    transform.nodes.filter((node) => node.uniqueId.startsWith(prefix)).length;
  const summary: RunSummary = {
    runId,
    startedAt: input.startedAt,
    finishedAt: new Date(),
    asOf: input.asOf,
    configPath: config.configPath,
    status: input.status,
    exitCode: input.exitCode,
    publish: input.guard,
    clockPinned: input.clockPinned,
    ...(config.site.public_url ? { publicUrl: config.site.public_url } : {}),
    advisoryCount: input.advisoryCount,
    transitions: input.transitions,
    stages: input.stageTimings,
    stateDistribution: await readStateDistribution(db),
    rules,
    sources: input.sources,
    rejected,
    rejectedTotal: input.rejectedTotal,
    checks: input.checks,
    dbt: {
      elapsedSeconds: transform.elapsedSeconds,
      models: countNodes("model."),
      seeds: countNodes("seed."),
      tests: countNodes("test."),
      unitTests: countNodes("unit_test."),
      warnings: transform.warnings.length,
      reusedDecisionsOf: transform.reusedDecisionsOf,
      modelTimings: transform.nodes
        .filter((node) => node.uniqueId.startsWith("model."))
        .sort((a, b) => b.executionTimeSeconds - a.executionTimeSeconds)
        .map((node) => ({
          model: node.uniqueId.replace(/^model\.[^.]+\./, ""),
          seconds: node.executionTimeSeconds,
        })),
    },
  };
  if (input.status !== "dry_run") {
    const summaryText = serialiseJson(toSummaryJson(summary));
    await release.stage(runReportPath(config.output_dir, runId), renderRunReport(summary));
    await release.stage(runSummaryPath(config.history_dir, runId), summaryText);
    await release.stage(join(config.output_dir, runSummaryFileName), summaryText);
    await release.publish();
  }
  return summary;
}

/** Table cells hold text from inputs: keep it from breaking the table or turning into markup. */
function cell(value: unknown): string {
  return markdownText(value);
}

/** A list item's text: it starts a line, so a leading `#`, `-` or `1.` is escaped too. */
function item(value: unknown): string {
  return markdownText(value, { lineStart: true });
}

function row(values: unknown[]): string {
  return `| ${values.map(cell).join(" | ")} |`;
}

function table(header: string[], rows: unknown[][], align?: ("l" | "r")[]): string {
  const separator = header.map((_, index) => (align?.[index] === "r" ? "---:" : "---"));
  return [row(header), `| ${separator.join(" | ")} |`, ...rows.map(row)].join("\n");
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** How old a source's data in use is, against the run's clock. */
function age(ms: number): string {
  if (ms < 60_000) return "fresh";
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} days`;
}

function bytes(count: number): string {
  if (count >= 1024 * 1024) return `${(count / 1024 / 1024).toFixed(1)} MiB`;
  if (count >= 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${count} B`;
}

/** A list item that starts with an advisory id links it to the advisory's page on the site. */
function linkAdvisory(text: string, publicUrl: string | undefined): string {
  const match = /^([a-z0-9][a-z0-9+.-]*:(?:CVE-\d{4}-\d+|TEMP-[0-9A-F-]+))(.*)$/.exec(text);
  if (!match) return item(text);
  const [, advisoryId = "", rest = ""] = match;
  // The id is [a-z0-9+.-]…, nothing in it is markup; the address is ours (site.public_url or relative).
  return `[${advisoryId}](${historyUrl(advisoryId, publicUrl)})${cell(rest)}`;
}

/** What happened to the published outputs, first thing in the report. */
function publicationNotice(summary: RunSummary): string[] {
  if (summary.status === "blocked") {
    return [
      "**Not published.** The publish guard kept the previously published outputs in place:",
      "",
      ...summary.publish.reasons.map((reason) => `- ${item(reason)}`),
      "",
    ];
  }
  if (summary.publish.massChangeAccepted) {
    return [
      `**Published with --accept-mass-change:** ${summary.publish.stateChanges} of ${summary.publish.previouslyListed} advisories changed state, more than quality.max_state_change_share allows.`,
      "",
    ];
  }
  return [];
}

export function renderRunReport(summary: RunSummary): string {
  const totalMs = summary.stages.reduce((sum, stage) => sum + stage.durationMs, 0);
  const checksFailed = summary.checks.filter((check) => !check.passed);
  const lines: string[] = [
    `# Run report ${summary.runId}`,
    "",
    ...publicationNotice(summary),
    table(
      ["Field", "Value"],
      [
        ["Run id", summary.runId],
        ["Status", summary.status],
        ["Exit code", summary.exitCode],
        [
          "Advisories changing state",
          `${summary.publish.stateChanges} of ${summary.publish.previouslyListed} previously listed${summary.publish.massChangeAccepted ? " (over the limit, accepted with --accept-mass-change)" : ""}`,
        ],
        ["As of", summary.asOf.toISOString()],
        ["Started", summary.clockPinned ? "(clock pinned)" : summary.startedAt.toISOString()],
        ["Finished", summary.clockPinned ? "(clock pinned)" : summary.finishedAt.toISOString()],
        ["Config", summary.configPath],
        ["Advisories", summary.advisoryCount],
        [
          "Quality checks",
          `${summary.checks.length - checksFailed.length} passed, ${checksFailed.length} failed`,
        ],
        ["Rejected input records", summary.rejectedTotal],
        ["Decision changes", summary.transitions.reduce((sum, entry) => sum + entry.count, 0)],
        ...(summary.clockPinned ? [] : [["Total time", seconds(totalMs)]]),
      ],
    ),
    "",
    "## Stages",
    "",
    summary.clockPinned
      ? "The run's clock was pinned (--as-of or SOURCE_DATE_EPOCH), so this report leaves out wall-clock durations to stay reproducible; they are in the log and in meta.runs."
      : table(
          ["Stage", "Duration"],
          summary.stages.map((stage) => [stage.stage, seconds(stage.durationMs)]),
          ["l", "r"],
        ),
    "",
    summary.clockPinned
      ? "How dbt ran is left out for the same reason: it depends on the database, not on the inputs (a run whose inputs are the previous run's keeps that run's decisions without dbt). The log says which it was."
      : summary.dbt.reusedDecisionsOf === null
        ? `dbt: ${summary.dbt.models} models, ${summary.dbt.seeds} seeds, ${summary.dbt.tests} data tests, ${summary.dbt.unitTests} unit tests in ${summary.dbt.elapsedSeconds.toFixed(2)} s; ${summary.dbt.warnings} warnings.`
        : `dbt did not run: the data, the history and the published file were those run ${summary.dbt.reusedDecisionsOf} decided from and left, so its decisions stand (\`--rebuild\` runs dbt anyway).`,
    "",
    ...(summary.clockPinned || summary.dbt.modelTimings.length === 0
      ? []
      : [
          "Slowest models:",
          "",
          table(
            ["Model", "Duration"],
            summary.dbt.modelTimings
              .slice(0, 10)
              .map((model) => [model.model, `${model.seconds.toFixed(2)} s`]),
            ["l", "r"],
          ),
          "",
        ]),
    "## State distribution",
    "",
    table(
      ["State", "Type", "Advisories", "Share"],
      summary.stateDistribution.map((entry) => [
        entry.state,
        entry.state_type,
        entry.count,
        summary.advisoryCount ? `${((100 * entry.count) / summary.advisoryCount).toFixed(1)} %` : "-",
      ]),
      ["l", "l", "r", "r"],
    ),
    "",
    "## State transitions",
    "",
    summary.transitions.length === 0
      ? "No advisory changed its decision in this run."
      : table(
          ["From", "To", "Advisories"],
          summary.transitions.map((entry) => [
            entry.from ?? "(new)",
            entry.to ?? "(no longer listed)",
            entry.count,
          ]),
          ["l", "l", "r"],
        ),
    "",
    "## Rules fired",
    "",
    table(
      ["Priority", "Rule", "State", "Reason code", "Advisories"],
      summary.rules.map((rule) => [
        rule.priority,
        rule.rule_id,
        rule.state,
        rule.reason_code,
        rule.advisory_count,
      ]),
      ["r", "l", "l", "l", "r"],
    ),
    "",
    "## Sources",
    "",
    table(
      [
        "Source",
        "Status",
        "Observations",
        "Rejected",
        "Size",
        "Requests",
        "Retries",
        ...(summary.clockPinned ? [] : ["Duration"]),
        "Data age",
        "Last good fetch",
        "Note",
      ],
      summary.sources.map((source) => [
        source.source,
        source.status,
        source.health.observations,
        source.health.rejected,
        bytes(source.health.bytes),
        source.health.requests,
        source.health.retries,
        ...(summary.clockPinned ? [] : [seconds(source.health.durationMs)]),
        source.lastGoodFetchAt
          ? age(summary.asOf.getTime() - new Date(source.lastGoodFetchAt).getTime())
          : "-",
        source.lastGoodFetchAt ?? "never",
        source.health.error
          ? `failed: ${source.health.error}; ${source.lastGoodFetchAt ? `last good data from ${source.lastGoodFetchAt} kept in use` : "no earlier data to fall back on"}`
          : source.health.status === "skipped"
            ? `not fetched (--source); ${source.lastGoodFetchAt ? `last good data from ${source.lastGoodFetchAt} kept in use` : "no earlier data to fall back on"}`
            : source.unchanged
              ? "not modified upstream (conditional request); previous data kept"
              : source.newSnapshot
                ? `new data, ${source.newObservations} new observations`
                : "same content as an earlier run",
      ]),
      ["l", "l", "r", "r", "r", "r", "r", ...(summary.clockPinned ? [] : ["r" as const]), "r", "l", "l"],
    ),
    "",
    "## Quality checks",
    "",
    table(
      ["Check", "Severity", "Result", "Failing", "What it checks"],
      summary.checks.map((check) => [
        check.checkId,
        check.severity,
        check.passed ? "passed" : "FAILED",
        check.failingCount,
        check.detail,
      ]),
      ["l", "l", "l", "r", "l"],
    ),
  ];
  for (const check of checksFailed) {
    lines.push("", `### ${cell(check.checkId)} (${check.failingCount})`, "");
    for (const example of check.examples) lines.push(`- ${linkAdvisory(example, summary.publicUrl)}`);
    if (check.failingCount > check.examples.length)
      lines.push(`- … and ${check.failingCount - check.examples.length} more`);
  }
  lines.push("", "## Rejected input records", "");
  if (summary.rejectedTotal === 0) {
    lines.push("None: every input record was accepted.");
  } else {
    lines.push(
      table(
        ["Source", "Where", "Problem"],
        summary.rejected.map((rejected) => [
          rejected.source,
          `${rejected.file ?? ""}${rejected.line !== null ? `:${rejected.line}` : ""}${rejected.key ? ` ${rejected.key}` : ""}`,
          rejected.reason,
        ]),
      ),
    );
    if (summary.rejectedTotal > summary.rejected.length) {
      lines.push(
        "",
        `Showing ${summary.rejected.length} of ${summary.rejectedTotal}; all are in meta.rejected_records.`,
      );
    }
  }
  lines.push("");
  return lines.join("\n");
}

/** How many advisories are in each state, most first. */
export async function readStateDistribution(db: Database): Promise<StateCount[]> {
  return db.all<StateCount>(`
    select state, state_type, count(*)::integer as count
    from marts.mart_advisory_current
    group by all
    order by count desc, state
  `);
}
