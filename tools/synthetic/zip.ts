import { crc32, deflateRawSync } from "node:zlib";

/**
 * The zip format, written by hand: an entry's local header and central directory record, and the end
 * records (Zip64 when the archive needs them, as OSV's Debian all.zip does). ZipSink (sinks.ts) streams
 * archives of any size with them; buildZip makes small ones in memory, including archives no zip tool
 * would write (an entry named `../evil.json`, sizes that lie), for the tests.
 */

/** MS-DOS date and time of every entry: fixed, so the archive's bytes depend only on its contents. */
const dosTime = 0; // 00:00:00
const dosDate = ((2026 - 1980) << 9) | (3 << 5) | 1; // 2026-03-01
const zip64Marker32 = 0xffffffff;
const zip64Marker16 = 0xffff;

export interface ZipEntrySpec {
  name: string;
  data: Buffer | string;
  /** 8 (deflate, the default) or 0 (stored). */
  method?: 0 | 8;
  /** What the headers claim the entry inflates to, when that is a lie. */
  declaredSize?: number;
}

/** One entry's bytes: what goes into the archive's body at `offset`, and its central directory record. */
export function zipEntry(
  entry: ZipEntrySpec,
  offset: number,
  deflate: (data: Buffer) => Buffer = deflateRawSync,
): { body: Buffer[]; central: Buffer[] } {
  const data = typeof entry.data === "string" ? Buffer.from(entry.data, "utf8") : entry.data;
  const method = entry.method ?? 8;
  const stored = method === 8 ? deflate(data) : data;
  const name = Buffer.from(entry.name, "utf8");
  const size = entry.declaredSize ?? data.byteLength;
  const checksum = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed: 2.0
  local.writeUInt16LE(0x0800, 6); // UTF-8 name
  local.writeUInt16LE(method, 8);
  local.writeUInt16LE(dosTime, 10);
  local.writeUInt16LE(dosDate, 12);
  local.writeUInt32LE(checksum, 14);
  local.writeUInt32LE(stored.byteLength, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(name.byteLength, 26);
  local.writeUInt16LE(0, 28);

  const needsZip64Offset = offset >= zip64Marker32;
  const extra = Buffer.alloc(needsZip64Offset ? 12 : 0);
  if (needsZip64Offset) {
    extra.writeUInt16LE(0x0001, 0);
    extra.writeUInt16LE(8, 2);
    extra.writeBigUInt64LE(BigInt(offset), 4);
  }
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(needsZip64Offset ? 45 : 20, 4); // version made by
  central.writeUInt16LE(needsZip64Offset ? 45 : 20, 6); // version needed
  central.writeUInt16LE(0x0800, 8);
  central.writeUInt16LE(method, 10);
  central.writeUInt16LE(dosTime, 12);
  central.writeUInt16LE(dosDate, 14);
  central.writeUInt32LE(checksum, 16);
  central.writeUInt32LE(stored.byteLength, 20);
  central.writeUInt32LE(size, 24);
  central.writeUInt16LE(name.byteLength, 28);
  central.writeUInt16LE(extra.byteLength, 30);
  central.writeUInt32LE(needsZip64Offset ? zip64Marker32 : offset, 42);
  return {
    body: [local, name, stored],
    central: extra.byteLength > 0 ? [central, name, extra] : [central, name],
  };
}

/** The records after the central directory (`directoryBytes` long, at `directoryOffset`). */
export function zipEnd(entries: number, directoryBytes: number, directoryOffset: number): Buffer {
  const parts: Buffer[] = [];
  if (entries >= zip64Marker16 || directoryOffset >= zip64Marker32 || directoryBytes >= zip64Marker32) {
    const zip64End = Buffer.alloc(56);
    zip64End.writeUInt32LE(0x06064b50, 0);
    zip64End.writeBigUInt64LE(44n, 4); // size of the rest of this record
    zip64End.writeUInt16LE(45, 12);
    zip64End.writeUInt16LE(45, 14);
    zip64End.writeUInt32LE(0, 16);
    zip64End.writeUInt32LE(0, 20);
    zip64End.writeBigUInt64LE(BigInt(entries), 24);
    zip64End.writeBigUInt64LE(BigInt(entries), 32);
    zip64End.writeBigUInt64LE(BigInt(directoryBytes), 40);
    zip64End.writeBigUInt64LE(BigInt(directoryOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeUInt32LE(0, 4);
    locator.writeBigUInt64LE(BigInt(directoryOffset + directoryBytes), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(zip64End, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(entries, zip64Marker16), 8);
  end.writeUInt16LE(Math.min(entries, zip64Marker16), 10);
  end.writeUInt32LE(Math.min(directoryBytes, zip64Marker32), 12);
  end.writeUInt32LE(Math.min(directoryOffset, zip64Marker32), 16);
  parts.push(end);
  return Buffer.concat(parts);
}

const byteLength = (parts: readonly Buffer[]) => parts.reduce((sum, part) => sum + part.byteLength, 0);

/** A whole archive in memory. */
export function buildZip(entries: readonly ZipEntrySpec[]): Buffer {
  const body: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const written = zipEntry(entry, offset);
    body.push(...written.body);
    central.push(...written.central);
    offset += byteLength(written.body);
  }
  return Buffer.concat([...body, ...central, zipEnd(entries.length, byteLength(central), offset)]);
}
