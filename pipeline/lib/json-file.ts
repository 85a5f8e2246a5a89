import type { z } from "zod";
import { PipelineError } from "./errors.ts";

/**
 * A JSON file the pipeline wrote itself and reads back (a run summary, the published advisories): parsed and
 * checked against its schema. A damaged file stops the run naming the file and the key at fault, exit 2;
 * `notWhat` starts the message ("not a run summary").
 */
export function parseOwnJsonFile<Schema extends z.ZodType>(
  text: string,
  path: string,
  schema: Schema,
  notWhat: string,
  hint?: string,
): z.output<Schema> {
  const refuse = (message: string, key?: string) =>
    new PipelineError(`${notWhat}: ${message}`, {
      location: { file: path, ...(key === undefined ? {} : { key }) },
      ...(hint === undefined ? {} : { hint }),
      exitCode: 2,
    });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw refuse((error as Error).message);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refuse(issue?.message ?? "invalid", issue?.path.join(".") || "(file)");
  }
  return parsed.data;
}

/** Two-space indented JSON with a trailing newline, for small documents people read. */
export function serialiseJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
