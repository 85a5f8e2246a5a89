import { JSDOM } from "jsdom";
import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";
import { markdownCode, markdownText } from "../../pipeline/lib/markdown.ts";
import { renderOverridesReport } from "../../pipeline/ops/overrides-check.ts";
import { stepSummaryMarkdown } from "../../pipeline/ops/scheduled.ts";
import type { RunSummary } from "../../pipeline/run-summary.ts";
import { renderRunReport } from "../../pipeline/stages/report.ts";
import { isAllowedReportLink, renderReport } from "../../site/src/lib/report-markdown.ts";

const link = "[Click](https://evil.example/)";
const image = "![x](https://evil.example/p.png)";
const hostile = [
  link,
  image,
  "<img src=x onerror=alert(1)>",
  "<https://evil.example/auto>",
  "**bold** _em_ `code` ~~struck~~ &amp; | pipe \\",
  "# heading",
  "- item",
  "1. ordered",
  "    indented code",
  "> quote",
  "https://evil.example/bare www.evil.example",
  "[ref]: https://evil.example/ref",
];

/** What a reader sees: the rendered HTML's elements and its text. */
function rendered(html: string) {
  const { document } = new JSDOM(`<body>${html}</body>`).window;
  return {
    text: document.body.textContent ?? "",
    links: [...document.querySelectorAll("a")].map((a) => a.getAttribute("href")),
    images: document.querySelectorAll("img").length,
    markup: [...document.body.querySelectorAll("*")].map((element) => element.tagName.toLowerCase()),
  };
}

/** The Markdown as CommonMark with GitHub's tables renders it: the reference beside our renderer. */
const commonMark = new MarkdownIt({ html: true, linkify: true });

describe("input text written into Markdown", () => {
  it("renders as the same text, one paragraph, no markup, whatever it holds", () => {
    for (const text of hostile) {
      for (const lineStart of [false, true]) {
        const html = commonMark.render(`${lineStart ? "" : "Text: "}${markdownText(text, { lineStart })}`);
        const view = rendered(html);
        expect(view.markup, `${text} (${lineStart ? "at a line's start" : "inside a line"})`).toEqual(["p"]);
        expect(view.text.trim()).toBe(`${lineStart ? "" : "Text: "}${text}`.trim());
      }
    }
  });

  it("stays one table cell", () => {
    const html = commonMark.render(
      `| a | b |\n| --- | --- |\n| ${markdownText("x | y\nz")} | ${markdownText(link)} |`,
    );
    const { document } = new JSDOM(html).window;
    expect([...document.querySelectorAll("td")].map((td) => td.textContent)).toEqual(["x | y z", link]);
  });

  it("keeps identifiers readable: only an underscore that can open emphasis is escaped", () => {
    expect(markdownText("not_applicable override_rows_match_advisories 2026-01-15T10:00:00.000Z (new)")).toBe(
      "not_applicable override_rows_match_advisories 2026-01-15T10:00:00.000Z (new)",
    );
    expect(markdownText("_x_ window.__pwned")).toBe("\\_x\\_ window.\\_\\_pwned");
    expect(markdownText(link)).toBe("\\[Click\\](https\\://evil.example/)");
  });

  it("quotes text as code with a fence longer than any backtick run in it", () => {
    expect(markdownCode("a ``b`` c")).toBe("```a ``b`` c```");
    expect(markdownCode("`x`")).toBe("`` `x` ``");
    expect(markdownCode("a|b", { inTable: true })).toBe("`a\\|b`");
    expect(rendered(commonMark.render(markdownCode(`${link} ${image}`))).text.trim()).toBe(
      `${link} ${image}`,
    );
  });
});

