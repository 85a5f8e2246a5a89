import { TextDecoder } from "node:util";
import { PipelineError } from "../../lib/errors.ts";
import { firstInvalidUtf8Offset } from "../read-input.ts";

/** One member of a top-level JSON object: its key and the raw JSON text of its value. */
export interface TopLevelMember {
  key: string;
  json: string;
}

type State = "start" | "first-key" | "key" | "in-key" | "colon" | "value-start" | "value" | "done";

/**
 * Splits a JSON document whose top level is an object into its members without parsing the values, so a
 * 100+ MB document (the Debian tracker's) is read with one member in memory at a time. Only the structure
 * is checked here (strings, nesting, commas); each value is left to JSON.parse by the caller. Chunks may
 * cut anywhere, UTF-8 sequences and escapes included.
 */
export async function* splitTopLevelObject(
  chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  ref: string | null = null,
): AsyncGenerator<TopLevelMember> {
  const splitter = new ObjectSplitter(ref);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let bytesRead = 0;
  for await (const chunk of chunks) {
    const text = typeof chunk === "string" ? chunk : decode(decoder, chunk, true, splitter, bytesRead);
    if (typeof chunk !== "string") bytesRead += chunk.byteLength;
    yield* splitter.push(text);
  }
  yield* splitter.push(decode(decoder, new Uint8Array(0), false, splitter, bytesRead));
  splitter.finish();
}

function decode(
  decoder: TextDecoder,
  bytes: Uint8Array,
  stream: boolean,
  splitter: ObjectSplitter,
  bytesRead: number,
): string {
  try {
    return decoder.decode(bytes, { stream });
  } catch {
    // The bad byte's line: the lines read so far plus the line breaks before it in this chunk.
    const bad = firstInvalidUtf8Offset(bytes);
    const line = splitter.line + bytes.subarray(0, bad).filter((byte) => byte === 0x0a).length;
    return splitter.fail(`not valid UTF-8 (first bad byte at offset ${bytesRead + bad})`, line);
  }
}

class ObjectSplitter {
  private state: State = "start";
  private readonly ref: string | null;
  /** Characters consumed so far, for error messages. */
  offset = 0;
  /** The line being read (1-based), for error messages. */
  line = 1;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private parts: string[] = [];
  private key = "";

  constructor(ref: string | null) {
    this.ref = ref;
  }

  push(text: string): TopLevelMember[] {
    const members: TopLevelMember[] = [];
    let captureStart = 0;
    for (let index = 0; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      if (code === 0x0a) this.line += 1;
      switch (this.state) {
        case "value": {
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (code === 0x5c) this.escaped = true;
            else if (code === 0x22) this.inString = false;
            break;
          }
          if (code === 0x22) this.inString = true;
          else if (code === 0x7b || code === 0x5b) this.depth += 1;
          else if (code === 0x7d || code === 0x5d || code === 0x2c) {
            if (this.depth > 0 && code !== 0x2c) this.depth -= 1;
            else if (this.depth === 0) {
              if (code === 0x5d) throw this.unexpected(text, index);
              this.parts.push(text.slice(captureStart, index));
              const json = this.parts.join("").trim();
              this.parts = [];
              if (json === "") throw this.unexpected(text, index);
              members.push({ key: this.key, json });
              this.state = code === 0x2c ? "key" : "done";
            }
          }
          break;
        }
        case "in-key": {
          if (this.escaped) this.escaped = false;
          else if (code === 0x5c) this.escaped = true;
          else if (code === 0x22) {
            this.parts.push(text.slice(captureStart, index));
            this.key = this.parseKey(this.parts.join(""));
            this.parts = [];
            this.state = "colon";
          }
          break;
        }
        default: {
          if (isWhitespace(code) || (code === 0xfeff && this.offset + index === 0)) break;
          const next = this.structural(text, index, code);
          this.state = next;
          // A key's text starts after its quote; a value's with its first character.
          if (next === "in-key") captureStart = index + 1;
          else if (next === "value") captureStart = index;
        }
      }
    }
    if (this.state === "value" || this.state === "in-key") this.parts.push(text.slice(captureStart));
    this.offset += text.length;
    return members;
  }

  /** The document must have ended with the top-level object's closing brace. */
  finish(): void {
    if (this.state !== "done") {
      throw this.error(
        this.state === "start"
          ? "the document is empty"
          : `the document ends inside the top-level object after ${this.offset} characters (truncated?)`,
        this.ref,
      );
    }
  }

  error(message: string, ref: string | null): PipelineError {
    return new PipelineError(message, { location: { ...(ref ? { file: ref } : {}), line: this.line } });
  }

  fail(message: string, line: number): never {
    throw new PipelineError(message, { location: { ...(this.ref ? { file: this.ref } : {}), line } });
  }

  /** Reads one non-blank character outside a key or value and returns the state it leads to. */
  private structural(text: string, index: number, code: number): State {
    switch (this.state) {
      case "start":
        if (code !== 0x7b) {
          throw this.error(
            `the tracker JSON must be an object keyed by source package, found ${JSON.stringify(text[index])} at character ${this.offset + index}`,
            this.ref,
          );
        }
        return "first-key";
      case "first-key":
        if (code === 0x7d) return "done";
        if (code !== 0x22) throw this.unexpected(text, index);
        return "in-key";
      case "key":
        if (code !== 0x22) throw this.unexpected(text, index);
        return "in-key";
      case "colon":
        if (code !== 0x3a) throw this.unexpected(text, index);
        return "value-start";
      case "value-start":
        // The value's first character: a string or a container opens here; a scalar just begins.
        if (code === 0x2c || code === 0x7d || code === 0x5d || code === 0x3a)
          throw this.unexpected(text, index);
        this.depth = code === 0x7b || code === 0x5b ? 1 : 0;
        this.inString = code === 0x22;
        this.escaped = false;
        return "value";
      default:
        throw this.unexpected(text, index);
    }
  }

  private parseKey(raw: string): string {
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      throw this.error(`invalid key ${JSON.stringify(raw)} near character ${this.offset}`, this.ref);
    }
  }

  private unexpected(text: string, index: number): PipelineError {
    return this.error(
      `invalid JSON: unexpected ${JSON.stringify(text[index])} at character ${this.offset + index}`,
      this.ref,
    );
  }
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
