// Which data file holds a key (an advisory id, a CVE id, a package name). Shared by the build (which writes
// the files) and the browser (which fetches one), so both compute it identically: FNV-1a over the key's
// UTF-16 code units, its low `bits` bits in hex. The number of bits grows with the data (shardBitsFor), so
// that one file stays a few KB on the vendor's 40k advisories and at 25× that; the pages are told the bits.
export const minShardBits = 8;
export const maxShardBits = 16;

export function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Hex digits of a shard name: 2 for 8 bits, 3 for 9 to 12, 4 for 13 to 16. */
const widthOf = (bits: number) => Math.ceil(bits / 4);

export function shardOf(key: string, bits = minShardBits): string {
  return (hashOf(key) & ((1 << bits) - 1)).toString(16).padStart(widthOf(bits), "0");
}

/**
 * Every shard name for `bits`, those that share their low byte next to each other: the build parks lines
 * per low byte (256 temporary files) and reads each such file once for all its shards.
 */
export function allShards(bits = minShardBits): string[] {
  const names: string[] = [];
  for (let low = 0; low < 256; low++) {
    for (let high = 0; high < 1 << (bits - minShardBits); high++) {
      names.push(((high << 8) | low).toString(16).padStart(widthOf(bits), "0"));
    }
  }
  return names;
}

/** The fewest bits (8 to 16) that give shards of about `targetBytes` for `totalBytes` of data. */
export function shardBitsFor(totalBytes: number, targetBytes: number): number {
  let bits = minShardBits;
  while (bits < maxShardBits && totalBytes / 2 ** bits > targetBytes) bits += 1;
  return bits;
}

/** The CVE (vulnerability id) of an advisory id `<package>:<vulnerability id>`. */
export const cveOfAdvisory = (advisoryId: string): string => advisoryId.slice(advisoryId.indexOf(":") + 1);
