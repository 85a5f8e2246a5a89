import { readFile } from "node:fs/promises";
import { isUrl } from "../config.ts";
import { PipelineError } from "../lib/errors.ts";
import { httpGetBytes } from "./http/client.ts";

/** Reads a source input from a local path or an http(s) URL as bytes. */
export async function readInput(location: string): Promise<Uint8Array> {
  if (isUrl(location)) return httpGetBytes(location);
  try {
    return await readFile(location);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PipelineError(
      code === "ENOENT" ? "file not found" : `cannot read the file (${code ?? error})`,
      {
        location: { file: location },
      },
    );
  }
}

/**
 * Decodes UTF-8 strictly (invalid bytes are an error naming the line, not silently replaced) and drops a
 * leading byte-order mark.
 */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    const badOffset = firstInvalidUtf8Offset(bytes);
    const line = countLines(bytes, badOffset);
    throw new PipelineError(`not valid UTF-8 (first bad byte at offset ${badOffset})`, {
      location: { file, line },
      hint: "save the file as UTF-8",
    });
  }
}

function countLines(bytes: Uint8Array, end: number): number {
  let line = 1;
  for (let index = 0; index < end; index += 1) if (bytes[index] === 0x0a) line += 1;
  return line;
}

function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  // Binary search on prefix validity would be wrong for split sequences; a linear scan is simple and rare.
  for (let end = 1; end <= bytes.length; end += 1) {
    try {
      decoder.decode(bytes.subarray(0, end), { stream: true });
    } catch {
      return end - 1;
    }
  }
  return bytes.length;
}

/** Turns a character offset into 1-based line and column numbers. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let index = 0; index < offset && index < text.length; index += 1) {
    if (text.charCodeAt(index) === 10) {
      line += 1;
      lineStart = index + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
