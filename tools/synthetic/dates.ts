import type { Random } from "./random.ts";

/** The dataset's own "now": every date in it lies before this, whatever day it is generated. */
export const referenceTime = Date.UTC(2026, 2, 1);
const dayMs = 86_400_000;

/** A moment in `year` (before the reference time), to the millisecond. */
export function momentInYear(year: number, random: Random): number {
  const start = Date.UTC(year, 0, 1);
  const end = Math.min(Date.UTC(year + 1, 0, 1), referenceTime - dayMs);
  return start + Math.floor(random.next() * Math.max(dayMs, end - start));
}

/** A moment between `from` and the reference time. */
export function momentAfter(from: number, random: Random): number {
  const end = referenceTime - 3_600_000;
  return from >= end ? from : from + Math.floor(random.next() * (end - from));
}

/** NVD's form: extended ISO-8601 without a zone, milliseconds. */
export function nvdTime(moment: number): string {
  return new Date(moment).toISOString().slice(0, 23);
}

/** OSV's form: RFC 3339 in UTC with microseconds (the last three digits made up from the moment). */
export function osvTime(moment: number): string {
  const micro = String(moment % 997).padStart(3, "0");
  return `${new Date(moment).toISOString().slice(0, 23)}${micro}Z`;
}
