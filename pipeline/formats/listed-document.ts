import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

/**
 * The layout of the large published documents (advisory_current.json, openvex.json): a JSON object whose
 * first members sit one per line, and whose last member is a list with one item per line. It stays valid
 * JSON, a git diff between two runs shows exactly the items that changed, and it can be written a piece at
 * a time: a million items make more text than one V8 string can hold.
 *
 * The item count is given up front, because the comma after each item but the last is written with it.
 */
/**
 * Beyond this size a reader takes such a file a line at a time: V8 cannot hold one string of much more. A
 * smaller file may be parsed whole (faster), so it may be any JSON of the same shape.
 */
export const wholeFileLimitBytes = 256 * 1024 * 1024;

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

/** Where a file departs from the listed layout, and how. */
export class ListedLayoutError extends Error {
  readonly line: number;

  constructor(line: number, what: string) {
    super(`line ${line}: ${what}`);
    this.line = line;
  }
}

/**
 * The items of a file in ListedDocument's layout, parsed one line at a time with their line numbers and JSON
 * text, so a
 * file larger than one string can be read back. The members before the list are checked for shape, and
 * handed to `onMember` parsed when it is given. Anything else (another layout, a truncated file) throws a
 * ListedLayoutError naming the line. With `parseItems` false the items are not parsed (`item` is undefined):
 * a reader that needs only a few members of each line takes them from `text`, at a fraction of the cost.
 */
export async function* readListedItems(
  path: string,
  listKey: string,
  onMember?: (key: string, value: unknown) => void,
  parseItems = true,
): AsyncGenerator<{ item: unknown; line: number; text: string }> {
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  const opening = `${JSON.stringify(listKey)}: [`;
  let lineNumber = 0;
  let part: "head" | "list" | "tail" | "done" = "head";
  for await (const line of lines) {
    lineNumber += 1;
    if (part === "head") {
      if (lineNumber === 1) {
        if (line !== "{") throw new ListedLayoutError(lineNumber, 'expected "{" opening the document');
      } else if (line === opening) part = "list";
      else if (line === `${opening}]`) part = "tail";
      else if (!/^"[^"]+": .*,$/.test(line))
        throw new ListedLayoutError(lineNumber, "expected one of the document's first members");
      else if (onMember) {
        let member: Record<string, unknown>;
        try {
          member = JSON.parse(`{${line.slice(0, -1)}}`);
        } catch (error) {
          throw new ListedLayoutError(lineNumber, `not a member as JSON (${(error as Error).message})`);
        }
        for (const [key, value] of Object.entries(member)) onMember(key, value);
      }
    } else if (part === "list") {
      if (line === "]") {
        part = "tail";
        continue;
      }
      const text = line.endsWith(",") ? line.slice(0, -1) : line;
      let item: unknown;
      try {
        if (parseItems) item = JSON.parse(text);
      } catch (error) {
        throw new ListedLayoutError(lineNumber, `not one item as JSON (${(error as Error).message})`);
      }
      yield { item, line: lineNumber, text };
    } else if (part === "tail") {
      if (line !== "}") throw new ListedLayoutError(lineNumber, `expected "}" after the list of ${listKey}`);
      part = "done";
    } else if (line !== "") throw new ListedLayoutError(lineNumber, "text after the end of the document");
  }
  if (part !== "done")
    throw new ListedLayoutError(lineNumber, "the file ends before the document does (truncated?)");
}

/**
 * The items of a file in ListedDocument's layout as the lines they were written as (without their commas),
 * a chunk at a time, unparsed: for a writer that publishes the same items under new first members.
 */
export async function* listedItemTexts(path: string, listKey: string): AsyncGenerator<string[]> {
  let chunk: string[] = [];
  for await (const { text } of readListedItems(path, listKey, undefined, false)) {
    chunk.push(text);
    if (chunk.length >= 2048) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}
