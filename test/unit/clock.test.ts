import { describe, expect, it } from "vitest";
import { runIdOf } from "../../pipeline/formats/run-id.ts";
import { resolveClock } from "../../pipeline/lib/clock.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";

describe("the run clock", () => {
  it("takes --as-of over SOURCE_DATE_EPOCH", () => {
    expect(resolveClock("2026-01-31T00:00:00Z", { SOURCE_DATE_EPOCH: "0" }).toISOString()).toBe(
      "2026-01-31T00:00:00.000Z",
    );
  });

  it("reads SOURCE_DATE_EPOCH as seconds", () => {
    expect(resolveClock(undefined, { SOURCE_DATE_EPOCH: "1767225600" }).toISOString()).toBe(
      "2026-01-01T00:00:00.000Z",
    );
  });

  it("rejects an --as-of that is not a date", () => {
    expect(() => resolveClock("yesterday", {})).toThrow(PipelineError);
  });

  it("formats compact UTC stamps for file names", () => {
    expect(runIdOf(new Date("2026-01-31T07:05:09.123Z"))).toBe("20260131T070509Z");
  });
});
