import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import {
  type EchoAdvisoryObservation,
  echoDataAdapter,
  parseEchoData,
} from "../../pipeline/sources/echo_data/index.ts";
import { decodeUtf8 } from "../../pipeline/sources/read-input.ts";
import type { FetchItem } from "../../pipeline/sources/types.ts";
import { testFetchContext } from "../helpers/context.ts";
import { observations, pipelineErrorFrom, rejections } from "../helpers/items.ts";

const FILE = "feeds/data.json";
const sampleDataJson = new URL("../fixtures/sample/data.json", import.meta.url);

function parse(text: string): FetchItem<EchoAdvisoryObservation>[] {
  return [...parseEchoData(text, FILE)];
}

/** Parses one package with one entry and returns the single item it yields. */
function parseEntry(entry: unknown, vulnId = "CVE-2024-0001"): FetchItem<EchoAdvisoryObservation> {
  const items = parse(JSON.stringify({ curl: { [vulnId]: entry } }));
  expect(items).toHaveLength(1);
  return items[0] as FetchItem<EchoAdvisoryObservation>;
}

describe("parseEchoData on the real format", () => {
  it("reads the bundled sample without a single rejection", async () => {
    const items = parse(decodeUtf8(await readFile(sampleDataJson), FILE));
    expect(rejections(items)).toEqual([]);
    expect(items.length).toBeGreaterThan(100);
    expect(observations(items)).toContainEqual({
      package_name: "389-ds-base",
      vuln_id: "CVE-2023-45321",
      fixed_version: "1:4.2.6-1+deb12u1",
      severity: null,
      extra_fields: null,
    });
    expect(observations(items)).toContainEqual({
      package_name: "389-ds-base",
      vuln_id: "TEMP-0707383-F71695",
      fixed_version: null,
      severity: null,
      extra_fields: null,
    });
  });

  it("yields packages and vulnerabilities in file order", () => {
    const items = parse(
      '{"zlib": {"CVE-2024-0002": {}, "CVE-2024-0001": {}}, "apr-util": {"CVE-2023-0001": {}}}',
    );
    expect(observations(items).map((o) => `${o.package_name} ${o.vuln_id}`)).toEqual([
      "zlib CVE-2024-0002",
      "zlib CVE-2024-0001",
      "apr-util CVE-2023-0001",
    ]);
  });

  it("accepts an empty object as a dataset with nothing in it", () => {
    expect(parse("{}")).toEqual([]);
  });
});

