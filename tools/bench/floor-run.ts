import { type FloorJob, inflateZip, measureFloorCase, measureTracker } from "./floor-measure.ts";

/**
 * One floor job in its own process, started by floor-bench.ts: prints its figures as JSON, with the
 * process's peak RSS as the kernel counted it (exact, where sampling could miss a short peak).
 */
const job = JSON.parse(process.argv[2] ?? "null") as FloorJob;
const result =
  job.kind === "inflate"
    ? await inflateZip(job.zip)
    : job.kind === "tracker"
      ? await measureTracker(job.path)
      : await measureFloorCase(job.inputs);
// resourceUsage gives maxRSS in kilobytes.
process.stdout.write(
  `${JSON.stringify({ ...result, max_rss_bytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
