import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot, sharedDataDir } from "../../test/helpers/workspace.ts";
import {
  csvStepName,
  dataStepName,
  type FloorCaseResult,
  type FloorJob,
  nvdStepName,
  osvStepName,
  type StateCounts,
  trackerStepName,
} from "./floor-measure.ts";
import type { GeneratedBenchFigures, RealDataBenchFigures } from "./pipeline-bench.ts";
import { generatedDataset } from "./pipeline-bench.ts";

/**
 * The floor (issue 21): the reading and counting a run must do, with nothing but DuckDB, so that each
 * measured case can be read as a multiple of it. Each case runs in a fresh Node process (as a pipeline run
 * does, so both figures carry Node's own start and memory) with one in-memory DuckDB opened as the pipeline
 * opens its database, and reports the process's peak RSS as the kernel counted it.
 */

/** A count a case's step reported, 0 when the step did not run. */
const stepCount = (floorCase: FloorCaseResult, step: string, name: string) =>
  floorCase.steps.find((candidate) => candidate.step === step)?.counts[name] ?? 0;

export interface FloorCaseFigures extends FloorCaseResult {
  label: string;
  /** The child process from spawn to exit, as pipeline runs are timed. */
  wall_seconds: number;
  peak_rss_mb: number;
}

/** Runs a job in a fresh Node process (tools/bench/floor-run.ts) and times it from outside. */
export async function runFloorJob(label: string, job: FloorJob): Promise<FloorCaseFigures> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(repoRoot, "tools/bench/floor-run.ts"), JSON.stringify(job)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exitCode = await new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
  const wallSeconds = (performance.now() - started) / 1000;
  if (exitCode !== 0)
    throw new Error(`${label}: the floor run failed (exit ${exitCode}): ${stderr.slice(-2000)}`);
  const result = JSON.parse(stdout) as FloorCaseResult & { max_rss_bytes: number };
  const { max_rss_bytes: maxRssBytes, ...figures } = result;
  return {
    label,
    ...figures,
    wall_seconds: round(wallSeconds, 2),
    peak_rss_mb: Math.round(maxRssBytes / 1_048_576),
  };
}

/** A case the other sections measured, beside the floor of the same data. */
export interface FloorComparison {
  case: string;
  floor: string;
  floor_seconds: number;
  floor_peak_rss_mb: number;
  /** Null when output/bench.json holds no figure for the case (its section has not run here). */
  measured_seconds: number | null;
  measured_peak_rss_mb: number | null;
  measured_at: string | null;
  /** Why no figure is compared, when none is. */
  note?: string;
  target: string;
}

export interface FloorBenchFigures {
  duckdb: string;
  node: string;
  measured_at: string;
  scale: number;
  seed: number;
  generate_seconds: number | null;
  /**
   * The issue's floor for (a) and (b); and, each in its own process and outside the ratios, two more things
   * the ×N run reads: the Debian tracker, and OSV's zip (inflated by the pipeline's reader, not DuckDB).
   */
  cases: {
    real: FloorCaseFigures;
    generated: FloorCaseFigures;
    tracker: FloorCaseFigures;
    osv_zip: FloorCaseFigures;
  };
  /** The manifest's counts for the generated data, to check the floor read all of it. */
  generated_manifest: Record<string, number>;
  /** The real-data pipeline run's states as output/bench.json has them (null when absent). */
  pipeline_states: Record<string, number> | null;
  comparisons: FloorComparison[];
}

/** The issue's targets (issue 21), shown beside each case. */
const targets = {
  real_new: "≤ 6 s",
  real_unchanged: "≤ 3 s",
  generated_new: "≤ 120 s, ≤ 2 GB",
  site_real: "≤ 4 s, ≤ 500 MB",
  site_generated: "≤ 30 s, ≤ 1 GB",
} as const;

/**
 * The floor section: the real data in ../shared, and the generated data at `scale` (the pipeline_generated
 * section's, generated now if no benchmark left it), each compared with `previous` (output/bench.json).
 */
