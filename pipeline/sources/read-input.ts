import { readFile } from "node:fs/promises";
import { PipelineError } from "../lib/errors.ts";
import type { HttpClient } from "./http/client.ts";
import { isUrl } from "./settings.ts";

/**
 * Reads a source input from a local path or an http(s) URL as bytes. A URL is read only through `http`, a
 * client built from the config (inputHttpClient): there is no default client whose limits would apply
 * silently instead of http.max_response_mb.
 */
export async function readInput(location: string, http?: HttpClient): Promise<Uint8Array> {
  if (isUrl(location)) {
    if (!http) {
      throw new PipelineError("a URL is read only through the pipeline's configured HTTP client", {
        location: { file: location },
      });
    }
    return (await http.getBytes(location)).body;
  }
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

/** Offset of the first byte that is not valid UTF-8 (the length when only the end is cut short). */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  // A streaming decoder keeps the state of a sequence split between calls, so feeding consecutive pieces
  // throws in the piece holding the first byte that cannot continue it. Big pieces find that piece fast;
  // single bytes then find the byte (re-feeding whole prefixes would corrupt the state and be quadratic).
  const pieceSize = 64 * 1024;
  const byPiece = new TextDecoder("utf-8", { fatal: true });
  for (let pieceStart = 0; pieceStart < bytes.length; pieceStart += pieceSize) {
    try {
      byPiece.decode(bytes.subarray(pieceStart, pieceStart + pieceSize), { stream: true });
    } catch {
      const byByte = new TextDecoder("utf-8", { fatal: true });
      byByte.decode(bytes.subarray(0, pieceStart), { stream: true });
      const pieceEnd = Math.min(pieceStart + pieceSize, bytes.length);
      for (let index = pieceStart; index < pieceEnd; index += 1) {
        try {
          byByte.decode(bytes.subarray(index, index + 1), { stream: true });
        } catch {
          return index;
        }
      }
    }
  }
  // Only an unfinished sequence at the very end is left.
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
