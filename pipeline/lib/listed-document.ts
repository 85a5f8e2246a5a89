/**
 * The layout of the large published documents (advisory_current.json, openvex.json): a JSON object whose
 * first members sit one per line, and whose last member is a list with one item per line. It stays valid
 * JSON, a git diff between two runs shows exactly the items that changed, and it can be written a piece at
 * a time: a million items make more text than one V8 string can hold.
 *
 * The item count is given up front, because the comma after each item but the last is written with it.
 */
export class ListedDocument {
  private readonly members: readonly (readonly [string, unknown])[];
  private readonly listKey: string;
  private readonly count: number;
  private written = 0;

  /** `members` are [key, value] in file order; each value is written as compact JSON. */
  constructor(members: readonly (readonly [string, unknown])[], listKey: string, count: number) {
    this.members = members;
    this.listKey = listKey;
    this.count = count;
  }

  /** Everything before the first item. */
  start(): string {
    const head = this.members.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)},\n`);
    return `{\n${head.join("")}${JSON.stringify(this.listKey)}: [${this.count === 0 ? "]" : ""}\n`;
  }

  /** The next items, each already serialised to one line of JSON. */
  items(lines: readonly string[]): string {
    if (this.written + lines.length > this.count) {
      throw new Error(`${this.listKey}: more than the ${this.count} items announced`);
    }
    let text = "";
    for (const line of lines) {
      this.written += 1;
      text += this.written < this.count ? `${line},\n` : `${line}\n`;
    }
    return text;
  }

  /** Everything after the last item. */
  end(): string {
    if (this.written !== this.count) {
      throw new Error(`${this.listKey}: ${this.written} items written, ${this.count} announced`);
    }
    return this.count === 0 ? "}\n" : "]\n}\n";
  }

  /** The whole document at once, for one that fits in memory. */
  static serialise(
    members: readonly (readonly [string, unknown])[],
    listKey: string,
    lines: string[],
  ): string {
    const document = new ListedDocument(members, listKey, lines.length);
    return document.start() + document.items(lines) + document.end();
  }
}
