import { describe, expect, it } from "vitest";
import { ListedDocument } from "../../pipeline/formats/listed-document.ts";

describe("a document listed one item per line", () => {
  const members = [
    ["generated_at", "2026-03-01T06:00:00.000Z"],
    ["advisory_count", 2],
  ] as const;

  it("is valid JSON with its members first and one item per line, whole or piece by piece", () => {
    const whole = ListedDocument.serialise(members, "advisories", ['{"a":1}', '{"b":2}']);
    expect(whole).toBe(
      '{\n"generated_at": "2026-03-01T06:00:00.000Z",\n"advisory_count": 2,\n"advisories": [\n{"a":1},\n{"b":2}\n]\n}\n',
    );
    expect(JSON.parse(whole)).toEqual({
      generated_at: "2026-03-01T06:00:00.000Z",
      advisory_count: 2,
      advisories: [{ a: 1 }, { b: 2 }],
    });
    const pieces = new ListedDocument(members, "advisories", 2);
    expect(
      pieces.start() +
        pieces.items(['{"a":1}']) +
        pieces.items([]) +
        pieces.items(['{"b":2}']) +
        pieces.end(),
    ).toBe(whole);
  });

  it("writes an empty list on the line that opens it", () => {
    const empty = ListedDocument.serialise([["advisory_count", 0]], "advisories", []);
    expect(empty).toBe('{\n"advisory_count": 0,\n"advisories": []\n}\n');
    expect(JSON.parse(empty)).toEqual({ advisory_count: 0, advisories: [] });
  });

  it("refuses more or fewer items than it announced, so a count in the header is never wrong", () => {
    const fewer = new ListedDocument(members, "advisories", 2);
    fewer.items(['{"a":1}']);
    expect(() => fewer.end()).toThrow("advisories: 1 items written, 2 announced");
    expect(() => new ListedDocument(members, "advisories", 1).items(["1", "2"])).toThrow(
      "advisories: more than the 1 items announced",
    );
  });
});
