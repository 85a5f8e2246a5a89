// JSON lines parked per shard in temporary files while the build reads a large input once; each shard's
// page reads back only its own. Shared by the advisory data and the ledger scan.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allShards } from "./shards.ts";

/**
 * Lines parked per shard in a temporary folder, each "<key>\t<JSON>" (a raw tab never occurs inside JSON
 * text), buffered so that a million lines make a few thousand writes. The folder goes when the build
 * process ends.
 */
export class ParkedShards {
  private readonly directory = mkdtempSync(join(tmpdir(), "echo-site-shards-"));
  private readonly pending = new Map<string, string[]>();
  private pendingLength = 0;

  constructor() {
    const directory = this.directory;
    process.once("exit", () => rmSync(directory, { recursive: true, force: true }));
  }

  async add(kind: string, shard: string, line: string): Promise<void> {
    const name = `${kind}-${shard}.jsonl`;
    const lines = this.pending.get(name);
    if (lines) lines.push(line);
    else this.pending.set(name, [line]);
    this.pendingLength += line.length;
    if (this.pendingLength > 32 * 1024 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    for (const [name, lines] of this.pending) {
      await appendFile(join(this.directory, name), `${lines.join("\n")}\n`);
    }
    this.pending.clear();
    this.pendingLength = 0;
  }

  /** The shard's lines of `kind`, each split at its first tab: [key, JSON]. */
  async keyedLines(kind: string, shard: string): Promise<[string, string][]> {
    const path = join(this.directory, `${kind}-${shard}.jsonl`);
    if (!allShards().includes(shard) || !existsSync(path)) return [];
    const lines = (await readFile(path, "utf8")).split("\n");
    lines.pop(); // after the last line end
    return lines.map((line) => {
      const tab = line.indexOf("\t");
      return [line.slice(0, tab), line.slice(tab + 1)];
    });
  }
}
