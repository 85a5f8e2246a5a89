#!/usr/bin/env node
import { parseArgs } from "node:util";
import { isClockPinned, resolveClock } from "./lib/clock.ts";
import { errorMessage, PipelineError } from "./lib/errors.ts";
import { log } from "./lib/log.ts";
import { runPipeline } from "./run.ts";

const usage = `Usage: npm run pipeline -- [options]

Runs one pipeline run: ingest data.json and the not-applicable CSV, load them into DuckDB, decide every
advisory with dbt, and write output/advisory_current.json, output/run_summary.json, a run report and,
when decisions changed, the run's history file (output/history/transitions/<run id>.jsonl).

Options:
  --config <path>   configuration file (default: config.yaml in the current directory)
  --as-of <time>    pin the run's clock (ISO-8601, whole seconds); SOURCE_DATE_EPOCH does the
                    same. The clock is the run's id: the same clock again re-runs that run,
                    an earlier clock than the latest run is refused
  --revalidate      look up advisories in final states again and ignore checkpoints and
                    conditional requests (a full re-validation; slow against live sources)
  -h, --help        show this help

Exit codes:
  0  the run succeeded
  1  the run failed (the message says where); published outputs were left as they were
  2  bad usage or an invalid configuration
`;

async function main(): Promise<number> {
  let values: { config?: string; "as-of"?: string; revalidate?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: "string" },
        "as-of": { type: "string" },
        revalidate: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const asOf = resolveClock(values["as-of"]);
  const outcome = await runPipeline({
    configPath: values.config ?? "config.yaml",
    asOf,
    clockPinned: isClockPinned(values["as-of"]),
    revalidate: values.revalidate ?? false,
  });
  const { summary } = outcome;
  const lines = [
    `Run ${outcome.runId}: ${summary.advisoryCount} advisories`,
    ...summary.stateDistribution.map(
      (entry) => `  ${entry.state.padEnd(20)} ${String(entry.count).padStart(8)}`,
    ),
    "Stage timings:",
    ...summary.stages.map(
      (stage) => `  ${stage.stage.padEnd(20)} ${(stage.durationMs / 1000).toFixed(2).padStart(8)} s`,
    ),
    `  ${"total".padEnd(20)} ${(summary.stages.reduce((sum, stage) => sum + stage.durationMs, 0) / 1000).toFixed(2).padStart(8)} s`,
    `Decision changes recorded: ${outcome.transitionCount}`,
    `Checks: ${summary.checks.filter((check) => check.passed).length} passed, ${summary.checks.filter((check) => !check.passed).length} failed`,
    `Wrote ${outcome.files.advisoryCurrent}`,
    `Wrote ${outcome.files.report}`,
    `Wrote ${outcome.files.summary}`,
    ...(outcome.files.ledger ? [`Wrote ${outcome.files.ledger}`] : []),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof PipelineError) {
      log.error(error.describe());
      process.exitCode = error.exitCode;
    } else {
      log.error("unexpected failure", {
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      process.exitCode = 1;
    }
  },
);