describe("parseEchoData on a malformed document", () => {
  it("names the line and column of a syntax error", () => {
    const text = [
      "{",
      '  "bash": {',
      '    "CVE-2020-1234": { "fixed_version": "1.0-1" },,',
      '    "CVE-2020-1235": {}',
      "  }",
      "}",
    ].join("\n");
    const error = pipelineErrorFrom(() => parse(text));
    // Column 51 is the second comma.
    expect(error.location).toEqual({ file: FILE, line: 3, column: 51 });
    expect(error.message).toBe("invalid JSON: Expected double-quoted property name");
    expect(error.describe()).toBe(`${FILE}:3:51: invalid JSON: Expected double-quoted property name`);
  });

  it("finds the position of an unexpected token, which V8 does not report", () => {
    const text = ["{", '  "bash": {', '    "CVE-2020-1234": { "severity": high }', "  }", "}"].join("\n");
    const error = pipelineErrorFrom(() => parse(text));
    // Column 36 is the "h" of the unquoted high.
    expect(error.location).toEqual({ file: FILE, line: 3, column: 36 });
    expect(error.message).toMatch(/^invalid JSON: Unexpected token 'h'/);
    expect(error.message).not.toContain("truncated");
  });

  it("locates an unexpected token deep in a long document", () => {
    const filler = Array.from({ length: 500 }, (_, index) => `  "pkg${index}": {}`).join(",\n");
    const text = `{\n${filler},\n  "curl": {"CVE-2024-0001": nope}\n}\n`;
    const error = pipelineErrorFrom(() => parse(text));
    // "nope" starts like null, so the first wrong character is its "o".
    expect(error.location).toEqual({ file: FILE, line: 502, column: 30 });
  });

  it("points at content after the end of the top-level object", () => {
    const error = pipelineErrorFrom(() => parse('{\n  "curl": {}\n}\n}\n'));
    expect(error.location).toEqual({ file: FILE, line: 4, column: 1 });
    expect(error.message).toBe("invalid JSON: Unexpected non-whitespace character after JSON");
  });

  it("says a file cut in the middle looks truncated, at its last line", async () => {
    const sample = decodeUtf8(await readFile(sampleDataJson), FILE);
    const cut = sample.slice(0, Math.floor(sample.length / 2));
    const error = pipelineErrorFrom(() => parse(cut));
    expect(error.message).toMatch(/^invalid JSON: .*\(the file looks truncated\)$/);
    expect(error.location.file).toBe(FILE);
    expect(error.location.line).toBe(cut.split("\n").length);
  });

  it.each([
    ["inside a string", '{"curl": {"CVE-2024-0001": {"fixed_ver'],
    ["right after a complete value", '{"curl": {"CVE-2024-0001": {"fixed_version": "1.0-1"}'],
    ["after a value and a trailing newline", '{"curl": {"CVE-2024-0001": {}}\n'],
    ["inside a literal", '{"curl": {"CVE-2024-0001": {"severity": nu'],
    ["after a minus sign", '{"curl": {"CVE-2024-0001": {"score": -'],
  ])("says a file cut %s looks truncated", (_where, text) => {
    const error = pipelineErrorFrom(() => parse(text));
    expect(error.message).toMatch(/\(the file looks truncated\)$/);
    // The parser ran out of input at the very end, after any trailing newline.
    expect(error.location.line).toBe(text.split("\n").length);
  });

  it("does not call a mid-file number error truncated", () => {
    const error = pipelineErrorFrom(() => parse('{"curl": {"CVE-2024-0001": {"score": 1.}}}'));
    expect(error.message).toBe("invalid JSON: Unterminated fractional number");
    expect(error.location).toEqual({ file: FILE, line: 1, column: 40 });
  });

  it("rejects an empty file", () => {
    const error = pipelineErrorFrom(() => parse(""));
    expect(error.message).toBe("invalid JSON: Unexpected end of JSON input (the file looks truncated)");
    expect(error.location).toEqual({ file: FILE, line: 1, column: 1 });
  });

  it.each([
    ["an array", "[]"],
    ["an array", '[{"curl": {}}]'],
    ["null", "null"],
    ["a string", '"data"'],
    ["a number", "42"],
    ["a boolean", "true"],
  ])("rejects a top level that is %s (%s)", (found, text) => {
    const error = pipelineErrorFrom(() => parse(text));
    expect(error.message).toBe(`the top level must be an object keyed by package name, found ${found}`);
    expect(error.location).toEqual({ file: FILE });
  });
});

describe("parseEchoData on bad packages", () => {
  it.each([
    ["an array", "[]"],
    ["a string", '"CVE-2024-0001"'],
    ["null", "null"],
    ["a number", "3"],
  ])("rejects a package whose value is %s and keeps the others", (_what, value) => {
    const items = parse(`{"bash": {"CVE-2024-0001": {}}, "curl": ${value}, "zlib": {"CVE-2024-0002": {}}}`);
    expect(rejections(items)).toEqual([
      {
        location: { file: FILE, key: '"curl"' },
        reason: "the value of a package must be an object keyed by vulnerability id",
      },
    ]);
    expect(observations(items).map((o) => o.package_name)).toEqual(["bash", "zlib"]);
  });

  it.each(["Bash", "a", "lib curl", "", "-curl", ".curl", "curl/tools", "__proto__"])(
    "rejects the invalid package name %j with its key and keeps the others",
    (name) => {
      const items = parse(JSON.stringify({ [name]: { "CVE-2024-0001": {} }, curl: { "CVE-2024-0002": {} } }));
      expect(rejections(items)).toEqual([
        {
          location: { file: FILE, key: JSON.stringify(name) },
          reason: `package name ${JSON.stringify(name)} is not a valid Debian source package name`,
        },
      ]);
      expect(observations(items).map((o) => `${o.package_name} ${o.vuln_id}`)).toEqual([
        "curl CVE-2024-0002",
      ]);
    },
  );

  it.each(["g++", "389-ds-base", "libc6.1", "gcc-12", "xz-utils", "db5.3"])(
    "accepts the package name %s",
    (name) => {
      expect(observations(parse(JSON.stringify({ [name]: { "CVE-2024-0001": {} } })))).toHaveLength(1);
    },
  );
});

