import { errorMessage } from "./lib/errors.ts";
import { log } from "./lib/log.ts";
import type { LandingValue, Rejection, SourceAdapter, SourceHealth } from "./sources/types.ts";

export interface IngestedSource {
  // biome-ignore lint/suspicious/noExplicitAny: adapters differ only in their observation type
  adapter: SourceAdapter<any>;
  fetchedAt: Date;
  /** Landing rows in input order; undefined when the source failed. */
  rows: LandingValue[][] | undefined;
  /** Position of each row in the input (CSV line number, or order), parallel to `rows`. */
  positions: number[];
  rejections: Rejection[];
  health: SourceHealth;
}

/**
 * Fetches every source concurrently. A source that fails is logged and recorded, and the run goes on:
 * the load stage keeps its last good snapshot in use.
 */
export async function ingestSources(
  // biome-ignore lint/suspicious/noExplicitAny: see IngestedSource
  adapters: readonly SourceAdapter<any>[],
  clock: Date,
): Promise<IngestedSource[]> {
  return Promise.all(
    adapters.map(async (adapter): Promise<IngestedSource> => {
      const rows: LandingValue[][] = [];
      const positions: number[] = [];
      const rejections: Rejection[] = [];
      try {
        for await (const item of adapter.fetch()) {
          if (item.kind === "observation") {
            rows.push(adapter.toLandingRow(item.observation));
            positions.push(adapter.positionOf?.(item.observation) ?? rows.length);
          } else {
            rejections.push(item.rejection);
          }
        }
        const health = adapter.health();
        log.info("source fetched", {
          source: adapter.name,
          observations: health.observations,
          rejected: health.rejected,
          bytes: health.bytes,
          duration_ms: health.durationMs,
        });
        return { adapter, fetchedAt: clock, rows, positions, rejections, health };
      } catch (error) {
        log.error("source failed; its last good data stays in use", {
          source: adapter.name,
          error: errorMessage(error),
        });
        return {
          adapter,
          fetchedAt: clock,
          rows: undefined,
          positions: [],
          rejections,
          health: adapter.health(),
        };
      }
    }),
  );
}