export async function runFloorBench(
  scale: number,
  seed: number,
  previous: Record<string, unknown>,
): Promise<FloorBenchFigures> {
  const real = await runFloorJob("(a) real data", {
    kind: "duckdb",
    inputs: {
      dataJson: join(sharedDataDir, "echo/data.json"),
      csv: join(sharedDataDir, "echo/advisory_not_applicable.csv"),
    },
  });
  const dataset = await generatedDataset(scale, seed);
  const generated = await runFloorJob(`(b) generated ×${scale}`, {
    kind: "duckdb",
    inputs: {
      dataJson: join(dataset.dataDir, "data.json"),
      csv: join(dataset.dataDir, "advisory_not_applicable.csv"),
      nvdDir: join(dataset.dataDir, "nvd"),
      osvDir: join(dataset.dataDir, "osv", "records"),
    },
  });
  const tracker = await runFloorJob(`(b) ×${scale}: Debian tracker`, {
    kind: "tracker",
    path: join(dataset.dataDir, "debian_tracker.json"),
  });
  const osvZip = await runFloorJob(`(b) ×${scale}: OSV all.zip, no DuckDB`, {
    kind: "inflate",
    zip: join(dataset.dataDir, "osv", "all.zip"),
  });
  const counts = dataset.manifest.counts;
  return {
    duckdb: real.duckdb,
    node: process.version,
    measured_at: new Date().toISOString(),
    scale,
    seed,
    generate_seconds: dataset.generateSeconds,
    cases: { real, generated, tracker, osv_zip: osvZip },
    generated_manifest: {
      advisories: counts.advisories,
      open_advisories: counts.open_advisories,
      not_applicable_rows: counts.not_applicable_rows,
      nvd_records: counts.nvd_records,
      nvd_rejected: counts.nvd_rejected,
      osv_records: counts.osv_records,
      osv_withdrawn: counts.osv_withdrawn,
      tracker_entries: counts.tracker_entries,
      tracker_release_entries: counts.tracker_release_entries,
    },
    pipeline_states:
      (previous.pipeline_real_data as RealDataBenchFigures | undefined)?.runs?.[0]?.states ?? null,
    comparisons: compareWithMeasured(real, generated, scale, previous),
  };
}

/** Each case the other sections measure, beside the floor of its data and the issue's target. */
export function compareWithMeasured(
  real: FloorCaseFigures,
  generated: FloorCaseFigures,
  scale: number,
  previous: Record<string, unknown>,
): FloorComparison[] {
  const realData = previous.pipeline_real_data as RealDataBenchFigures | undefined;
  const generatedData = previous.pipeline_generated as GeneratedBenchFigures | undefined;
  // Another scale's figures are no multiple of this floor: they are left out, saying so.
  const otherScale =
    generatedData && generatedData.scale !== scale
      ? `output/bench.json has pipeline_generated at ×${generatedData.scale}, not ×${scale}`
      : undefined;
  const sameScale = otherScale ? undefined : generatedData;
  const row = (
    name: string,
    floor: FloorCaseFigures,
    target: string,
    measured: { seconds: number; rss: number; at: string } | undefined,
    note: string | undefined,
  ): FloorComparison => ({
    case: name,
    floor: floor.label,
    floor_seconds: floor.wall_seconds,
    floor_peak_rss_mb: floor.peak_rss_mb,
    measured_seconds: measured?.seconds ?? null,
    measured_peak_rss_mb: measured?.rss ?? null,
    measured_at: measured?.at ?? null,
    ...(measured === undefined
      ? { note: note ?? "no figure in output/bench.json (not measured here, or its run failed)" }
      : {}),
    target,
  });
  const run = (figures: RealDataBenchFigures | undefined, index: number) => {
    const found = figures?.runs?.[index];
    return found && found.failure === undefined
      ? { seconds: found.wall_seconds, rss: found.peak_rss_mb, at: figures.measured_at }
      : undefined;
  };
  const site = (figures: RealDataBenchFigures | undefined) => {
    const found = figures?.sites?.[0];
    return found && found.failure === undefined
      ? { seconds: found.build_seconds, rss: found.peak_rss_mb, at: figures.measured_at }
      : undefined;
  };
  return [
    row("real data, new database", real, targets.real_new, run(realData, 0), undefined),
    row("real data, nothing changed", real, targets.real_unchanged, run(realData, 1), undefined),
    row(`×${scale}, new database`, generated, targets.generated_new, run(sameScale, 0), otherScale),
    row("site, real data", real, targets.site_real, site(realData), undefined),
    row(`site, ×${scale}`, generated, targets.site_generated, site(sameScale), otherScale),
  ];
}