describe("parseEchoData on bad vulnerabilities", () => {
  it.each([
    "CVE-20-1",
    "cve-2024-0001",
    "CVE-2024-123",
    "CVE-2024-0001 ",
    "GHSA-abcd-efgh-ijkl",
    "TEMP-070738-F71695",
    "TEMP-0707383-f71695",
    "TEMP-0707383-F7169",
    "",
  ])("rejects the vulnerability id %j with its key and keeps the others", (vulnId) => {
    const items = parse(
      JSON.stringify({
        curl: { "CVE-2024-0001": {}, [vulnId]: { fixed_version: "1.0-1" }, "CVE-2024-0003": {} },
      }),
    );
    expect(rejections(items)).toEqual([
      {
        location: { file: FILE, key: `"curl".${JSON.stringify(vulnId)}` },
        reason: `vulnerability id ${JSON.stringify(vulnId)} is neither CVE-YYYY-NNNN nor TEMP-NNNNNNN-XXXXXX`,
      },
    ]);
    expect(observations(items).map((o) => o.vuln_id)).toEqual(["CVE-2024-0001", "CVE-2024-0003"]);
  });

  it.each(["TEMP-0707383-F71695", "TEMP-0000000-000000", "CVE-2024-1234567"])(
    "accepts the id %s",
    (vulnId) => {
      expect(parseEntry({}, vulnId)).toEqual({
        kind: "observation",
        observation: {
          package_name: "curl",
          vuln_id: vulnId,
          fixed_version: null,
          severity: null,
          extra_fields: null,
        },
      });
    },
  );

  it.each([
    ["null", null],
    ["a string", "1.0-1"],
    ["an array", ["1.0-1"]],
    ["a number", 1],
  ])("rejects an entry that is %s, keyed by package and id", (_what, entry) => {
    expect(parseEntry(entry)).toEqual({
      kind: "rejected",
      rejection: {
        location: { file: FILE, key: '"curl"."CVE-2024-0001"' },
        reason: 'an entry must be an object such as {"fixed_version": "1.2-1"}',
        excerpt: JSON.stringify(entry),
      },
    });
  });
});

describe("parseEchoData on fixed_version and severity", () => {
  it.each([
    ["number", 3],
    ["boolean", true],
    ["object", { version: "1.0-1" }],
    ["an array", ["1.0-1"]],
    ["null", null],
  ])("rejects a fixed_version of type %s with a key ending in .fixed_version", (found, value) => {
    expect(parseEntry({ fixed_version: value })).toEqual({
      kind: "rejected",
      rejection: {
        location: { file: FILE, key: '"curl"."CVE-2024-0001".fixed_version' },
        reason: `fixed_version must be a string, found ${found}`,
        excerpt: JSON.stringify({ fixed_version: value }),
      },
    });
  });

  it.each(["abc", "latest", "1.0 beta", "-1", "v1.2.3", "1.0_1", ":1.0", "1.0/2"])(
    "rejects the fixed_version %j as not a Debian version",
    (version) => {
      expect(parseEntry({ fixed_version: version })).toEqual({
        kind: "rejected",
        rejection: {
          location: { file: FILE, key: '"curl"."CVE-2024-0001".fixed_version' },
          reason: `${JSON.stringify(version)} is not a Debian version`,
        },
      });
    },
  );

  it.each(["1:4.2.6-1+deb12u1", "3.4.7-4+deb12u2", "1.18.5-3~deb12u1", "8.18.5-1+e1", "0", "2.0~rc1"])(
    "keeps the Debian version %s",
    (version) => {
      const item = parseEntry({ fixed_version: version });
      expect(item.kind === "observation" && item.observation.fixed_version).toBe(version);
    },
  );

  it.each([
    ["empty", { fixed_version: "" }],
    ["only blanks", { fixed_version: "   " }],
    ["absent", {}],
  ])("treats a fixed_version that is %s as no fix (null)", (_what, entry) => {
    expect(parseEntry(entry)).toEqual({
      kind: "observation",
      observation: {
        package_name: "curl",
        vuln_id: "CVE-2024-0001",
        fixed_version: null,
        severity: null,
        extra_fields: null,
      },
    });
  });

  it("trims blanks around a fixed_version", () => {
    const item = parseEntry({ fixed_version: " 1.0-1 " });
    expect(item.kind === "observation" && item.observation.fixed_version).toBe("1.0-1");
  });

  it("keeps the severity", () => {
    expect(parseEntry({ fixed_version: "1.0-1", severity: "high" })).toEqual({
      kind: "observation",
      observation: {
        package_name: "curl",
        vuln_id: "CVE-2024-0001",
        fixed_version: "1.0-1",
        severity: "high",
        extra_fields: null,
      },
    });
  });

  it.each([
    ["", null],
    ["  ", null],
    [" low ", "low"],
  ])("reads the severity %j as %j", (severity, expected) => {
    const item = parseEntry({ severity });
    expect(item.kind === "observation" && item.observation.severity).toBe(expected);
  });

  it("rejects a severity that is not a string with a key ending in .severity", () => {
    expect(parseEntry({ fixed_version: "1.0-1", severity: 7.5 })).toEqual({
      kind: "rejected",
      rejection: {
        location: { file: FILE, key: '"curl"."CVE-2024-0001".severity' },
        reason: "severity must be a string, found number",
        excerpt: '{"fixed_version":"1.0-1","severity":7.5}',
      },
    });
  });

  it("keeps unknown fields as JSON in extra_fields", () => {
    const extra = { note: "backport", refs: ["https://example.test/a"], score: { cvss: 7.5 }, urgent: false };
    const item = parseEntry({ fixed_version: "1.0-1", severity: "high", ...extra });
    expect(item.kind).toBe("observation");
    if (item.kind !== "observation") return;
    expect(item.observation.fixed_version).toBe("1.0-1");
    expect(item.observation.severity).toBe("high");
    expect(JSON.parse(item.observation.extra_fields ?? "null")).toEqual(extra);
  });

  it("keeps an unknown field whose value is null", () => {
    const item = parseEntry({ withdrawn: null });
    expect(item.kind === "observation" && item.observation.extra_fields).toBe('{"withdrawn":null}');
  });

  it("keeps every good entry around bad ones in the same package", () => {
    const items = parse(
      JSON.stringify({
        curl: {
          "CVE-2024-0001": { fixed_version: "1.0-1" },
          "CVE-2024-0002": { fixed_version: 2 },
          "CVE-2024-0003": { fixed_version: "not a version" },
          "CVE-2024-0004": { fixed_version: "" },
          "CVE-2024-0005": { severity: "low" },
        },
      }),
    );
    expect(rejections(items).map((r) => r.location.key)).toEqual([
      '"curl"."CVE-2024-0002".fixed_version',
      '"curl"."CVE-2024-0003".fixed_version',
    ]);
    expect(observations(items).map((o) => [o.vuln_id, o.fixed_version, o.severity])).toEqual([
      ["CVE-2024-0001", "1.0-1", null],
      ["CVE-2024-0004", null, null],
      ["CVE-2024-0005", null, "low"],
    ]);
  });
});

