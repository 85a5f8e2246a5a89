import { log } from "./log.ts";

/**
 * For the crash tests only: when `ECHO_TEST_PAUSE_AT` names this point, the process logs that it is pausing
 * and stops itself (SIGSTOP), so the test's SIGKILL lands exactly here rather than wherever a timer happens
 * to catch it. The log line is in the pipe before the stop: writes to a pipe are synchronous on Linux.
 * Points: `after:<stage>` once a stage has reported finishing, `load:observations-landed` inside the load's
 * transaction, before it commits.
 */
export function pauseHereForCrashTest(point: string): void {
  if (process.env.ECHO_TEST_PAUSE_AT !== point) return;
  log.info("paused for a crash test", { point });
  process.kill(process.pid, "SIGSTOP");
}
