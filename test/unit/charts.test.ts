import { describe, expect, it } from "vitest";
import { openBySeverity, type StatePoint, statesOverRuns, timeToFinal } from "../../site/src/lib/charts.ts";

const points: StatePoint[] = [
  { runId: "20260301T060000Z", asOf: "2026-03-01T06:00:00.000Z", state: "fixed", count: 36_515 },
  { runId: "20260301T060000Z", asOf: "2026-03-01T06:00:00.000Z", state: "under_investigation", count: 2_141 },
  { runId: "20260302T060000Z", asOf: "2026-03-02T06:00:00.000Z", state: "fixed", count: 36_520 },
  { runId: "20260302T060000Z", asOf: "2026-03-02T06:00:00.000Z", state: "under_investigation", count: 2_136 },
];
const states = ["fixed", "under_investigation"];

describe("the site's charts (Observable Plot, drawn to SVG at build time)", () => {
  it("draw the states over runs with axes, the latest values, and the numbers as a table", () => {
    const chart = statesOverRuns(points, states, { under_investigation: "under investigation" });
    expect(chart.svg).toMatch(/^<svg [^>]*role="img"/);
    expect(chart.svg).toContain('aria-label="Advisories per state after each of 2 runs');
    // Axis labels and the end-of-line values are text in the SVG.
    expect(chart.svg).toContain("Advisories");
    expect(chart.svg).toContain("fixed: 36,520");
    // States are named by their labels where people read them; a state without one keeps its code.
    expect(chart.svg).toContain("under investigation: 2,136");
    expect(chart.svg).not.toContain("under_investigation");
    expect(chart.columns).toEqual(["Run", "fixed", "under investigation"]);
    expect(chart.rows).toEqual([
      ["20260301T060000Z", 36_515, 2_141],
      ["20260302T060000Z", 36_520, 2_136],
    ]);
  });

  it("leave out Plot's <style> element and any style attribute, which the site's CSP would block", () => {
    for (const chart of [
      statesOverRuns(points, states),
      openBySeverity([
        { severity: "critical", count: 3 },
        { severity: "not rated", count: 10 },
      ]),
      timeToFinal([
        { label: "first run", count: 40 },
        { label: "1–7 days", count: 2 },
      ]),
    ]) {
      expect(chart.svg).not.toContain("<style");
      expect(chart.svg).not.toMatch(/\sstyle="/);
      expect(chart.description).not.toBe("");
    }
  });

  it("give the same bytes for the same inputs", () => {
    const first = statesOverRuns(points, states).svg;
    openBySeverity([{ severity: "high", count: 1 }]);
    expect(statesOverRuns(points, states).svg).toBe(first);
  });

  it("count open advisories by severity and final ones by time to decision, with a row per bar", () => {
    const severity = openBySeverity([
      { severity: "critical", count: 3 },
      { severity: "high", count: 0 },
    ]);
    expect(severity.rows).toEqual([
      ["critical", 3],
      ["high", 0],
    ]);
    expect(severity.description).toBe("3 open advisories by their CVE's severity: critical 3, high 0.");
    const duration = timeToFinal([{ label: "first run", count: 1_200 }]);
    expect(duration.svg).toContain("1,200");
  });
});
