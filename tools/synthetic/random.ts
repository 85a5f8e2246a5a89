/**
 * The generator's only source of randomness: a small seeded generator and a hash that derives an
 * independent stream for every entity (a package, an advisory, a CVE), so each file can be written in its
 * own order and still agree with the others, and the same seed always gives the same bytes.
 */

/** Mixes a 32-bit value so that nearby inputs give unrelated outputs (a multiply-xorshift finaliser). */
function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of the seed, a domain label and integer coordinates: the seed of one entity's stream. */
export function streamSeed(seed: number, domain: string, ...coordinates: number[]): number {
  let h = mix32(seed ^ 0x9e3779b9);
  for (let index = 0; index < domain.length; index += 1) h = mix32(h ^ domain.charCodeAt(index));
  for (const coordinate of coordinates) {
    // Coordinates can exceed 32 bits (none do today); fold the high part in so they stay distinct.
    h = mix32(h ^ (coordinate >>> 0));
    h = mix32(h ^ Math.floor(coordinate / 0x100000000));
  }
  return h;
}

/** A uniform number in [0, 1) derived from the coordinates without building a stream. */
export function hashUnit(seed: number, domain: string, ...coordinates: number[]): number {
  return streamSeed(seed, domain, ...coordinates) / 0x100000000;
}

/** Weight tables are constants drawn from millions of times: their running sums are worked out once. */
const cumulativeTables = new WeakMap<object, { keys: string[]; bounds: number[]; total: number }>();

function cumulativeTable(weights: Readonly<Record<string, number>>): {
  keys: string[];
  bounds: number[];
  total: number;
} {
  let table = cumulativeTables.get(weights);
  if (!table) {
    const keys = Object.keys(weights);
    const bounds: number[] = [];
    let total = 0;
    for (const key of keys) {
      total += weights[key] as number;
      bounds.push(total);
    }
    table = { keys, bounds, total };
    cumulativeTables.set(weights, table);
  }
  return table;
}

/**
 * A 128-bit-state generator (four 32-bit words, add-rotate-xor steps with a counter so no seed falls into
 * a short cycle). Fast, and plenty for test data; not for anything secret.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private counter: number;

  constructor(seed: number) {
    this.a = mix32(seed ^ 0xa5a5a5a5);
    this.b = mix32(seed + 0x6a09e667);
    this.c = mix32(seed ^ 0x3c6ef372);
    this.counter = 1;
    // A few rounds so that the first outputs of close seeds are already unrelated.
    for (let round = 0; round < 8; round += 1) this.nextUint32();
  }

  static of(seed: number, domain: string, ...coordinates: number[]): Random {
    return new Random(streamSeed(seed, domain, ...coordinates));
  }

  nextUint32(): number {
    const result = (this.a + this.b + this.counter) >>> 0;
    this.counter = (this.counter + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = (((this.c << 21) | (this.c >>> 11)) + result) >>> 0;
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x100000000;
  }

  /** Uniform integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** Uniform integer in [low, high]. */
  between(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** A key drawn with the weights given (they need not sum to 1). */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const table = cumulativeTable(weights);
    const point = this.next() * table.total;
    for (let index = 0; index < table.bounds.length; index += 1) {
      if (point < (table.bounds[index] as number)) return table.keys[index] as K;
    }
    return table.keys.at(-1) as K;
  }

  /** Fisher–Yates, in place. */
  shuffle<T extends { length: number; [index: number]: unknown }>(items: T): T {
    for (let index = items.length - 1; index > 0; index -= 1) {
      const other = this.int(index + 1);
      const kept = items[index];
      items[index] = items[other];
      items[other] = kept;
    }
    return items;
  }
}

/**
 * Splits `total` into whole parts proportional to `shares` (largest remainder, ties broken by key order),
 * so that counts add up exactly. With `atLeastOne`, every category with a positive share gets at least one
 * whenever the total allows, so tiny datasets still show every case.
 */
export function allocate<K extends string>(
  total: number,
  shares: Readonly<Record<K, number>>,
  atLeastOne = false,
): Record<K, number> {
  const keys = Object.keys(shares) as K[];
  const sum = keys.reduce((acc, key) => acc + shares[key], 0);
  const counts = {} as Record<K, number>;
  if (sum <= 0 || total <= 0) {
    for (const key of keys) counts[key] = 0;
    return counts;
  }
  const remainders: { key: K; remainder: number; order: number }[] = [];
  let assigned = 0;
  keys.forEach((key, order) => {
    const exact = (total * shares[key]) / sum;
    counts[key] = Math.floor(exact);
    assigned += counts[key];
    remainders.push({ key, remainder: exact - counts[key], order });
  });
  remainders.sort((x, y) => y.remainder - x.remainder || x.order - y.order);
  for (let index = 0; assigned < total; index += 1, assigned += 1) {
    const entry = remainders[index % remainders.length] as { key: K };
    counts[entry.key] += 1;
  }
  const positive = keys.filter((key) => shares[key] > 0);
  if (atLeastOne && total >= positive.length) {
    for (const key of positive) {
      if (counts[key] > 0) continue;
      // Take one from the largest category, which barely notices.
      const donor = positive.reduce((best, other) => (counts[other] > counts[best] ? other : best));
      counts[donor] -= 1;
      counts[key] = 1;
    }
  }
  return counts;
}
