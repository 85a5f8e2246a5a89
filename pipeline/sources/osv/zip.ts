import { readFile, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { inflateRawSync } from "node:zlib";
import yauzl from "yauzl";
import { PipelineError } from "../../lib/errors.ts";
import type { Rejection } from "../types.ts";
import { errorText } from "./helpers.ts";

/**
 * Reads OSV's `<ecosystem>/all.zip` (or any zip from outside) entry by entry, without extracting anything
 * to disk, and refuses what a hostile archive could do:
 * - names with a `..` segment, absolute names (`/x`, `C:x`), backslashes or NUL: the entry is rejected;
 * - an entry larger than `maxEntryBytes`, declared or actual (a header that understates the size is
 *   caught while inflating): rejected, and it is never held whole in memory;
 * - an entry whose declared size is more than `maxRatio` times its compressed size (a decompression
 *   bomb), for entries of at least 64 KiB: rejected before inflating;
 * - more than `maxTotalBytes` inflated in all, or more than `maxEntries` entries: the archive as a whole is
 *   refused with a PipelineError (what was yielded before stands, but the delivery is incomplete);
 * - encrypted entries or compression methods other than stored/deflate: rejected.
 */
export interface ZipLimits {
  maxEntryBytes: number;
  maxTotalBytes: number;
  maxRatio: number;
  maxEntries: number;
}

export const defaultZipLimits: ZipLimits = {
  maxEntryBytes: 16 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
  maxRatio: 200,
  maxEntries: 1_000_000,
};

/** Archives up to this size are read into memory whole before their entries are read. */
const wholeArchiveBytes = 1024 * 1024 * 1024;

/** Below this size a high compression ratio costs nothing and is common (a run of spaces). */
const ratioFloorBytes = 64 * 1024;

export type ZipItem =
  | { kind: "entry"; name: string; bytes: Buffer }
  | { kind: "rejected"; rejection: Rejection };

export interface ZipReadOptions {
  /** Overrides of the default limits. */
  limits?: Partial<ZipLimits>;
  /** Entries to read (e.g. `name.endsWith(".json")`); the others are skipped unread. Directories always are. */
  accept?: (name: string) => boolean;
  /** How the archive is named in rejections and errors; defaults to the path, or "(zip)" for bytes. */
  label?: string;
}

/** Why an entry name is unsafe to use as a path, or null when it is safe. */
export function unsafeEntryName(name: string): string | null {
  if (name === "") return "the entry has an empty name";
  if (name.includes("\0")) return "the entry name contains a NUL character";
  if (name.includes("\\")) return "the entry name contains a backslash";
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) return "the entry name is an absolute path";
  if (name.split("/").includes("..")) return "the entry name climbs out of the archive with ..";
  return null;
}

/**
 * Yields the archive's entries (a file path, or the archive's bytes) one at a time, with the checks above.
 * Throws a PipelineError when the archive cannot be read as a zip at all or breaks a whole-archive limit.
 */
