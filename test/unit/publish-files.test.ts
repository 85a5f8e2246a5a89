import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { completeInterruptedPublish } from "../../pipeline/formats/release-journal.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { publishFiles, StagedRelease } from "../../pipeline/lib/files.ts";

const journal = ".publish-journal.json";

describe("publishing a run's files as one release", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-publish-"));
    await writeFile(join(dir, "a.json"), "old a\n");
    await writeFile(join(dir, "b.json"), "old b\n");
    await mkdir(join(dir, "history"));
    await writeFile(join(dir, "history", "gone.jsonl"), "old ledger\n");
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const listing = async () => (await readdir(dir, { recursive: true })).sort();

  it("writes every file, removes those given no content, and leaves no journal or temporary behind", async () => {
    await publishFiles(dir, [
      { path: join(dir, "history", "gone.jsonl"), content: null },
      { path: join(dir, "history", "new.jsonl"), content: "new ledger\n" },
      { path: join(dir, "a.json"), content: "new a\n" },
      { path: join(dir, "b.json"), content: "new b\n" },
    ]);
    expect(await listing()).toEqual(["a.json", "b.json", "history", join("history", "new.jsonl")]);
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe("new a\n");
    expect(await readFile(join(dir, "b.json"), "utf8")).toBe("new b\n");
  });

  it("leaves the previous files untouched when staging fails part way", async () => {
    // A file where a folder is needed: staging the second file fails after the first one was staged.
    await writeFile(join(dir, "c.json"), "a file, not a folder");
    await expect(
      publishFiles(dir, [
        { path: join(dir, "a.json"), content: "new a\n" },
        { path: join(dir, "c.json", "x"), content: "x" },
      ]),
    ).rejects.toThrow(/ENOTDIR|EEXIST/);
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe("old a\n");
    expect((await listing()).filter((name) => name.endsWith(".tmp") || name === journal)).toEqual([]);
  });

  it("stages a file produced piece by piece, and discards what it staged when a later piece fails", async () => {
    async function* pieces(failAfter?: number): AsyncGenerator<string> {
      for (let index = 0; index < 5; index += 1) {
        if (index === failAfter) throw new Error("the query failed part way");
        yield `line ${index}\n`;
      }
    }
    const failing = new StagedRelease(dir);
    await failing.stage(join(dir, "b.json"), "new b\n");
    await expect(failing.stage(join(dir, "a.json"), pieces(3))).rejects.toThrow(/failed part way/);
    await failing.discard();
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe("old a\n");
    expect(await readFile(join(dir, "b.json"), "utf8")).toBe("old b\n");
    expect((await listing()).filter((name) => name.endsWith(".tmp") || name === journal)).toEqual([]);
    await expect(failing.publish()).rejects.toThrow(/already discarded/);

    const release = new StagedRelease(dir);
    await release.stage(join(dir, "a.json"), pieces());
    await release.publish();
    await release.discard(); // nothing to do once published
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe("line 0\nline 1\nline 2\nline 3\nline 4\n");
    expect((await listing()).filter((name) => name.endsWith(".tmp") || name === journal)).toEqual([]);
  });

  it("finishes a release a killed process had started renaming, and only once", async () => {
    // What a process killed after renaming a.json, with b.json's rename and the removal still to do, leaves.
    await writeFile(join(dir, "a.json"), "new a\n");
    await writeFile(join(dir, "b.json.4242.0a0b0c0d.tmp"), "new b\n");
    await writeFile(
      join(dir, journal),
      JSON.stringify({
        files: [
          { path: "a.json", temporary: "a.json.4242.01020304.tmp" },
          { path: "b.json", temporary: "b.json.4242.0a0b0c0d.tmp" },
          { path: "history/gone.jsonl", temporary: null },
        ],
      }),
    );
    expect(await completeInterruptedPublish(dir)).toBe(1);
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe("new a\n");
    expect(await readFile(join(dir, "b.json"), "utf8")).toBe("new b\n");
    expect(await listing()).toEqual(["a.json", "b.json", "history"]);
    expect(await completeInterruptedPublish(dir)).toBe(0);
  });

  it("refuses a journal it cannot read, naming it, and changes nothing", async () => {
    await writeFile(join(dir, journal), JSON.stringify({ files: [{ path: "a.json" }] }));
    const attempt = completeInterruptedPublish(dir);
    await expect(attempt).rejects.toBeInstanceOf(PipelineError);
    await expect(attempt).rejects.toThrow(/files\[0\] needs a "path" and a "temporary"/);
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe("old a\n");
    expect(await listing()).toContain(journal);
  });
});
