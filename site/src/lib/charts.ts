// The site's charts, drawn at build time to SVG with Observable Plot (declarative marks and scales, kept by the
// d3 team, renders on the server given a DOM; jsdom provides it). A page gets markup and no script. Each chart
// comes with its numbers as rows, which the page shows in a table for screen readers and for anyone who wants
// the figures. The same inputs give the same bytes: no random ids, no clock, UTC dates, fixed sizes.
import * as Plot from "@observablehq/plot";
import { JSDOM } from "jsdom";

/** A rendered chart: the SVG markup and the numbers it draws, as a table. */
export interface Chart {
  /** SVG markup with role="img" and an aria-label; no <style> element (the site's stylesheet styles it). */
  svg: string;
  /** What the chart shows, in one sentence: the aria-label and the figure's description. */
  description: string;
  /** The table for screen readers: its column headers and rows of cells. */
  columns: string[];
  rows: (string | number)[][];
}

/** Colours of the states, as the pages' state classes use them (Base.astro). */
export const stateColours: Record<string, string> = {
  fixed: "#15803d",
  not_applicable: "#6b7280",
  under_investigation: "#b45309",
  pending_upstream: "#2563eb",
  wont_fix: "#b91c1c",
};
const otherColour = "#7c3aed";

export const severityOrder = ["critical", "high", "medium", "low", "none", "not rated"] as const;
const severityColours: Record<string, string> = {
  critical: "#7f1d1d",
  high: "#b91c1c",
  medium: "#b45309",
  low: "#2563eb",
  none: "#6b7280",
  "not rated": "#9ca3af",
};

const width = 560;
const className = "chart";

let document: Document | undefined;
function dom(): Document {
  document ??= new JSDOM("<!doctype html><html><body></body></html>").window.document;
  return document;
}

/**
 * Plot's figure as markup for a page with a strict Content-Security-Policy: Plot puts a <style> element in
 * every SVG, which `style-src` would have to allow by hash on each page; the same rules live in the site's
 * stylesheet instead (Base.astro, `svg.chart`). The SVG is labelled as one image; its parts are hidden from
 * assistive technology, which reads the table beside it.
 */
function toMarkup(element: Element, label: string): string {
  if (element.tagName.toLowerCase() !== "svg") throw new Error(`a chart rendered a <${element.tagName}>`);
  for (const style of Array.from(element.querySelectorAll("style"))) style.remove();
  for (const group of Array.from(element.querySelectorAll("g[aria-label]")))
    group.removeAttribute("aria-label");
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", label);
  // Numbers Plot computes are rounded to hundredths: the same chart is the same text on every machine.
  return element.outerHTML.replace(/(\d+\.\d{3,})/g, (number) =>
    String(Math.round(Number(number) * 100) / 100),
  );
}

const formatCount = (value: number) => value.toLocaleString("en");

/** The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at least `value`. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((factor) => factor * power >= value) ?? 10;
  return step * power;
}

/**
 * Vertical offsets that keep labels at least `gap` pixels apart and within [0, bottom], given their wanted
 * positions (pixels, down): pushed down from the top, then back up from the bottom where they ran past it.
 */
function declutter(positions: readonly number[], gap: number, bottom: number): number[] {
  const order = positions
    .map((position, index) => ({ position, index }))
    .sort((a, b) => a.position - b.position || a.index - b.index);
  const at = order.map((entry) => entry.position);
  for (let i = 1; i < at.length; i += 1) at[i] = Math.max(at[i] as number, (at[i - 1] as number) + gap);
  for (let i = at.length - 1; i >= 0; i -= 1) {
    const limit = i === at.length - 1 ? bottom : (at[i + 1] as number) - gap;
    at[i] = Math.min(at[i] as number, limit);
  }
  const offsets = new Array<number>(positions.length).fill(0);
  for (const [i, entry] of order.entries()) offsets[entry.index] = (at[i] as number) - entry.position;
  return offsets;
}

const isoDay = (value: Date) => value.toISOString().slice(0, 10);

const isoMinute = (value: Date) => value.toISOString().slice(0, 16).replace("T", " ");

/**
 * The x axis of a few runs ticks at each run, named by its day (and time, when two runs share a day); more runs
 * get about five ticks Plot chooses, named by day.
 */
function runTicks(dates: readonly Date[]): { ticks: Date[] | number; tickFormat: (value: Date) => string } {
  const times = [...new Set(dates.map((date) => date.getTime()))].sort((x, y) => x - y);
  if (times.length > 6) return { ticks: 5, tickFormat: isoDay };
  const days = new Set(times.map((time) => isoDay(new Date(time))));
  return {
    ticks: times.map((time) => new Date(time)),
    tickFormat: days.size === times.length ? isoDay : isoMinute,
  };
}

export interface StatePoint {
  runId: string;
  /** The run's clock, ISO. */
  asOf: string;
  state: string;
  count: number;
}

/**
 * Advisories per state after each run: one line per state, with axes, dots and each line's last value. People
 * read the states' labels (advisory_states seed), given by state; a state without one shows its code.
 */
