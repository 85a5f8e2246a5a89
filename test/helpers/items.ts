import { PipelineError } from "../../pipeline/lib/errors.ts";
import type { FetchItem, Rejection } from "../../pipeline/sources/types.ts";

/** The observations among an adapter's or parser's items, in order. */
export function observations<Observation>(items: readonly FetchItem<Observation, unknown>[]): Observation[] {
  return items.flatMap((item) => (item.kind === "observation" ? [item.observation] : []));
}

/** The rejections among an adapter's or parser's items, in order. */
export function rejections<Observation>(items: readonly FetchItem<Observation, unknown>[]): Rejection[] {
  return items.flatMap((item) => (item.kind === "rejected" ? [item.rejection] : []));
}

/** The facts among an adapter's or parser's items (FetchItem "facts"), in order. */
export function factsOf<Facts>(items: readonly FetchItem<unknown, Facts>[]): Facts[] {
  return items.flatMap((item) => (item.kind === "facts" ? [item.facts] : []));
}

/** Runs `action` and returns the PipelineError it throws; anything else fails the test. */
export function pipelineErrorFrom(action: () => unknown): PipelineError {
  try {
    action();
  } catch (error) {
    if (error instanceof PipelineError) return error;
    throw error;
  }
  throw new Error("expected a PipelineError, nothing was thrown");
}
