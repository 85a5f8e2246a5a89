import { createHash, type Hash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { crc32, deflateRawSync } from "node:zlib";

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

/** MS-DOS date and time of every entry: fixed, so the archive's bytes depend only on its contents. */
const dosTime = 0; // 00:00:00
const dosDate = ((2026 - 1980) << 9) | (3 << 5) | 1; // 2026-03-01
const zip64Marker32 = 0xffffffff;
const zip64Marker16 = 0xffff;

/**
 * A zip archive written entry by entry (deflate, UTF-8 names, sizes known up front), with Zip64 end
 * records when it holds 65,535 entries or more, as OSV's Debian all.zip does. The central directory goes
 * to a temporary side file while entries are written, then is appended: memory stays flat however many
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
    const compressed = deflateRawSync(data, { level: 1, windowBits: 12, memLevel: 4 });
    const nameBytes = Buffer.from(name, "utf8");
    const checksum = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // UTF-8 name
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(checksum, 14);
    local.writeUInt32LE(compressed.byteLength, 18);
    local.writeUInt32LE(data.byteLength, 22);
    local.writeUInt16LE(nameBytes.byteLength, 26);
    local.writeUInt16LE(0, 28);

    const needsZip64Offset = this.offset >= zip64Marker32;
    const extra = Buffer.alloc(needsZip64Offset ? 12 : 0);
    if (needsZip64Offset) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(8, 2);
      extra.writeBigUInt64LE(BigInt(this.offset), 4);
    }
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(needsZip64Offset ? 45 : 20, 4); // version made by
    central.writeUInt16LE(needsZip64Offset ? 45 : 20, 6); // version needed
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(checksum, 16);
    central.writeUInt32LE(compressed.byteLength, 20);
    central.writeUInt32LE(data.byteLength, 24);
    central.writeUInt16LE(nameBytes.byteLength, 28);
    central.writeUInt16LE(extra.byteLength, 30);
    central.writeUInt32LE(needsZip64Offset ? zip64Marker32 : this.offset, 42);

    this.body.write(local);
    this.body.write(nameBytes);
    this.body.write(compressed);
    this.directory.write(central);
    this.directory.write(nameBytes);
    if (extra.byteLength > 0) this.directory.write(extra);
    this.offset += local.byteLength + nameBytes.byteLength + compressed.byteLength;
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
    const zip64 =
      this.entries >= zip64Marker16 || directoryOffset >= zip64Marker32 || directoryBytes >= zip64Marker32;
    if (zip64) {
      const zip64End = Buffer.alloc(56);
      zip64End.writeUInt32LE(0x06064b50, 0);
      zip64End.writeBigUInt64LE(44n, 4); // size of the rest of this record
      zip64End.writeUInt16LE(45, 12);
      zip64End.writeUInt16LE(45, 14);
      zip64End.writeUInt32LE(0, 16);
      zip64End.writeUInt32LE(0, 20);
      zip64End.writeBigUInt64LE(BigInt(this.entries), 24);
      zip64End.writeBigUInt64LE(BigInt(this.entries), 32);
      zip64End.writeBigUInt64LE(BigInt(directoryBytes), 40);
      zip64End.writeBigUInt64LE(BigInt(directoryOffset), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeUInt32LE(0, 4);
      locator.writeBigUInt64LE(BigInt(directoryOffset + directoryBytes), 8);
      locator.writeUInt32LE(1, 16);
      this.body.write(zip64End);
      this.body.write(locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(Math.min(this.entries, zip64Marker16), 8);
    end.writeUInt16LE(Math.min(this.entries, zip64Marker16), 10);
    end.writeUInt32LE(Math.min(directoryBytes, zip64Marker32), 12);
    end.writeUInt32LE(Math.min(directoryOffset, zip64Marker32), 16);
    this.body.write(end);
    return { ...this.body.commit(), entries: this.entries };
  }

  discard(): void {
    this.body.discard();
    this.directory.discard();
  }
}
