#!/usr/bin/env node
import { parseArgs } from "node:util";
import { generateDataset, invalidOption, type Manifest, maxScale } from "./index.ts";

const usage = `Usage: npm run generate -- --scale <N> --seed <S> --out <dir>

Writes synthetic data in the real formats into <dir>: data.json, advisory_not_applicable.csv,
debian_tracker.json, osv/records/*.json and osv/all.zip (the same records), nvd/*.json (NVD API 2.0
pages), a config.yaml that runs the pipeline on them (file mode) and manifest.json (files, counts,
parameters). The same scale and seed always give byte-identical files.

Options:
  --scale <N>   size: 1 = the vendor's real size (40,625 advisories), 25 ≈ 1,000,000 advisories with
                full-size NVD (~340,000 records) and OSV (~520,000); fractions such as 0.002 make tiny
                datasets (at most ${maxScale})
  --seed <S>    integer from 0 to 4294967295 (default 1)
  --out <dir>   output directory (created if missing; only the files above are replaced)
  -h, --help    show this help

Then: node pipeline/cli.ts --config <dir>/config.yaml

Exit codes: 0 written, 1 failed while writing, 2 bad usage.
`;

function fail(message: string): number {
  process.stderr.write(`generate: ${message}\n\n${usage}`);
  return 2;
}

/** A number option as typed: the whole text must be a number ("1e-3" and "0.002" are, "2x" is not). */
function numberOption(text: string): number {
  return text.trim() === "" ? Number.NaN : Number(text);
}

function summary(manifest: Manifest, outDir: string, seconds: number): string {
  const lines = manifest.files.map(
    (file) =>
      `  ${file.path.padEnd(29)} ${String(file.records).padStart(9)} records  ${(file.bytes / 1_048_576).toFixed(1).padStart(8)} MB${file.files ? `  (${file.files} files)` : ""}`,
  );
  const counts = manifest.counts;
  return [
    `generated scale ${manifest.parameters.scale}, seed ${manifest.parameters.seed} into ${outDir} in ${seconds.toFixed(1)} s`,
    ...lines,
    `  advisories ${counts.advisories} (open ${counts.open_advisories}, TEMP ids ${counts.temp_ids}) in ${counts.packages} packages; ` +
      `NVD rejected ${counts.nvd_rejected}, disputed ${counts.nvd_disputed}; OSV withdrawn ${counts.osv_withdrawn}`,
    `run the pipeline on it: node pipeline/cli.ts --config ${outDir}/config.yaml`,
    "",
  ].join("\n");
}

async function main(): Promise<number> {
  let values: { scale?: string; seed?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        scale: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.scale === undefined) return fail("--scale is required (e.g. --scale 1)");
  if (values.out === undefined) return fail("--out is required (the directory to write into)");
  const options = {
    scale: numberOption(values.scale),
    seed: values.seed === undefined ? 1 : numberOption(values.seed),
    outDir: values.out,
  };
  if (Number.isNaN(options.scale))
    return fail(`--scale must be a number, got ${JSON.stringify(values.scale)}`);
  if (Number.isNaN(options.seed))
    return fail(`--seed must be an integer, got ${JSON.stringify(values.seed)}`);
  const problem = invalidOption(options);
  if (problem) return fail(`--${problem.option} ${problem.message}`);
  const started = performance.now();
  try {
    const manifest = await generateDataset(options);
    process.stdout.write(summary(manifest, options.outDir, (performance.now() - started) / 1000));
    return 0;
  } catch (error) {
    process.stderr.write(
      `generate: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}

process.exitCode = await main();
