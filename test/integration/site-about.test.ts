import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/workspace.ts";

const stagedReport = {
  path: "run_report_20260101T000000Z.md",
  temporary: "run_report_20260101T000000Z.md.4194304.0badf00d.tmp",
};

/** The "about the data" page shows the catalogue the models read: every rule, state, source and reason. */
describe("the about-the-data page", () => {
  let directory: string;
  let page: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "echo-site-"));
    // A pipeline killed while renaming its release into place: the journal and one staged file remain.
    await mkdir(join(directory, "output"));
    await writeFile(join(directory, "output", stagedReport.temporary), "# Run report\n");
    await writeFile(
      join(directory, "output", ".publish-journal.json"),
      `${JSON.stringify({ files: [stagedReport] })}\n`,
    );
    await execa("npm", ["run", "site:build"], {
      cwd: repoRoot,
      env: { ECHO_OUTPUT_DIR: join(directory, "output"), ECHO_SITE_OUT_DIR: join(directory, "site") },
    });
    // Identifiers may wrap after an underscore (<wbr>); the text is the same without the break opportunities.
    page = (await readFile(join(directory, "site/about/index.html"), "utf8")).replaceAll("<wbr>", "");
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  const seed = async (name: string) =>
    parse(await readFile(join(repoRoot, "dbt_project/seeds", `${name}.csv`), "utf8"), {
      columns: true,
    }) as Record<string, string>[];

  it("lists every rule of the catalogue, in priority order, with its state, reason code and OpenVEX status", async () => {
    const rules = (await seed("rule_catalogue")).sort((a, b) => Number(a.priority) - Number(b.priority));
    const positions = rules.map((rule) => page.indexOf(`<code>${rule.rule_id}</code>`));
    expect(positions.every((position) => position > 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(page).toMatch(
      /<code>upstream_rejected<\/code><\/td><td[^>]*>(<code>)?not_applicable(<\/code>)?<\/td><td[^>]*><code>cve_rejected<\/code>/,
    );
  });

  it("explains every state, every source, and each override reason customers read", async () => {
    for (const state of await seed("advisory_states")) expect(page).toContain(`<code>${state.state}</code>`);
    for (const source of await seed("source_catalogue"))
      expect(page).toContain(`<code>${source.source}</code>`);
    for (const reason of await seed("override_reasons")) expect(page).toContain(reason.customer_reason);
    expect(page).toContain("open a pull request that adds one row");
    expect(page).toMatch(/<nav aria-label="Site">.*About the data/);
  });

  it("is built after completing a publish a killed run left half done, so it never reads a mix of two releases", async () => {
    expect(await readFile(join(directory, "output", stagedReport.path), "utf8")).toBe("# Run report\n");
    await expect(stat(join(directory, "output", ".publish-journal.json"))).rejects.toThrow(/ENOENT/);
    await expect(stat(join(directory, "output", stagedReport.temporary))).rejects.toThrow(/ENOENT/);
  });
});
