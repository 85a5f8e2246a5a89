import { z } from "zod";

/**
 * A run's id is its clock in UTC to the second, `20260131T070500Z`: sortable, safe in file names, and the
 * same for the same clock, so running again with a pinned clock is the same run done again. Ledger files,
 * per-run summaries and reports are named by it.
 */
export const runIdPattern = /^\d{8}T\d{6}Z$/;

/** The same pattern without anchors, for building file-name patterns around it. */
const runIdSource = runIdPattern.source.slice(1, -1);

export const runIdSchema = z.string().regex(runIdPattern, "must be a run id such as 20260131T070000Z");

/** 2026-01-31T07:05:00.000Z → 20260131T070500Z. */
export function runIdOf(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

/** 20260131T070000Z → 2026-01-31T07:00:00.000Z; anything that is not a run id comes back as it is. */
export function timeOfRunId(runId: string): string {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(runId);
  if (!match) return runId;
  const [, year, month, day, hour, minute, second] = match;
  return `${year}-${month}-${day}T${hour}:${minute}:${second}.000Z`;
}

/** A pattern matching `<prefix><run id><suffix>` whose first group is the run id. */
export function runIdFileNamePattern(prefix: string, suffix: string): RegExp {
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${literal(prefix)}(${runIdSource})${literal(suffix)}$`);
}
