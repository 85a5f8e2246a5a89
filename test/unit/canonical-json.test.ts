import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalJson, sha256 } from "../../pipeline/lib/hash.ts";
import { rowContentHash } from "../../pipeline/lib/row-stage.ts";
import type { LandingValue } from "../../pipeline/sources/types.ts";

/** What canonicalJson must give: JSON.stringify with every object's keys sorted (the earlier implementation). */
function reference(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item && typeof item === "object" && !Array.isArray(item)) {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(item).sort()) sorted[key] = (item as Record<string, unknown>)[key];
      return sorted;
    }
    return item;
  });
}

const values: [string, unknown][] = [
  ["a flat record", { b: 1, a: "x", c: null, d: true }],
  ["nesting, arrays of objects", { z: [{ y: 2, x: [3, { q: 1, p: 2 }] }], a: { c: { e: 1, d: 2 } } }],
  ["undefined, functions and symbols", { a: undefined, b: () => 1, c: Symbol("s"), d: [undefined, () => 1] }],
  ["non-finite and odd numbers", [Number.NaN, Number.POSITIVE_INFINITY, -0, 1e21, 1e-7, 0.1 + 0.2]],
  ["strings that need escaping", { 'quote"key': 'a"b\\c\n\u0001\u2028', é: "ü😀", "\ud800": "\udfff" }],
  [
    "dates and toJSON",
    { when: new Date("2026-01-02T03:04:05.678Z"), custom: { toJSON: () => ({ b: 1, a: 2 }) } },
  ],
  ["sparse arrays", sparseArray()],
  ["boxed primitives", { s: new String("x"), n: new Number(2), b: new Boolean(false) }],
  ["top-level primitives", "text"],
  ["numeric-looking keys", { "10": 1, "9": 2, a: 3, "": 4, "01": 5, "-1": 6, "4294967295": 7 }],
];

function sparseArray(): unknown[] {
  const array: unknown[] = [1];
  array[2] = 3;
  return array;
}

describe("canonicalJson", () => {
  it.each(values)("matches JSON.stringify with sorted keys: %s", (_name, value) => {
    expect(canonicalJson(value)).toBe(reference(value));
  });

  it("matches it on every upstream record and data file of the fixtures", async () => {
    const fixtures = join(import.meta.dirname, "../fixtures");
    const files = (await readdir(fixtures, { recursive: true }))
      .filter((name) => name.endsWith(".json") && !name.includes("malformed"))
      .map((name) => join(fixtures, name));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
      expect(canonicalJson(parsed), file).toBe(reference(parsed));
    }
  });

  it("gives the same text whatever the key order", () => {
    expect(canonicalJson({ b: { d: 1, c: 2 }, a: [1] })).toBe(canonicalJson({ a: [1], b: { c: 2, d: 1 } }));
  });

  it("throws on a BigInt as JSON.stringify does", () => {
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });
});

describe("a landing row's content key", () => {
  // Keys already in databases were computed as sha256(canonicalJson(row)); the faster key must equal it.
  const rows: LandingValue[][] = [
    ["curl", "CVE-2024-0001", null, 7, "8.5.0-2"],
    ['quote"and\\back', "ctl\u0000\u001b\u007f", "\u2028\u2029", "é😀", "\ud800 lone", ""],
    [0, -0, 2147483647, -2147483648, Number.NaN, 1.5, null],
    [],
  ];

  it.each(rows.map((row) => [JSON.stringify(row), row] as const))(
    "equals the canonical one for %s",
    (_, row) => {
      expect(rowContentHash(row)).toBe(sha256(canonicalJson(row)));
    },
  );
});
