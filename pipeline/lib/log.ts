/**
 * Structured logging: one JSON object per line in CI or when stderr is not a terminal (machines read it),
 * `time level message key=value` on a terminal (people read it). Logs go to stderr; stdout stays for
 * command output such as `--help`.
 */
type Level = "debug" | "info" | "warn" | "error";
type Fields = Record<string, unknown>;

const jsonLogs = process.env.CI === "true" || process.env.ECHO_LOG_FORMAT === "json" || !process.stderr.isTTY;
const quiet = process.env.ECHO_LOG_LEVEL === "quiet";

function write(level: Level, message: string, fields: Fields = {}): void {
  if (quiet && level !== "error") return;
  if (jsonLogs) {
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`,
    );
    return;
  }
  const rendered = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  process.stderr.write(`${level.padEnd(5)} ${message}${rendered ? ` ${rendered}` : ""}\n`);
}

export const log = {
  debug: (message: string, fields?: Fields) => {
    if (process.env.ECHO_LOG_LEVEL === "debug") write("debug", message, fields);
  },
  info: (message: string, fields?: Fields) => write("info", message, fields),
  warn: (message: string, fields?: Fields) => write("warn", message, fields),
  error: (message: string, fields?: Fields) => write("error", message, fields),
};
