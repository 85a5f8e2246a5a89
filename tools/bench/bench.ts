import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../../pipeline/lib/files.ts";
import { floorBenchTable, runFloorBench } from "./floor-bench.ts";
import { nvdBenchTable, runNvdBench } from "./nvd-bench.ts";
import { pipelineBenchTable, runGeneratedBench, runRealDataBench } from "./pipeline-bench.ts";
import { runSiteBench, siteBenchTable } from "./site-bench.ts";

/**
 * `npm run bench [-- section …]`: runs the benchmark sections (all by default), prints each one's table and
 * merges their figures into output/bench.json, keyed by section, written atomically. A new benchmark adds
 * one entry to `sections`. The whole run is bounded: it exits with status 1 once the chosen sections'
 * budgets are spent (ECHO_BENCH_BUDGET_MINUTES replaces their sum).
 */

interface Section {
  name: string;
  /** How long the section may take, far above its target: past it the benchmark is stuck, not slow. */
  budgetMinutes: number;
  run(): Promise<{ figures: object; table: string }>;
}

const sections: Section[] = [
  {
    name: "pipeline_real_data",
    budgetMinutes: 10,
    async run() {
      const result = await runRealDataBench();
      return { figures: result, table: pipelineBenchTable(result.runs, result.sites) };
    },
  },
  {
    // ECHO_BENCH_SCALE picks another scale (1 = the vendor's size) for a quicker look.
    name: "pipeline_generated",
    // The ×25 run is far from its 120 s target today (docs/development.md); the budget lets it finish.
    budgetMinutes: 45,
    async run() {
      const scale = Number(process.env.ECHO_BENCH_SCALE ?? 25);
      const result = await runGeneratedBench(scale, 7);
      const inputLine = `generated ×${scale} (seed 7): ${result.input.advisories.toLocaleString("en")} advisories, ${result.input.nvd_records.toLocaleString("en")} NVD and ${result.input.osv_records.toLocaleString("en")} OSV records${result.generate_seconds === null ? " (generated earlier)" : `, generated in ${result.generate_seconds} s`}`;
      return { figures: result, table: `${inputLine}\n${pipelineBenchTable(result.runs, result.sites)}` };
    },
  },
  {
    name: "nvd_live_340k",
    budgetMinutes: 10,
    async run() {
      const result = await runNvdBench({ records: 340_000, timeoutMs: 8 * 60_000 });
      return { figures: result, table: nvdBenchTable(result) };
    },
  },
  {
    name: "site_real_data",
    budgetMinutes: 5,
    async run() {
      const result = await runSiteBench();
      return { figures: result, table: siteBenchTable(result) };
    },
  },
  {
    // Last, so that a whole benchmark sets the floor against the figures it has just measured.
    name: "floor",
    // The reading takes about a minute; generating the ×25 data, when no benchmark has yet, three to six more.
    budgetMinutes: 20,
    async run() {
      const scale = Number(process.env.ECHO_BENCH_SCALE ?? 25);
      const result = await runFloorBench(scale, 7, await previousFigures());
      return { figures: result, table: floorBenchTable(result) };
    },
  },
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const outputFile = join(root, "output", "bench.json");

async function previousFigures(): Promise<Record<string, unknown>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(outputFile, "utf8"));
    return parsed && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  if (wanted.includes("--help") || wanted.includes("-h")) {
    console.log(
      `Usage: npm run bench [-- section …]\n\nRuns the chosen sections (all by default) and merges their figures into ${outputFile}.\nSections: ${sections.map((section) => `${section.name} (at most ${section.budgetMinutes} min)`).join(", ")}`,
    );
    return 0;
  }
  const unknown = wanted.filter((name) => !sections.some((section) => section.name === name));
  if (unknown.length > 0) {
    console.error(
      `unknown bench section(s): ${unknown.join(", ")}; known: ${sections.map((s) => s.name).join(", ")}`,
    );
    return 2;
  }
  const chosen = wanted.length > 0 ? sections.filter((section) => wanted.includes(section.name)) : sections;
  const budgetMinutes =
    Number(process.env.ECHO_BENCH_BUDGET_MINUTES) ||
    chosen.reduce((sum, section) => sum + section.budgetMinutes, 0);
  const deadline = setTimeout(() => {
    console.error(`bench: still running after ${budgetMinutes} minutes; stopping`);
    process.exit(1);
  }, budgetMinutes * 60_000);
  deadline.unref();
  let failed = false;
  let written = 0;
  for (const section of chosen) {
    try {
      const { figures, table } = await section.run();
      console.log(table);
      // Read just before writing, so sections (or other benchmark runs) never drop each other's figures.
      const merged = { ...(await previousFigures()), [section.name]: figures };
      await writeFileAtomic(outputFile, `${JSON.stringify(merged, null, 2)}\n`);
      written += 1;
    } catch (error) {
      failed = true;
      console.error(
        `bench ${section.name} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  if (written > 0) console.log(`figures written to ${outputFile}`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