const summary = (): RunSummary => ({
  runId: "20260115T100000Z",
  startedAt: new Date("2026-01-15T10:00:00Z"),
  finishedAt: new Date("2026-01-15T10:01:00Z"),
  asOf: new Date("2026-01-15T10:00:00Z"),
  configPath: "/srv/echo/config.yaml",
  status: "blocked",
  exitCode: 3,
  publish: {
    publish: false,
    reasons: [`error check ${link}`, image],
    stateChanges: 0,
    previouslyListed: 0,
    massChangeAccepted: false,
  },
  clockPinned: true,
  advisoryCount: 1,
  transitions: [{ from: null, to: link, count: 1 }],
  stages: [],
  stateDistribution: [{ state: "fixed", state_type: "final", count: 1 }],
  rules: [],
  sources: [
    {
      source: "echo_csv",
      health: {
        status: "failed",
        observations: 0,
        rejected: 2,
        bytes: 10,
        requests: 0,
        retries: 0,
        durationMs: 1,
        error: `cannot read ${image}`,
      },
      status: "stale",
      snapshotHash: null,
      newSnapshot: false,
      newObservations: 0,
      unchanged: false,
      lastGoodFetchAt: null,
      maxAgeHours: null,
      tooOld: false,
    },
  ],
  rejected: [
    {
      source: "echo_csv",
      file: "na.csv",
      line: 2,
      key: "package",
      reason: `package ${JSON.stringify(link)} is not a valid Debian source package name`,
    },
    { source: "echo_data", file: "data.json", line: null, key: JSON.stringify(image), reason: "bad" },
  ],
  rejectedTotal: 2,
  checks: [
    {
      checkId: "override_rows_match_advisories",
      severity: "warn",
      passed: false,
      failingCount: 2,
      detail: link,
      examples: [`line 3: ${image}`, `curl:CVE-2024-0001 ${link}`],
    },
  ],
  dbt: {
    elapsedSeconds: 0,
    models: 0,
    tests: 0,
    unitTests: 0,
    seeds: 0,
    warnings: 0,
    reusedDecisionsOf: null,
    modelTimings: [],
  },
});

describe("a run report holding hostile input text", () => {
  const markdown = renderRunReport(summary());
  const view = rendered(renderReport(markdown, "/base", 2));

  it("shows it as text on the run page: no image, no link but the report's own", () => {
    expect(view.images).toBe(0);
    expect(view.links).toEqual(["/base/advisory/?id=curl%3ACVE-2024-0001"]);
    for (const text of [
      `error check ${link}`,
      image,
      `package ${JSON.stringify(link)} is not a valid Debian source package name`,
      `cannot read ${image}`,
      `line 3: ${image}`,
      ` ${link}`,
    ]) {
      expect(view.text).toContain(text);
    }
    expect(markdown).not.toContain(link);
    expect(markdown).toContain("\\[Click\\](https\\://evil.example/)");
  });

  it("the job summaries of the scheduled run and of the overrides check escape it too", () => {
    const scheduled = rendered(
      commonMark.render(
        stepSummaryMarkdown(3, {
          run_id: "20260115T100000Z",
          status: "blocked",
          advisory_count: 1,
          state_distribution: [],
          transitions: [],
          checks: [],
          publish_guard: {
            state_changes: 0,
            previously_listed: 0,
            mass_change_accepted: false,
            reasons: [link, image],
          },
        } as unknown as Parameters<typeof stepSummaryMarkdown>[1]),
      ),
    );
    expect(scheduled.links).toEqual([]);
    expect(scheduled.images).toBe(0);
    expect(scheduled.text).toContain(link);
    const overrides = rendered(
      commonMark.render(
        renderOverridesReport({
          csv: "overrides/advisory_not_applicable.csv",
          rows: 2,
          problems: [
            { line: 2, column: "package", problem: `package ${link}`, text: `CVE-1,${image},\`x\`|y` },
          ],
          preview: undefined,
        } as unknown as Parameters<typeof renderOverridesReport>[0]),
      ),
    );
    expect(overrides.links).toEqual([]);
    expect(overrides.images).toBe(0);
    expect(overrides.text).toContain(`package ${link}`);
    expect(overrides.text).toContain(`CVE-1,${image},\`x\`|y`);
  });
});

describe("the run page's Markdown renderer", () => {
  it("shows images as their alt text and links only to http(s) or the site", () => {
    const view = rendered(
      renderReport(
        [
          "![x](https://evil.example/p.png) ![y](data:image/png;base64,AAAA)",
          "[a](javascript:alert(1)) [b](//evil.example/) [c](https://example.org/) [d](advisory/?id=x) [e](#top)",
          "<img src=x> <a href=https://evil.example>raw</a>",
        ].join("\n\n"),
        "/base",
      ),
    );
    expect(view.images).toBe(0);
    expect(view.links).toEqual(["https://example.org/", "/base/advisory/?id=x", "#top"]);
    expect(view.text).toContain("<img src=x>");
    for (const url of [
      "javascript:alert(1)",
      "JAVASCRIPT:x",
      "data:x",
      "//evil.example",
      "/\\evil.example",
      "mailto:a@b",
    ]) {
      expect(isAllowedReportLink(url), url).toBe(false);
    }
    for (const url of [
      "https://example.org/",
      "http://example.org/",
      "advisory/?id=x",
      "/runs/",
      "#top",
      "?q=1",
    ]) {
      expect(isAllowedReportLink(url), url).toBe(true);
    }
  });
});
