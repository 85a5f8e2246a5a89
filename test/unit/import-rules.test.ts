import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/workspace.ts";

/**
 * The import rules `npm test` checks (.dependency-cruiser.cjs, `npm run check:imports`) catch what they are
 * for: run on a small tree that breaks each rule once, every break is reported by name.
 */
describe("import rules", () => {
  let dir: string;
  const files: Record<string, string> = {
    "tsconfig.json": JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true, noEmit: true } }),
    "pipeline/stages/a.ts": 'import { b } from "./b.ts";\nexport const a = () => b;\n',
    "pipeline/stages/b.ts": 'import { a } from "./a.ts";\nexport const b = () => a;\n',
    "pipeline/formats/advisory.ts": 'import { a } from "../stages/a.ts";\nexport const f = a;\n',
    "pipeline/run.ts": 'import { f } from "./formats/advisory.ts";\nexport const run = f;\n',
    "pipeline/history/ledger.ts":
      'import { run } from "../run.ts";\nimport { g } from "../../tools/gen.ts";\nexport const l = [run, g];\n',
    "tools/gen.ts": "export const g = 1;\n",
    "site/src/page.ts":
      'import { a } from "../../pipeline/stages/a.ts";\nimport { f } from "../../pipeline/formats/advisory.ts";\nexport const p = [a, f];\n',
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-import-rules-"));
    for (const [name, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), text);
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("report a cycle, a site import outside the formats, formats importing a stage, production importing tools, and a module reaching back into the orchestrator", async () => {
    const result = await execa(
      join(repoRoot, "node_modules/.bin/depcruise"),
      [
        "pipeline",
        "site",
        "tools",
        "--config",
        join(repoRoot, ".dependency-cruiser.cjs"),
        "--output-type",
        "err",
      ],
      { cwd: dir, reject: false },
    );
    expect(result.exitCode).not.toBe(0);
    const output = String(result.stdout);
    expect(output).toMatch(/no-cycles: pipeline\/stages\/a\.ts/);
    expect(output).toContain("site-reads-published-formats-only: site/src/page.ts → pipeline/stages/a.ts");
    expect(output).not.toContain("site/src/page.ts → pipeline/formats/advisory.ts");
    expect(output).toContain("formats-stand-alone: pipeline/formats/advisory.ts → pipeline/stages/a.ts");
    expect(output).toContain("production-without-dev-tools: pipeline/history/ledger.ts → tools/gen.ts");
    expect(output).toContain(
      "stages-do-not-import-the-orchestrator: pipeline/history/ledger.ts → pipeline/run.ts",
    );
  });

  // dependency-cruiser reads no .astro or .mdx file, so the site's pages are checked here for the same rule.
  it("the site's Astro and MDX pages import nothing of the pipeline but pipeline/formats", async () => {
    const pages = (await readdir(join(repoRoot, "site/src"), { recursive: true })).filter((name) =>
      /\.(astro|mdx)$/.test(name),
    );
    expect(pages.length).toBeGreaterThan(0);
    const offending: string[] = [];
    for (const page of pages) {
      const text = await readFile(join(repoRoot, "site/src", page), "utf8");
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']*pipeline\/[^"']*)["']/g))
        if (!/pipeline\/formats\//.test(match[1] as string)) offending.push(`${page}: ${match[1]}`);
    }
    expect(offending).toEqual([]);
  });
});
