import type { FetchContext } from "../../pipeline/sources/types.ts";

/** A fetch context for adapter tests: no package filter, no open advisories, no checkpoint. */
export function testFetchContext(overrides: Partial<FetchContext> = {}): FetchContext {
  return {
    asOf: new Date("2026-01-15T00:00:00Z"),
    packages: null,
    vulnIds: null,
    openVulnIds: [],
    openAdvisories: [],
    checkpoint: null,
    revalidate: false,
    ...overrides,
  };
}
