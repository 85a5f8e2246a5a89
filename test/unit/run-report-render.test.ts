import { describe, expect, it } from "vitest";
import { renderReport, reportWithout } from "../../site/src/lib/runs.ts";

const report = [
  "# Run report 20260301T060000Z",
  "",
  "| Field | Value |",
  "| --- | --- |",
  "| Quality checks | 11 passed, 0 failed |",
  "",
  "## Stages",
  "",
  "| Stage | Duration |",
  "| --- | ---: |",
  "| load | 0.09 s |",
  "",
  "## Sources",
  "",
  "| Source | Observations | Note |",
  "| --- | ---: | --- |",
  "| osv | 5 | [Click](https://evil.example/) ![x](https://evil.example/p.png) <b>bold</b> |",
  "",
  "## Quality checks",
  "",
  "[curl:CVE-2023-38545](advisory/?id=curl%3ACVE-2023-38545) regressed",
  "",
].join("\n");

describe("a run report rendered on its run page", () => {
  it("leaves out the sections the page shows from the summary, and keeps the rest", () => {
    const kept = reportWithout(report, ["Stages", "Quality checks"]);
    expect(kept).toContain("# Run report 20260301T060000Z");
    expect(kept).toContain("| Quality checks | 11 passed, 0 failed |");
    expect(kept).toContain("## Sources");
    expect(kept).not.toContain("## Stages");
    expect(kept).not.toContain("## Quality checks");
  });

  it("puts each table in a labelled scroll box and aligns columns with classes, never style attributes", () => {
    const html = renderReport(report, "/echo-advisory", 2);
    expect(html).toContain(
      '<div class="table-scroll" role="region" aria-label="Sources (table)" tabindex="0"><table>',
    );
    expect(html).toContain('<th class="num">Observations</th>');
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).toContain("<h4>Sources</h4>");
  });

  it("resolves the report's site links from the base, and keeps raw HTML as text", () => {
    const html = renderReport(report, "/echo-advisory", 2);
    expect(html).toContain('<a href="/echo-advisory/advisory/?id=curl%3ACVE-2023-38545">');
    expect(html).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(html).not.toContain("<img");
  });
});
