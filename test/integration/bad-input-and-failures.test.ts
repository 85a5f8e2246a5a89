import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import {
  countStates,
  createWorkspace,
  decisions,
  repoRoot,
  sampleCsv,
  sampleDataJson,
  type Workspace,
} from "../helpers/workspace.ts";

const dataJson = JSON.stringify({
  curl: {
    "CVE-2024-0001": { fixed_version: "8.5.0-2" },
    "CVE-2024-0002": {},
    "not-a-cve": { fixed_version: "1.0-1" },
  },
  zlib: { "CVE-2024-0003": { fixed_version: 5 }, "TEMP-0000001-ABCDEF": {} },
  "Bad Package": { "CVE-2024-0004": {} },
  "<script>alert(1)</script>": { "CVE-2024-0005": {} },
});

const csv = [
  '"cve_id","package","status","fixed_version","internal_status"',
  'CVE-2024-0001,curl,not_applicable,"8.5.0-2",disputed',
  "CVE-2024-0002,curl,affected,,code_not_in_use",
  "CVE-2024-9999,curl,not_applicable,,code_not_in_use",
  "CVE-2024-0001,curl,not_applicable,,disputed",
  "CVE-24-1,curl,not_applicable,,disputed",
  "",
].join("\r\n");

describe("bad input and failing sources", () => {
  let workspace: Workspace;
  afterEach(() => workspace.cleanup());

  it("keeps the good records, lists what it rejected and never turns an unknown override into an advisory", async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({
      dataJson: await workspace.input("data.json", dataJson),
      csv: await workspace.input("na.csv", `\uFEFF${csv}`),
    });
    const result = await workspace.run(["--as-of", "2026-02-01T00:00:00Z"]);
    expect(result.stderr).not.toContain('"level":"error"');
    expect(result.exitCode).toBe(0);

    const document = await workspace.readAdvisoryCurrent();
    expect(document.advisories.map((advisory) => `${advisory.advisory_id}=${advisory.state}`)).toEqual([
      "curl:CVE-2024-0001=not_applicable",
      "curl:CVE-2024-0002=under_investigation",
      "zlib:TEMP-0000001-ABCDEF=under_investigation",
    ]);

    const report = await readFile(join(workspace.outputDir, "run_report_20260201T000000Z.md"), "utf8");
    expect(report).toMatch(/\| Rejected input records \| 7 \|/);
    expect(report).toContain('vulnerability id "not-a-cve" is neither CVE-YYYY-NNNN nor TEMP-NNNNNNN-XXXXXX');
    expect(report).toContain(
      'data.json "zlib"."CVE-2024-0003".fixed_version | fixed_version must be a string, found number',
    );
    expect(report).toContain('package name "Bad Package" is not a valid Debian source package name');
    expect(report).toMatch(/na\.csv:3 status \| unknown status "affected" \(allowed: not_applicable\)/);
    expect(report).toMatch(/na\.csv:5 \| duplicate of line 2/);
    expect(report).toMatch(/na\.csv:6 cve_id \| cve_id "CVE-24-1" is not a CVE id/);
    expect(report).toMatch(/\| override_rows_match_advisories \| warn \| FAILED \| 1 \|/);
    expect(report).toContain("- line 4: curl:CVE-2024-9999");
    expect(report).not.toContain("<script>");

    // The site renders the report on the run's page; text from the inputs stays text.
    const site = join(workspace.dir, "site");
    await execa("npm", ["run", "site:build"], {
      cwd: repoRoot,
      env: { ECHO_OUTPUT_DIR: workspace.outputDir, ECHO_SITE_OUT_DIR: site },
    });
    const page = await readFile(join(site, "runs/20260201T000000Z/index.html"), "utf8");
    expect(page).toContain("curl:CVE-2024-9999");
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page).not.toContain("<script>alert(1)");
    // The good records are published: the home page counts them by state, in customers' words.
    const home = await readFile(join(site, "index.html"), "utf8");
    expect(home).toMatch(
      /<th scope="row"><a href="\/advisories\/\?state=under_investigation">under investigation<\/a><\/th><td data-label="Kind">open<\/td><td class="num" data-label="Advisories">2<\/td>/,
    );
  });

  it("keeps the last good CSV in use, marked failed, when the CSV cannot be read in a later run", async () => {
    workspace = await createWorkspace();
    const csvPath = await workspace.input("na.csv", await readFile(sampleCsv));
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: csvPath });
    expect((await workspace.run(["--as-of", "2026-03-01T00:00:00Z"])).exitCode).toBe(0);
    const before = countStates(await workspace.readAdvisoryCurrent());

    await writeFile(csvPath, "cve_id,package,status\nCVE-2024-0001,curl,not_applicable\n");
    const second = await workspace.run(["--as-of", "2026-03-02T00:00:00Z"]);
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toMatch(/source failed; its last good data stays in use/);
    expect(second.stderr).toContain("missing columns fixed_version, internal_status");
    expect(countStates(await workspace.readAdvisoryCurrent())).toEqual(before);

    const report = await readFile(join(workspace.outputDir, "run_report_20260302T000000Z.md"), "utf8");
    expect(report).toMatch(
      /\| echo_csv \| stale \|.*\| 2026-03-01T00:00:00\.000Z \| failed: .*; last good data from 2026-03-01T00:00:00\.000Z kept in use \|/,
    );
    expect(report).toMatch(/\| sources_fetched \| warn \| FAILED \| 1 \|/);
  });

  it("publishes nothing and exits 1 when data.json was never loaded", async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({ dataJson: join(workspace.dir, "missing.json"), csv: sampleCsv });
    const result = await workspace.run();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("missing.json: file not found");
    expect(result.stderr).toContain("no usable data.json");
    await expect(readdir(workspace.outputDir)).rejects.toThrow();
  });

  it("leaves the last published output in place when data.json turns malformed", async () => {
    workspace = await createWorkspace();
    const dataPath = await workspace.input("data.json", await readFile(sampleDataJson));
    await workspace.writeConfig({ dataJson: dataPath, csv: sampleCsv });
    expect((await workspace.run(["--as-of", "2026-03-31T00:00:00Z"])).exitCode).toBe(0);
    const published = await readFile(join(workspace.outputDir, "advisory_current.json"), "utf8");

    await writeFile(dataPath, '{"curl": {"CVE-2024-0001": {"fixed_version": "1.0-1"}');
    const result = await workspace.run(["--as-of", "2026-04-01T00:00:00Z"]);
    expect(result.stderr).toMatch(/data\.json:1:\d+: invalid JSON: .*\(the file looks truncated\)/);
    // The last good data.json stays in use: the same advisories are published again.
    expect(result.exitCode).toBe(0);
    const republished = await workspace.readAdvisoryCurrent();
    expect(decisions(republished)).toEqual(decisions(JSON.parse(published)));
    // Advisories data.json decides name its data as stale; the CSV's overrides were fetched fresh.
    for (const advisory of republished.advisories) {
      const stale = advisory.explanation.includes("The deciding data from our advisory data was fetched on ");
      expect(stale).toBe(advisory.contributing_sources.includes("echo_data"));
    }
    expect(republished.advisories.filter((advisory) => advisory.state === "not_applicable")).toHaveLength(23);
  });

  it("stops with dbt's own message when a model fails, and publishes nothing", async () => {
    workspace = await createWorkspace();
    const brokenProject = join(workspace.dir, "dbt_project");
    await cp(join(repoRoot, "dbt_project"), brokenProject, {
      recursive: true,
      filter: (source) => !source.includes(".venv") && !source.includes("/target"),
    });
    const model = join(brokenProject, "models/marts/mart_advisory_current.sql");
    await writeFile(
      model,
      (await readFile(model, "utf8")).replace("advisories.package_name,", "advisories.no_such_column,"),
    );
    await workspace.writeConfig({ dataJson: sampleDataJson, csv: sampleCsv, dbtProjectDir: brokenProject });
    const result = await workspace.run();
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("dbt build failed");
    expect(result.stderr).toContain("mart_advisory_current");
    expect(result.stderr).toMatch(/no_such_column/);
    await expect(readdir(workspace.outputDir)).rejects.toThrow();
  });
});
