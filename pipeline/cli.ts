#!/usr/bin/env node
import { enableCompileCache } from "node:module";
import { parseArgs } from "node:util";

// Node type-strips and compiles every pipeline module at each start: about half a second of CPU, a sixth of
// an unchanged rerun. Its compile cache keeps both between runs (in the system's temporary folder, or
// NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off). It must be on before the modules load,
// so they are imported here rather than at the top.
enableCompileCache();
const { countsTitle } = await import("./formats/changes.ts");
const { runInspectCommand } = await import("./inspect.ts");
const { isClockPinned, resolveClock } = await import("./lib/clock.ts");
const { DbtSessionClient, dbtSessionSocketVariable } = await import("./lib/dbt-session-client.ts");
const { errorMessage, PipelineError } = await import("./lib/errors.ts");
const { log } = await import("./lib/log.ts");
const { EXIT_BLOCKED, runPipeline } = await import("./run.ts");
const { registry } = await import("./sources/registry.ts");
const { installedDbt, installedDbtProject } = await import("./stages/config.ts");

const usage = `Usage: npm run pipeline -- [options]

Runs one pipeline run: ingest data.json and the not-applicable CSV, load them into DuckDB, decide every
advisory with dbt, and write into the config's output_dir advisory_current.json, data.json, openvex.json
(the advisories as OpenVEX v0.2.0 statements), cve_facts.json (what the upstream records say about each
CVE), the run's change file (changes/<run id>.json) and changes.atom, run_summary.json, a run report and,
when decisions changed, the run's history file (history/transitions/<run id>.jsonl). The bundled sample (config.yaml) writes
into output/sample; the live configuration (config.live.yaml) into output.

Options:
  --config <path>   configuration file (default: config.yaml in the current directory)
  --as-of <time>    pin the run's clock (ISO-8601, whole seconds); SOURCE_DATE_EPOCH does the
                    same. The clock is the run's id: the same clock again re-runs that run,
                    an earlier clock than the latest run is refused
  --revalidate      look up advisories in final states again and ignore checkpoints and
                    conditional requests (a full re-validation; slow against live sources)
  --dry-run         compute everything and list the changes a run would make; write nothing to
                    the output directory (the exit code says whether it would publish)
  --accept-mass-change
                    publish even when more advisories change state than
                    quality.max_state_change_share allows (the report records it)
  --source <name>   fetch only this source (repeatable); the others keep their last good data,
                    which is not counted as stale (${registry.names.join(", ")})
  --rebuild         run dbt even when the decision inputs are those of the previous run (which
                    otherwise keeps that run's decisions and skips dbt)
  -h, --help        show this help

Inspect what runs recorded:
  npm run pipeline -- explain <package>:<CVE> [--config path] [--json]
  npm run pipeline -- history [--run <run id>] [--config path] [--json]

Exit codes:
  0  the run succeeded (and published, unless --dry-run)
  1  the run failed (the message says where); published outputs were left as they were
  2  bad usage or an invalid configuration
  3  not published: the publish guard found too many state changes or a failed error-severity
     check; everything was recorded, the report says why, published outputs were left as they were
`;

async function main(): Promise<number> {
  // Inspection sub-commands read what earlier runs recorded; everything else is a pipeline run.
  const [command, ...rest] = process.argv.slice(2);
  if (command === "explain" || command === "history") return runInspectCommand(command, rest);
  let values: {
    config?: string;
    "as-of"?: string;
    revalidate?: boolean;
    "dry-run"?: boolean;
    "accept-mass-change"?: boolean;
    source?: string[];
    rebuild?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: "string" },
        "as-of": { type: "string" },
        revalidate: { type: "boolean" },
        "dry-run": { type: "boolean" },
        "accept-mass-change": { type: "boolean" },
        source: { type: "string", multiple: true },
        rebuild: { type: "boolean" },
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
    dryRun: values["dry-run"] ?? false,
    acceptMassChange: values["accept-mass-change"] ?? false,
    rebuild: values.rebuild ?? false,
    ...(values.source ? { onlySources: values.source } : {}),
    ...dbtSessionServer(),
  });
  const { summary } = outcome;
  const failedChecks = summary.checks.filter((check) => !check.passed);
  const lines = [
    `Run ${outcome.runId}${summary.status === "dry_run" ? " (dry run)" : ""}: ${summary.advisoryCount} advisories`,
    ...summary.stateDistribution.map(
      (entry) => `  ${entry.state.padEnd(20)} ${String(entry.count).padStart(8)}`,
    ),
    "Stage timings:",
    ...summary.stages.map(
      (stage) => `  ${stage.stage.padEnd(20)} ${(stage.durationMs / 1000).toFixed(2).padStart(8)} s`,
    ),
    `  ${"total".padEnd(20)} ${(summary.stages.reduce((sum, stage) => sum + stage.durationMs, 0) / 1000).toFixed(2).padStart(8)} s`,
    ...(summary.dbt.reusedDecisionsOf === null
      ? []
      : [
          `dbt not run: the decision inputs are those of run ${summary.dbt.reusedDecisionsOf}, whose decisions stand`,
        ]),
    `Decision changes ${summary.status === "succeeded" ? "recorded" : "computed"}: ${outcome.transitionCount}`,
    ...summary.transitions.map(
      (entry) =>
        `  ${(entry.from ?? "(new)").padEnd(20)} → ${(entry.to ?? "(no longer listed)").padEnd(20)} ${entry.count}`,
    ),
    `Checks: ${summary.checks.length - failedChecks.length} passed, ${failedChecks.length} failed${failedChecks.length ? ` (${failedChecks.map((check) => `${check.checkId} ${check.severity}`).join(", ")})` : ""}`,
  ];
  if (summary.status === "dry_run") {
    lines.push(
      summary.publish.publish
        ? "Dry run: nothing was published; a real run would publish these changes."
        : `Dry run: nothing was published; a real run would NOT publish: ${summary.publish.reasons.join("; ")}`,
    );
  } else if (summary.status === "blocked") {
    lines.push(
      `NOT PUBLISHED (exit ${EXIT_BLOCKED}): ${summary.publish.reasons.join("; ")}`,
      "The previously published outputs were left in place.",
      `Wrote ${outcome.files.report}`,
      `Wrote ${outcome.files.summary}`,
    );
  } else {
    lines.push(
      `Wrote ${outcome.files.advisoryCurrent}`,
      `Wrote ${outcome.files.vendorFeed}`,
      `Wrote ${outcome.files.openVex}`,
      `Wrote ${outcome.files.cveFacts}`,
      `Wrote ${outcome.files.report}`,
      `Wrote ${outcome.files.summary}`,
      ...(outcome.files.ledger ? [`Wrote ${outcome.files.ledger}`] : []),
      ...(outcome.files.changes
        ? [
            `Wrote ${outcome.files.changes.path} (${countsTitle(outcome.files.changes.counts)})`,
            `Wrote ${outcome.files.changeFeed}`,
          ]
        : []),
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return outcome.exitCode;
}

/** A dbt session server to hand dbt to, when the environment names one (lib/dbt-session-client.ts). */
function dbtSessionServer(): { dbtSession?: InstanceType<typeof DbtSessionClient> } {
  const socketPath = process.env[dbtSessionSocketVariable];
  return socketPath
    ? { dbtSession: new DbtSessionClient(socketPath, installedDbt, installedDbtProject) }
    : {};
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
