/**
 * Expected failures carry where the problem is (file, line, key) and what to do about it, so the CLI can
 * print one clear message instead of a stack trace.
 */
export interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
  key?: string;
}

export class PipelineError extends Error {
  readonly location: ErrorLocation;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(
    message: string,
    options: { location?: ErrorLocation; hint?: string; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PipelineError";
    this.location = options.location ?? {};
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }

  /** `file:line:column key: message (hint)`, the shape editors and CI annotations understand. */
  describe(): string {
    return `${formatLocation(this.location)}${this.message}${this.hint ? ` (${this.hint})` : ""}`;
  }
}

export function formatLocation(location: ErrorLocation): string {
  const parts: string[] = [];
  if (location.file) {
    let place = location.file;
    if (location.line !== undefined) place += `:${location.line}`;
    if (location.line !== undefined && location.column !== undefined) place += `:${location.column}`;
    parts.push(place);
  }
  if (location.key) parts.push(`key ${location.key}`);
  return parts.length > 0 ? `${parts.join(" ")}: ` : "";
}

export function errorMessage(error: unknown): string {
  if (error instanceof PipelineError) return error.describe();
  if (error instanceof Error) return error.message;
  return String(error);
}