describe("decodeUtf8", () => {
  const bytes = (...parts: (string | number[])[]) =>
    Buffer.concat(
      parts.map((part) => (typeof part === "string" ? Buffer.from(part, "utf8") : Buffer.from(part))),
    );

  it("drops a UTF-8 byte-order mark so the JSON parses", () => {
    const text = decodeUtf8(bytes([0xef, 0xbb, 0xbf], '{"curl": {"CVE-2024-0001": {}}}'), FILE);
    expect(text.startsWith("{")).toBe(true);
    expect(observations(parse(text))).toHaveLength(1);
  });

  it("keeps non-ASCII text", () => {
    expect(decodeUtf8(bytes('{"note": "été €"}'), FILE)).toBe('{"note": "été €"}');
  });

  it("names the line of an invalid byte", () => {
    const error = pipelineErrorFrom(() =>
      decodeUtf8(bytes('{\n  "curl": {\n    "', [0xff], '": {}}}'), FILE),
    );
    expect(error.message).toBe("not valid UTF-8 (first bad byte at offset 19)");
    expect(error.location).toEqual({ file: FILE, line: 3 });
    expect(error.hint).toBe("save the file as UTF-8");
  });

  it("counts lines correctly after multi-byte characters and a byte-order mark", () => {
    const error = pipelineErrorFrom(() =>
      decodeUtf8(bytes([0xef, 0xbb, 0xbf], "{\n", '"note": "été",\n', '"bad": "', [0xe9], '"}'), FILE),
    );
    expect(error.location).toEqual({ file: FILE, line: 3 });
    // E9 opens a three-byte sequence at offset 30; the quote after it at 31 cannot continue it.
    expect(error.message).toBe("not valid UTF-8 (first bad byte at offset 31)");
  });

  it("reports a broken sequence at the byte that cannot continue it", () => {
    // é is C3 A9; C3 followed by "A" is broken at the "A".
    const error = pipelineErrorFrom(() => decodeUtf8(bytes("ab\n", [0xc3], "A\n"), FILE));
    expect(error.message).toBe("not valid UTF-8 (first bad byte at offset 4)");
    expect(error.location.line).toBe(2);
  });

  it.each([
    ["an overlong encoding", [0xc0, 0xaf]],
    ["a UTF-16 surrogate", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["a lone continuation byte", [0x80]],
  ])("rejects %s", (_what, sequence) => {
    const error = pipelineErrorFrom(() => decodeUtf8(bytes("{}\n\n", sequence), FILE));
    expect(error.location).toEqual({ file: FILE, line: 3 });
  });

  it("rejects a multi-byte sequence cut at the end of the file", () => {
    const error = pipelineErrorFrom(() => decodeUtf8(bytes("{}\n", [0xe2, 0x82]), FILE));
    expect(error.location).toEqual({ file: FILE, line: 2 });
  });

  it("rejects a UTF-16 file at its first byte", () => {
    const error = pipelineErrorFrom(() => decodeUtf8(Buffer.from("\ufeff{}", "utf16le"), FILE));
    expect(error.message).toBe("not valid UTF-8 (first bad byte at offset 0)");
    expect(error.location).toEqual({ file: FILE, line: 1 });
  });

  it("finds a bad byte far into a large file, past a character split between scan pieces", () => {
    const lineCount = 70_000;
    const head = Buffer.alloc(lineCount, "\n");
    // A valid euro sign straddling the 64 KiB mark, then the bad byte two lines later.
    const euro = Buffer.from("€", "utf8");
    euro.copy(head, 65_535);
    const input = Buffer.concat([head, Buffer.from("\n\n"), Buffer.from([0xff])]);
    const newlinesBefore = input.subarray(0, input.length - 1).filter((byte) => byte === 0x0a).length;
    const error = pipelineErrorFrom(() => decodeUtf8(input, FILE));
    expect(error.message).toBe(`not valid UTF-8 (first bad byte at offset ${input.length - 1})`);
    expect(error.location).toEqual({ file: FILE, line: newlinesBefore + 1 });
  });
});

describe("the echo_data adapter on bad files", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function inputFile(content: string | Buffer): Promise<string> {
    dir = await mkdtemp(join(tmpdir(), "echo-data-"));
    const path = join(dir, "data.json");
    await writeFile(path, content);
    return path;
  }

  async function fetchAll(location: string) {
    const adapter = echoDataAdapter(location);
    const items: FetchItem<EchoAdvisoryObservation>[] = [];
    try {
      for await (const item of adapter.fetch(testFetchContext())) items.push(item);
      return { items, health: adapter.health(), error: undefined };
    } catch (error) {
      return { items, health: adapter.health(), error };
    }
  }

  it("reads a file with a byte-order mark and reports its one bad package as degraded", async () => {
    const path = await inputFile(
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from('{"curl": {"CVE-2024-0001": {"fixed_version": "1.0-1"}}, "Bad Name": {}}'),
      ]),
    );
    const { items, health, error } = await fetchAll(path);
    expect(error).toBeUndefined();
    expect(observations(items)).toHaveLength(1);
    expect(rejections(items)).toEqual([
      {
        location: { file: path, key: '"Bad Name"' },
        reason: 'package name "Bad Name" is not a valid Debian source package name',
      },
    ]);
    expect(health).toMatchObject({ status: "degraded", observations: 1, rejected: 1 });
  });

  it("fails on a truncated file, naming the file and line", async () => {
    const path = await inputFile('{\n  "curl": {\n    "CVE-2024-0001": {"fixed_version": "1.0-1"}\n');
    const { items, health, error } = await fetchAll(path);
    expect(items).toEqual([]);
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).location).toEqual({ file: path, line: 4, column: 1 });
    expect((error as PipelineError).message).toBe(
      "invalid JSON: Expected ',' or '}' after property value (the file looks truncated)",
    );
    expect(health.status).toBe("failed");
    expect(health.error).toContain(`${path}:4:1: invalid JSON`);
  });

  it("fails on invalid UTF-8, naming the line", async () => {
    const path = await inputFile(
      Buffer.concat([Buffer.from('{\n"curl": {"'), Buffer.from([0xfe]), Buffer.from('": {}}}')]),
    );
    const { error } = await fetchAll(path);
    expect((error as PipelineError).location).toEqual({ file: path, line: 2 });
  });

  it("fails on a missing file with a plain message", async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-data-"));
    const path = join(dir, "absent.json");
    const { error, health } = await fetchAll(path);
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).describe()).toBe(`${path}: file not found`);
    expect(health.status).toBe("failed");
  });
});
