import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { projectDigest, publishedFileDigest } from "../../pipeline/history/decision-inputs.ts";

describe("the dbt project's digest (a changed project means dbt must run)", () => {
  let project: string;

  beforeEach(async () => {
    project = await mkdtemp(join(tmpdir(), "echo-project-digest-"));
    await mkdir(join(project, "models", "marts"), { recursive: true });
    await mkdir(join(project, "seeds"), { recursive: true });
    await writeFile(join(project, "dbt_project.yml"), "name: demo\n");
    await writeFile(join(project, "models", "marts", "mart_a.sql"), "select 1 as a\n");
    await writeFile(join(project, "seeds", "rules.csv"), "rule_id,priority\nr1,1\n");
    await writeFile(join(project, "requirements.txt"), "dbt-core==1.11.0\n");
  });

  afterEach(async () => {
    await rm(project, { recursive: true, force: true });
  });

  it("is stable for the same files", async () => {
    expect(await projectDigest(project)).toBe(await projectDigest(project));
  });

  it("changes with a model, a seed, the project file or the pinned runtime", async () => {
    const edits: [string, string][] = [
      [join("models", "marts", "mart_a.sql"), "select 2 as a\n"],
      [join("seeds", "rules.csv"), "rule_id,priority\nr1,2\n"],
      ["dbt_project.yml", "name: demo2\n"],
      ["requirements.txt", "dbt-core==1.11.1\n"],
    ];
    for (const [path, content] of edits) {
      const before = await projectDigest(project);
      await writeFile(join(project, path), content);
      expect(await projectDigest(project), path).not.toBe(before);
    }
  });

  it("changes when a model is added or renamed", async () => {
    const before = await projectDigest(project);
    await writeFile(join(project, "models", "marts", "mart_b.sql"), "select 1 as a\n");
    const added = await projectDigest(project);
    expect(added).not.toBe(before);
    await rm(join(project, "models", "marts", "mart_a.sql"));
    expect(await projectDigest(project)).not.toBe(added);
  });

  it("ignores what dbt writes and what it does not parse (target, logs, the venv, docs)", async () => {
    const before = await projectDigest(project);
    for (const directory of ["target", "logs", ".venv"]) {
      await mkdir(join(project, directory), { recursive: true });
      await writeFile(join(project, directory, "manifest.yml"), "anything: 1\n");
    }
    await writeFile(join(project, "README.md"), "# notes\n");
    expect(await projectDigest(project)).toBe(before);
  });

  it("hashes the published file as bytes, and knows when there is none", async () => {
    expect(await publishedFileDigest(project)).toBeNull();
    await writeFile(join(project, "advisory_current.json"), "{}\n");
    expect(await publishedFileDigest(project)).toBe(
      "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356",
    );
  });
});
