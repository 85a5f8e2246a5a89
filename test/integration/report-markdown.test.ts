// Hostile Markdown in the inputs (a CSV cell, a data.json key) reaches the run report through the rejected
// records; it must stay text in the report and on the run page, never a link or a remote image.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { JSDOM } from "jsdom";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderReport } from "../../site/src/lib/report-markdown.ts";
import { createWorkspace, repoRoot, type Workspace } from "../helpers/workspace.ts";

const link = "[Click](https://evil.example/)";
const image = "![x](https://evil.example/p.png)";
const runClock = "2026-01-15T10:00:00Z";

describe("a run report whose inputs carry Markdown", () => {
  let workspace: Workspace;
  let markdown: string;

  beforeAll(async () => {
    workspace = await createWorkspace();
    const data = JSON.parse(
      await readFile(join(repoRoot, "test/fixtures/openvex/data.json"), "utf8"),
    ) as Record<string, unknown>;
    data[link] = { "CVE-2024-0001": {} };
    data[image] = { "CVE-2024-0002": {} };
    const csv = [
      "cve_id,package,status,fixed_version,internal_status",
      "CVE-2015-9019,libxslt,not_applicable,,code_not_in_use",
      `CVE-2024-0003,"${link}",not_applicable,,code_not_in_use`,
      `CVE-2024-0004,zlib,not_applicable,,"${image}"`,
      "",
    ].join("\n");
    await workspace.writeConfig({
      dataJson: await workspace.input("data.json", JSON.stringify(data)),
      csv: await workspace.input("na.csv", csv),
    });
    const result = await workspace.run(["--as-of", runClock]);
    expect(result.stderr).not.toContain('"level":"error"');
    expect(result.exitCode).toBe(0);
    markdown = await readFile(join(workspace.outputDir, "run_report_20260115T100000Z.md"), "utf8");
  });
  afterAll(() => workspace.cleanup());

  it("writes the CSV cell and the data.json key escaped into the report", () => {
    expect(markdown).not.toContain(link);
    expect(markdown).not.toContain(image);
    // Each appears escaped: \[Click\](https\://evil.example/) and !\[x\](https\://evil.example/p.png).
    expect(markdown.match(/\\\[Click\\\]\(https\\:\/\/evil\.example\/\)/g)?.length).toBeGreaterThanOrEqual(2);
    expect(markdown.match(/!\\\[x\\\]\(https\\:\/\/evil\.example\/p\.png\)/g)?.length).toBeGreaterThanOrEqual(
      2,
    );
  });

  it("renders them on the run page as the text they are: no link, no image", () => {
    const { document } = new JSDOM(renderReport(markdown, "/echo", 2)).window;
    expect(document.querySelectorAll("img")).toHaveLength(0);
    expect([...document.querySelectorAll("a")].filter((a) => /evil/.test(a.href))).toEqual([]);
    const rows = [...document.querySelectorAll("tr")].map((row) => row.textContent ?? "");
    // The CSV cell (package), the CSV cell (internal_status), and the two data.json keys.
    expect(rows.filter((row) => row.includes(link))).toHaveLength(2);
    expect(rows.filter((row) => row.includes(image))).toHaveLength(2);
    expect(
      rows.some((row) => row.includes(`package "${link}" is not a valid Debian source package name`)),
    ).toBe(true);
    expect(
      rows.some((row) => row.includes(`package name "${image}" is not a valid Debian source package name`)),
    ).toBe(true);
  });
});