export function floorBenchTable(figures: FloorBenchFigures): string {
  const seconds = (value: number) => `${value.toFixed(2)} s`;
  const megabytes = (value: number) => `${value.toLocaleString("en")} MB`;
  const number = (value: number) => value.toLocaleString("en");
  const countsText = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([name, value]) => `${name.replaceAll("_", " ")} ${number(value)}`)
      .join(", ");
  const lines = [
    `Floor: the same inputs read with nothing but DuckDB ${figures.duckdb}, each case in a fresh Node ${figures.node} process`,
    `${"floor case".padEnd(40)}${"time".padStart(10)}${"peak RSS".padStart(11)}`,
  ];
  const { real: realCase, generated, tracker, osv_zip: osvZip } = figures.cases;
  for (const floorCase of [realCase, generated, tracker, osvZip]) {
    lines.push(
      `${floorCase.label.padEnd(40)}${seconds(floorCase.wall_seconds).padStart(10)}${megabytes(floorCase.peak_rss_mb).padStart(11)}`,
    );
    for (const step of floorCase.steps) {
      lines.push(
        `  ${step.step.padEnd(38)}${seconds(step.seconds).padStart(10)}  ${countsText(step.counts)}`,
      );
    }
  }
  lines.push(
    "  The floor is (a) and (b), as issue 21 lists it. The run also reads the tracker, shown on its own and",
    "  outside the ratios. DuckDB reads no zip (none is built in; extensions are never downloaded): (b) reads",
    "  the OSV records from the folder the generator writes beside all.zip, and the zip's inflation is timed",
    "  apart, in the pipeline's own zip reader.",
  );

  const real = realCase.states;
  if (real) {
    const pipeline = figures.pipeline_states;
    lines.push(
      "",
      `${"states, no upstream signal".padEnd(28)}${"floor".padStart(10)}${"pipeline (a)".padStart(14)}`,
    );
    for (const state of ["not_applicable", "fixed", "under_investigation"] as const) {
      const measured = pipeline?.[state];
      lines.push(
        `${state.padEnd(28)}${number(real[state]).padStart(10)}${(measured === undefined ? "–" : number(measured)).padStart(14)}`,
      );
    }
    const others = Object.entries(pipeline ?? {}).filter(
      ([state]) => !["not_applicable", "fixed", "under_investigation"].includes(state),
    );
    for (const [state, count] of others) {
      lines.push(`${state.padEnd(28)}${"0".padStart(10)}${number(count).padStart(14)}`);
    }
    lines.push(
      pipeline === null
        ? "  No pipeline states in output/bench.json yet: run `npm run bench -- pipeline_real_data` to compare."
        : statesAgreement(real, pipeline),
    );
  }
  if (generated.states) {
    const manifest = figures.generated_manifest;
    const pair = (read: number, expected: number | undefined) => `${number(read)} / ${number(expected ?? 0)}`;
    lines.push(
      "",
      `generated ×${figures.scale} (seed ${figures.seed}${figures.generate_seconds === null ? ", generated earlier" : `, generated in ${figures.generate_seconds} s`}): what the floor read / the manifest`,
      `  advisories ${pair(generated.states.advisories, manifest.advisories)}, without a fixed version ${pair(stepCount(generated, dataStepName, "without_fixed_version"), manifest.open_advisories)}, CSV rows ${pair(stepCount(generated, csvStepName, "rows"), manifest.not_applicable_rows)}`,
      `  NVD ${pair(stepCount(generated, nvdStepName, "records"), manifest.nvd_records)} (rejected ${pair(stepCount(generated, nvdStepName, "rejected"), manifest.nvd_rejected)}), OSV ${pair(stepCount(generated, osvStepName, "records"), manifest.osv_records)} (withdrawn ${pair(stepCount(generated, osvStepName, "withdrawn"), manifest.osv_withdrawn)})`,
      `  tracker entries ${pair(stepCount(tracker, trackerStepName, "entries"), manifest.tracker_entries)} (in releases ${pair(stepCount(tracker, trackerStepName, "release_entries"), manifest.tracker_release_entries)})`,
    );
  }

  lines.push(
    "",
    [
      "case".padEnd(30),
      "floor".padStart(9),
      "floor RSS".padStart(10),
      "measured".padStart(10),
      "meas. RSS".padStart(10),
      "time ×".padStart(8),
      "RSS ×".padStart(7),
      "  target",
    ].join(""),
  );
  for (const comparison of figures.comparisons) {
    const measured = comparison.measured_seconds;
    const rss = comparison.measured_peak_rss_mb;
    lines.push(
      [
        comparison.case.padEnd(30),
        seconds(comparison.floor_seconds).padStart(9),
        megabytes(comparison.floor_peak_rss_mb).padStart(10),
        (measured === null ? "–" : `${measured.toFixed(1)} s`).padStart(10),
        (rss === null ? "–" : megabytes(rss)).padStart(10),
        (measured === null ? "–" : ratio(measured, comparison.floor_seconds)).padStart(8),
        (rss === null ? "–" : ratio(rss, comparison.floor_peak_rss_mb)).padStart(7),
        `  ${comparison.target}`,
      ].join(""),
    );
  }
  const notes = [...new Set(figures.comparisons.flatMap((comparison) => comparison.note ?? []))];
  for (const note of notes) lines.push(`  –: ${note}`);
  lines.push(
    "  Measured: the last figures in output/bench.json (pipeline_real_data, pipeline_generated); a site case",
    "  is set against the floor of its data. The NVD, OSV and tracker records the real-data run also reads",
    "  (a few hundred) are not in the floor.",
  );
  return lines.join("\n");
}

/** Whether the floor's states and the pipeline's agree, and if not, by how much. */
export function statesAgreement(floor: StateCounts, pipeline: Record<string, number>): string {
  const states = new Set([...Object.keys(pipeline), "not_applicable", "fixed", "under_investigation"]);
  const differences = [...states]
    .map((state) => ({
      state,
      difference: (pipeline[state] ?? 0) - (floor[state as keyof StateCounts] ?? 0),
    }))
    .filter(({ difference }) => difference !== 0);
  if (differences.length === 0) return "  The floor's states agree with the pipeline's.";
  const listed = differences
    .map(({ state, difference }) => `${state} ${difference > 0 ? "+" : ""}${difference}`)
    .join(", ");
  return `  They differ (pipeline minus floor: ${listed}): the pipeline run also reads the real upstream records, which can move an advisory.`;
}

function ratio(measured: number, floor: number): string {
  if (floor <= 0) return "–";
  const value = measured / floor;
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)}×`;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
