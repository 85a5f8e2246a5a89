// JSON lines parked per shard in temporary files while the build reads a large input once; each shard's
// page reads back only its own. Shared by the advisory data and the ledger scan.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Lines parked per shard in a temporary folder, each "<shard>\t<key>\t<JSON>" (a raw tab never occurs inside
 * JSON text), buffered so that a million lines make a few thousand writes. Shards are grouped by their last
 * two hex digits into at most 256 files per kind whatever the number of shards (up to 65,536); a group is
 * read back once and kept while its shards are asked for (allShards lists them next to each other). The
 * folder goes when the build process ends.
 */
export class ParkedShards {
  private readonly directory = mkdtempSync(join(tmpdir(), "echo-site-shards-"));
  private readonly pending = new Map<string, string[]>();
  private pendingLength = 0;
  private readonly groups = new Map<string, { name: string; shards: Map<string, [string, string][]> }>();

  constructor() {
    const directory = this.directory;
    process.once("exit", () => rmSync(directory, { recursive: true, force: true }));
  }

  private static fileName(kind: string, shard: string): string {
    if (!/^[0-9a-f]{2,4}$/.test(shard)) throw new Error(`not a shard name: ${shard}`);
    return `${kind}-${shard.slice(-2)}.jsonl`;
  }

  async add(kind: string, shard: string, line: string): Promise<void> {
    const name = ParkedShards.fileName(kind, shard);
    const entry = `${shard}\t${line}`;
    const lines = this.pending.get(name);
    if (lines) lines.push(entry);
    else this.pending.set(name, [entry]);
    this.pendingLength += entry.length;
    if (this.pendingLength > 32 * 1024 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    for (const [name, lines] of this.pending) {
      await appendFile(join(this.directory, name), `${lines.join("\n")}\n`);
    }
    this.pending.clear();
    this.pendingLength = 0;
  }

  /** The shard's lines of `kind` in the order they were added, each split at its first tab: [key, JSON]. */
  async keyedLines(kind: string, shard: string): Promise<[string, string][]> {
    let name: string;
    try {
      name = ParkedShards.fileName(kind, shard);
    } catch {
      return [];
    }
    let group = this.groups.get(kind);
    if (group?.name !== name) {
      const shards = new Map<string, [string, string][]>();
      const path = join(this.directory, name);
      const lines = existsSync(path) ? (await readFile(path, "utf8")).split("\n") : [""];
      lines.pop(); // after the last line end
      for (const line of lines) {
        const first = line.indexOf("\t");
        const second = line.indexOf("\t", first + 1);
        const key = line.slice(0, first);
        const entry: [string, string] = [line.slice(first + 1, second), line.slice(second + 1)];
        const list = shards.get(key);
        if (list) list.push(entry);
        else shards.set(key, [entry]);
      }
      group = { name, shards };
      this.groups.set(kind, group);
    }
    return group.shards.get(shard) ?? [];
  }
}
