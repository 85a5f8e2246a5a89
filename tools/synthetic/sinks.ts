import { createHash, type Hash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { zipEnd, zipEntry } from "./zip.ts";

/**
 * Sinks that write the generated files without holding them in memory: a buffered file written under a
 * temporary name and renamed into place when complete (a reader never sees half a file), a directory
 * built the same way, and a streaming zip writer. Writes are synchronous: the generator is CPU-bound, and
 * synchronous writes keep memory flat without back-pressure bookkeeping.
 */

const bufferBytes = 1 << 20;

/** The temporary name beside `path`; unique per process so two generators never share one. */
function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/** Moves `from` onto `to`, replacing a file or a whole directory left by an earlier run. */
function replace(from: string, to: string): void {
  if (existsSync(to)) {
    const old = `${temporaryPath(to)}.old`;
    renameSync(to, old);
    renameSync(from, to);
    rmSync(old, { recursive: true, force: true });
    return;
  }
  renameSync(from, to);
}

/** Where a format writer puts its text: a FileSink, or a StringSink for files made in memory. */
export interface TextSink {
  write(text: string): void;
}

/** Collects what is written, for small files returned as strings. */
export class StringSink implements TextSink {
  private readonly parts: string[] = [];

  write(text: string): void {
    this.parts.push(text);
  }

  text(): string {
    return this.parts.join("");
  }
}

export class FileSink {
  readonly path: string;
  private readonly temporary: string;
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(bufferBytes);
  private used = 0;
  private readonly hash: Hash = createHash("sha256");
  bytes = 0;

  constructor(path: string, options: { temporary?: string } = {}) {
    this.path = path;
    this.temporary = options.temporary ?? temporaryPath(path);
    mkdirSync(dirname(this.temporary), { recursive: true });
    this.fd = openSync(this.temporary, "w");
  }

  write(data: string | Buffer): void {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    this.hash.update(bytes);
    this.bytes += bytes.byteLength;
    if (bytes.byteLength >= bufferBytes) {
      this.flush();
      writeAll(this.fd, bytes);
      return;
    }
    if (this.used + bytes.byteLength > bufferBytes) this.flush();
    bytes.copy(this.buffer, this.used);
    this.used += bytes.byteLength;
  }

  private flush(): void {
    if (this.used > 0) writeAll(this.fd, this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  /** Closes the file and renames it into place; returns its size and sha256. */
  commit(): { bytes: number; sha256: string } {
    this.flush();
    closeSync(this.fd);
    replace(this.temporary, this.path);
    return { bytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  /** Closes and deletes the temporary file (after a failure). */
  discard(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.temporary, { force: true });
  }

  /** Closes without renaming, for a file that is only a part of another (the zip's central directory). */
  closeAsPart(): string {
    this.flush();
    closeSync(this.fd);
    return this.temporary;
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.byteLength) offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
}

/** A directory filled under a temporary name and renamed into place when complete. */
export class DirectorySink {
  readonly path: string;
  private readonly temporary: string;
  files = 0;
  bytes = 0;
  private readonly hash: Hash = createHash("sha256");

  constructor(path: string) {
    this.path = path;
    this.temporary = temporaryPath(path);
    rmSync(this.temporary, { recursive: true, force: true });
    mkdirSync(this.temporary, { recursive: true });
  }

  /** Writes one file; the digest covers names and contents in the order written. */
  writeFile(name: string, content: string | Buffer): void {
    const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    const fd = openSync(join(this.temporary, name), "w");
    try {
      writeAll(fd, bytes);
    } finally {
      closeSync(fd);
    }
    this.hash.update(`${name}\0${bytes.byteLength}\0`);
    this.hash.update(bytes);
    this.files += 1;
    this.bytes += bytes.byteLength;
  }

  commit(): { files: number; bytes: number; sha256: string } {
    replace(this.temporary, this.path);
    return { files: this.files, bytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  discard(): void {
    rmSync(this.temporary, { recursive: true, force: true });
  }
}

/**
 * A zip archive written entry by entry (zip.ts's records; deflate, UTF-8 names), with Zip64 end records
 * when it holds 65,535 entries or more, as OSV's Debian all.zip does. The central directory goes to a
 * temporary side file while entries are written, then is appended: memory stays flat however many
 * entries there are.
 */
export class ZipSink {
  private readonly body: FileSink;
  private readonly directory: FileSink;
  private offset = 0;
  entries = 0;
  uncompressedBytes = 0;

  constructor(path: string) {
    this.body = new FileSink(path);
    this.directory = new FileSink(`${path}.central`, { temporary: `${temporaryPath(path)}.central` });
  }

  add(name: string, content: string | Buffer): void {
    const data = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    // Records are about a kilobyte: a small window compresses them as well as the default one, and fast
    // settings matter with half a million entries (setting up each deflate stream is most of the cost).
    const written = zipEntry({ name, data }, this.offset, (bytes) =>
      deflateRawSync(bytes, { level: 1, windowBits: 12, memLevel: 4 }),
    );
    for (const part of written.body) {
      this.body.write(part);
      this.offset += part.byteLength;
    }
    for (const part of written.central) this.directory.write(part);
    this.entries += 1;
    this.uncompressedBytes += data.byteLength;
  }

  commit(): { bytes: number; sha256: string; entries: number } {
    const directoryOffset = this.offset;
    const directoryBytes = this.directory.bytes;
    const directoryPath = this.directory.closeAsPart();
    try {
      const fd = openSync(directoryPath, "r");
      try {
        const chunk = Buffer.allocUnsafe(bufferBytes);
        for (let read = readSync(fd, chunk, 0, bufferBytes, null); read > 0; ) {
          this.body.write(Buffer.from(chunk.subarray(0, read)));
          read = readSync(fd, chunk, 0, bufferBytes, null);
        }
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(directoryPath, { force: true });
    }
    this.body.write(zipEnd(this.entries, directoryBytes, directoryOffset));
    return { ...this.body.commit(), entries: this.entries };
  }

  discard(): void {
    this.body.discard();
    this.directory.discard();
  }
}
