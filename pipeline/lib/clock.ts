import { PipelineError } from "./errors.ts";

/**
 * The run's notion of "now". `--as-of` or SOURCE_DATE_EPOCH pin it so that the same inputs and clock give
 * byte-identical outputs; otherwise it is the wall clock at the start of the run.
 */
export function resolveClock(asOf: string | undefined, env: NodeJS.ProcessEnv = process.env): Date {
  if (asOf !== undefined) {
    const parsed = new Date(asOf);
    if (Number.isNaN(parsed.getTime())) {
      throw new PipelineError(`--as-of '${asOf}' is not a date`, {
        hint: "use an ISO-8601 timestamp such as 2026-01-31T00:00:00Z",
        exitCode: 2,
      });
    }
    return parsed;
  }
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && epoch !== "") {
    if (!/^\d+$/.test(epoch)) {
      throw new PipelineError(`SOURCE_DATE_EPOCH '${epoch}' is not a whole number of seconds`, {
        exitCode: 2,
      });
    }
    return new Date(Number(epoch) * 1000);
  }
  return new Date();
}

/** True when --as-of or SOURCE_DATE_EPOCH fixes the clock (outputs must then be reproducible). */
export function isClockPinned(asOf: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return asOf !== undefined || (env.SOURCE_DATE_EPOCH !== undefined && env.SOURCE_DATE_EPOCH !== "");
}
