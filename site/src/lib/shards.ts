// Which detail file holds an advisory. Shared by the build (which writes the files) and the browser (which
// fetches one), so both must compute it identically: FNV-1a over the id's UTF-16 code units, low byte in hex.
// 256 files keep each fetch small (≈160 advisories on the real dataset) without thousands of tiny files.
export const shardCount = 256;

export function shardOf(advisoryId: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < advisoryId.length; index++) {
    hash ^= advisoryId.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash & 0xff).toString(16).padStart(2, "0");
}

export const allShards = (): string[] =>
  Array.from({ length: shardCount }, (_, index) => index.toString(16).padStart(2, "0"));