export async function* readZipEntries(
  source: string | Uint8Array,
  options: ZipReadOptions = {},
): AsyncGenerator<ZipItem> {
  const limits = { ...defaultZipLimits, ...options.limits };
  const label = options.label ?? (typeof source === "string" ? source : "(zip)");
  // decodeStrings is off so that yauzl hands over every name and this reader rejects the bad ones one by
  // one, instead of yauzl failing the whole archive on the first.
  const yauzlOptions = {
    lazyEntries: true,
    autoClose: false,
    decodeStrings: false,
    validateEntrySizes: true,
  };
  let zipfile: yauzl.ZipFile;
  try {
    // A file read whole first: reading it in place costs two small reads per entry through libuv's thread
    // pool, which took 22 s of the 29 s OSV spent on a 53,000-entry archive. Larger archives than the limit
    // are still read in place, so memory stays bounded.
    const whole =
      typeof source === "string" && (await stat(source)).size <= wholeArchiveBytes
        ? await readFile(source)
        : source;
    zipfile =
      typeof whole === "string"
        ? await yauzl.openPromise(whole, yauzlOptions)
        : await yauzl.fromBufferPromise(
            Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength),
            yauzlOptions,
          );
  } catch (error) {
    throw new PipelineError(`cannot read the zip archive: ${errorText(error)}`, {
      location: { file: label },
    });
  }
  if (zipfile.entryCount > limits.maxEntries) {
    zipfile.close();
    throw new PipelineError(
      `the zip archive holds ${zipfile.entryCount} entries, more than ${limits.maxEntries}`,
      {
        location: { file: label },
      },
    );
  }
  const reject = (name: string, reason: string): ZipItem => ({
    kind: "rejected",
    rejection: { location: { file: label, key: name }, reason },
  });
  let total = 0;
  try {
    const entries = zipfile.eachEntry();
    while (true) {
      let next: IteratorResult<yauzl.Entry>;
      try {
        next = await entries.next();
      } catch (error) {
        throw new PipelineError(`the zip archive is malformed: ${errorText(error)}`, {
          location: { file: label },
        });
      }
      if (next.done) break;
      const entry = next.value;
      const name = yauzl.getFileNameLowLevel(
        entry.generalPurposeBitFlag,
        entry.fileNameRaw,
        entry.extraFields,
        true,
      );
      const unsafe = unsafeEntryName(name);
      if (unsafe) {
        yield reject(name, unsafe);
        continue;
      }
      if (name.endsWith("/")) continue;
      if (options.accept && !options.accept(name)) continue;
      if (entry.isEncrypted()) {
        yield reject(name, "the entry is encrypted");
        continue;
      }
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
        yield reject(name, `unsupported compression method ${entry.compressionMethod}`);
        continue;
      }
      if (entry.uncompressedSize > limits.maxEntryBytes) {
        yield reject(
          name,
          `the entry is ${entry.uncompressedSize} bytes, more than the ${limits.maxEntryBytes} allowed`,
        );
        continue;
      }
      const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1);
      if (entry.uncompressedSize >= ratioFloorBytes && ratio > limits.maxRatio) {
        yield reject(
          name,
          `the entry inflates ${Math.round(ratio)} times (${entry.compressedSize} → ${entry.uncompressedSize} bytes), more than ${limits.maxRatio}: a decompression bomb`,
        );
        continue;
      }
      if (total + entry.uncompressedSize > limits.maxTotalBytes) {
        throw totalError(label, total + entry.uncompressedSize, limits.maxTotalBytes);
      }
      const remaining = limits.maxTotalBytes - total;
      const read = await readEntry(zipfile, entry, Math.min(limits.maxEntryBytes, remaining));
      if (read === "limit" && remaining < limits.maxEntryBytes) {
        // The header understated the size and the entry ran past what the whole archive may inflate.
        throw totalError(label, limits.maxTotalBytes + 1, limits.maxTotalBytes);
      }
      if (typeof read === "string") {
        yield reject(
          name,
          read === "limit"
            ? `the entry inflates past the ${limits.maxEntryBytes} bytes allowed (its header says ${entry.uncompressedSize})`
            : read,
        );
        continue;
      }
      total += read.byteLength;
      yield { kind: "entry", name, bytes: read };
    }
  } finally {
    zipfile.close();
  }
}

function totalError(label: string, size: number, limit: number): PipelineError {
  return new PipelineError(`the zip archive inflates to more than ${limit} bytes (at least ${size})`, {
    location: { file: label },
    hint: "raise maxTotalBytes if the archive really is this large",
  });
}

/**
 * The entry's bytes, "limit" when it inflates past `limit` bytes, or the reason it could not be read. The
 * compressed bytes are read raw and inflated in one synchronous call: a zlib stream per entry cost several
 * trips through libuv's thread pool each, most of the 29 s a 53,000-entry archive took.
 */
async function readEntry(
  zipfile: yauzl.ZipFile,
  entry: yauzl.Entry,
  limit: number,
): Promise<Buffer | string> {
  let stream: Readable;
  try {
    // yauzl takes `decompress` only for compressed entries; a stored entry's bytes are its data anyway.
    stream = await zipfile.openReadStreamPromise(
      entry,
      entry.compressionMethod === 8 ? { decompress: false } : {},
    );
  } catch (error) {
    return `cannot open the entry: ${errorText(error)}`;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
    }
  } catch (error) {
    stream.destroy();
    return `cannot read the entry: ${errorText(error)}`;
  }
  const raw = Buffer.concat(chunks, size);
  // Inflating stops one byte past what the header declares, or past the limit if that is lower: either way
  // nothing larger than allowed is ever held.
  const declared = entry.uncompressedSize;
  const ceiling = Math.min(declared, limit) + 1;
  let bytes: Buffer;
  if (entry.compressionMethod === 0 || raw.byteLength === 0) {
    bytes = raw.subarray(0, ceiling);
  } else {
    try {
      bytes = inflateRawSync(raw, { maxOutputLength: ceiling });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ERR_BUFFER_TOO_LARGE")
        return `cannot inflate the entry: ${errorText(error)}`;
      bytes = Buffer.alloc(ceiling);
    }
  }
  if (bytes.byteLength > limit) return "limit";
  if (bytes.byteLength > declared)
    return `cannot inflate the entry: too many bytes in the stream, expected ${declared}, got at least ${bytes.byteLength}`;
  if (bytes.byteLength < declared)
    return `cannot inflate the entry: not enough bytes in the stream, expected ${declared}, got only ${bytes.byteLength}`;
  return bytes;
}