export function statesOverRuns(
  points: readonly StatePoint[],
  states: readonly string[],
  labels: Readonly<Record<string, string>> = {},
): Chart {
  const labelOf = (state: string) => labels[state] ?? state;
  const runs = [...new Set(points.map((point) => point.runId))].sort();
  const rows = runs.map((runId) => {
    const forRun = points.filter((point) => point.runId === runId);
    return [runId, ...states.map((state) => forRun.find((point) => point.state === state)?.count ?? 0)];
  });
  const first = runs[0] ?? "";
  const last = runs.at(-1) ?? "";
  const description =
    runs.length === 0
      ? "No run has kept a summary yet."
      : `Advisories per state after ${runs.length === 1 ? `run ${first}` : `each of ${runs.length} runs, from ${first} to ${last}`}. ${states
          .map(
            (state) =>
              `${labelOf(state)}: ${formatCount(Number(rows.at(-1)?.[states.indexOf(state) + 1] ?? 0))}`,
          )
          .join(", ")} now.`;
  const data = points.map((point) => ({ ...point, date: new Date(point.asOf) }));
  const single = runs.length < 2;
  const height = 280;
  const marginTop = 20;
  const marginBottom = 30;
  const top = niceCeiling(Math.max(1, ...points.map((point) => point.count)));
  // Each line ends in its state and latest count; labels closer than a line of text are moved apart.
  const latest = states.map((state) => {
    const point = data.filter((entry) => entry.state === state).at(-1);
    return { state, count: point?.count ?? 0, date: point?.date ?? new Date(0) };
  });
  const plotHeight = height - marginTop - marginBottom;
  const offsets = declutter(
    latest.map((entry) => plotHeight - (entry.count / top) * plotHeight),
    13,
    plotHeight,
  );
  const svg = Plot.plot({
    document: dom(),
    className,
    width,
    height,
    marginTop,
    marginBottom,
    marginLeft: 56,
    marginRight: 170,
    x: single
      ? { type: "point", label: "Run", tickFormat: isoDay }
      : {
          type: "utc",
          label: "Run (UTC)",
          ...runTicks(data.map((point) => point.date)),
        },
    y: { label: "Advisories", grid: true, domain: [0, top], tickFormat: "~s" },
    color: {
      domain: [...states],
      range: states.map((state) => stateColours[state] ?? otherColour),
    },
    marks: [
      Plot.ruleY([0]),
      Plot.lineY(data, { x: "date", y: "count", z: "state", stroke: "state", strokeWidth: 2 }),
      Plot.dot(data, { x: "date", y: "count", fill: "state", r: 3 }),
      ...latest.map((entry, index) =>
        Plot.text([entry], {
          x: "date",
          y: "count",
          fill: "state",
          text: (point: { state: string; count: number }) =>
            `${labelOf(point.state)}: ${formatCount(point.count)}`,
          textAnchor: "start",
          dx: 8,
          dy: offsets[index] ?? 0,
          fontSize: 11,
        }),
      ),
    ],
  });
  return { svg: toMarkup(svg, description), description, columns: ["Run", ...states.map(labelOf)], rows };
}

export interface SeverityCount {
  severity: string;
  count: number;
}

/** Open advisories per severity rating (of their CVE), highest first; horizontal bars with their counts. */
export function openBySeverity(counts: readonly SeverityCount[]): Chart {
  const total = counts.reduce((sum, entry) => sum + entry.count, 0);
  const description = `${formatCount(total)} open advisories by their CVE's severity: ${counts
    .map((entry) => `${entry.severity} ${formatCount(entry.count)}`)
    .join(", ")}.`;
  const svg = Plot.plot({
    document: dom(),
    className,
    width,
    height: 40 + 30 * Math.max(1, counts.length),
    marginLeft: 80,
    marginRight: 70,
    x: { label: "Open advisories", grid: true, tickFormat: "~s" },
    y: { label: null, domain: counts.map((entry) => entry.severity) },
    color: {
      domain: [...severityOrder],
      range: severityOrder.map((name) => severityColours[name] ?? otherColour),
    },
    marks: [
      Plot.barX(counts, { x: "count", y: "severity", fill: "severity" }),
      Plot.text(counts, {
        x: "count",
        y: "severity",
        text: (entry: SeverityCount) => formatCount(entry.count),
        textAnchor: "start",
        dx: 4,
        fontSize: 11,
      }),
      Plot.ruleX([0]),
    ],
  });
  return {
    svg: toMarkup(svg, description),
    description,
    columns: ["Severity", "Open advisories"],
    rows: counts.map((entry) => [entry.severity, entry.count]),
  };
}

export interface DurationBucket {
  /** "same run", "1–7 days", … */
  label: string;
  count: number;
}

/** Final advisories by the time from first seen to the run that decided them. */
export function timeToFinal(buckets: readonly DurationBucket[]): Chart {
  const total = buckets.reduce((sum, entry) => sum + entry.count, 0);
  const description = `${formatCount(total)} advisories in a final state, by the time from first seen to their final decision: ${buckets
    .map((entry) => `${entry.label} ${formatCount(entry.count)}`)
    .join(", ")}.`;
  const svg = Plot.plot({
    document: dom(),
    className,
    width,
    height: 260,
    marginLeft: 56,
    x: { label: "Time from first seen to the final decision", domain: buckets.map((entry) => entry.label) },
    y: { label: "Advisories", grid: true, tickFormat: "~s" },
    marks: [
      Plot.barY(buckets, { x: "label", y: "count", fill: stateColours.fixed }),
      Plot.text(buckets, {
        x: "label",
        y: "count",
        text: (entry: DurationBucket) => formatCount(entry.count),
        dy: -8,
        fontSize: 11,
      }),
      Plot.ruleY([0]),
    ],
  });
  return {
    svg: toMarkup(svg, description),
    description,
    columns: ["Time to the final decision", "Advisories"],
    rows: buckets.map((entry) => [entry.label, entry.count]),
  };
}
