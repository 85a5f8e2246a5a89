import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import {
  echoCsvAdapter,
  type NotApplicableObservation,
  parseNotApplicableCsv,
} from "../../pipeline/sources/echo_csv/index.ts";
import { readOverrideReasonCodes } from "../../pipeline/sources/echo_csv/reasons.ts";
import { decodeUtf8 } from "../../pipeline/sources/read-input.ts";
import type { FetchItem } from "../../pipeline/sources/types.ts";
import { testFetchContext } from "../helpers/context.ts";
import { observations, pipelineErrorFrom, rejections } from "../helpers/items.ts";

const FILE = "feeds/advisory_not_applicable.csv";
const sampleCsv = new URL("../fixtures/sample/advisory_not_applicable.csv", import.meta.url);
const dbtProjectDir = fileURLToPath(new URL("../../dbt_project", import.meta.url));
/** The codes of the real override_reasons seed, as the adapter reads them. */
const REASON_CODES = await readOverrideReasonCodes(dbtProjectDir);
/** The header exactly as the real feed writes it: every column name quoted. */
const HEADER = '"cve_id","package","status","fixed_version","internal_status"';
const GOOD_ROW = 'CVE-2023-45321,389-ds-base,not_applicable,"1:4.2.6-1+deb12u1",code_not_in_use';
const GOOD_OBSERVATION: NotApplicableObservation = {
  line_number: 2,
  cve_id: "CVE-2023-45321",
  package_name: "389-ds-base",
  status: "not_applicable",
  fixed_version: "1:4.2.6-1+deb12u1",
  internal_status: "code_not_in_use",
};

function parse(text: string): FetchItem<NotApplicableObservation>[] {
  return [...parseNotApplicableCsv(text, FILE, REASON_CODES)];
}

/** Parses a header plus the given lines, joined with LF. */
function parseLines(...lines: string[]): FetchItem<NotApplicableObservation>[] {
  return parse(`${[HEADER, ...lines].join("\n")}\n`);
}

describe("parseNotApplicableCsv on the real format", () => {
  it("reads the bundled sample without a single rejection", async () => {
    const items = parse(decodeUtf8(await readFile(sampleCsv), FILE));
    expect(rejections(items)).toEqual([]);
    expect(items.length).toBeGreaterThan(10);
    expect(observations(items)[0]).toEqual(GOOD_OBSERVATION);
  });

  it('reads the quoted header and quoted fields such as "1"', () => {
    const items = parseLines(GOOD_ROW, 'CVE-2016-8660,linux,not_applicable,"1",code_not_in_use');
    expect(items).toEqual([
      { kind: "observation", observation: GOOD_OBSERVATION },
      {
        kind: "observation",
        observation: {
          line_number: 3,
          cve_id: "CVE-2016-8660",
          package_name: "linux",
          status: "not_applicable",
          fixed_version: "1",
          internal_status: "code_not_in_use",
        },
      },
    ]);
  });

  it("reads every field quoted", () => {
    const items = parseLines(
      '"CVE-2023-45321","389-ds-base","not_applicable","1:4.2.6-1+deb12u1","code_not_in_use"',
    );
    expect(observations(items)).toEqual([GOOD_OBSERVATION]);
  });

  it("reads an unquoted header in any letter case and column order", () => {
    const items = parse(
      "Internal_Status,FIXED_VERSION,package,Status,CVE_ID\ncode_not_in_use,1:4.2.6-1+deb12u1,389-ds-base,not_applicable,CVE-2023-45321\n",
    );
    expect(observations(items)).toEqual([GOOD_OBSERVATION]);
  });

  it("reads Debian TEMP ids", () => {
    const items = parseLines("TEMP-0707383-F71695,389-ds-base,not_applicable,,code_not_in_use");
    expect(observations(items).map((o) => o.cve_id)).toEqual(["TEMP-0707383-F71695"]);
  });

  it("drops blanks around fields", () => {
    const items = parseLines(
      ' CVE-2023-45321 , 389-ds-base ,not_applicable, "1:4.2.6-1+deb12u1" ,code_not_in_use ',
    );
    expect(observations(items)).toEqual([GOOD_OBSERVATION]);
  });

  it.each([
    ["empty", ""],
    ["quoted empty", '""'],
    ["blank", "   "],
  ])("turns an %s fixed_version into null", (_what, field) => {
    const items = parseLines(`CVE-2023-45321,389-ds-base,not_applicable,${field},code_not_in_use`);
    expect(observations(items)).toEqual([{ ...GOOD_OBSERVATION, fixed_version: null }]);
  });

  it("tolerates an extra unknown column", () => {
    const items = parse(`${HEADER},"comment"\n${GOOD_ROW},"checked by hand"\n`);
    expect(items).toEqual([{ kind: "observation", observation: GOOD_OBSERVATION }]);
  });

  it("reads a file without a final newline", () => {
    expect(observations(parse(`${HEADER}\n${GOOD_ROW}`))).toEqual([GOOD_OBSERVATION]);
  });

  it("reads a header with no rows as an empty feed", () => {
    expect(parse(`${HEADER}\n`)).toEqual([]);
  });
});

describe("parseNotApplicableCsv on line ends, byte-order marks and blank lines", () => {
  it("reads CRLF line ends", () => {
    const items = parse(
      `${HEADER}\r\n${GOOD_ROW}\r\nCVE-2016-8660,linux,not_applicable,"1",code_not_in_use\r\n`,
    );
    expect(observations(items).map((o) => [o.line_number, o.cve_id, o.internal_status])).toEqual([
      [2, "CVE-2023-45321", "code_not_in_use"],
      [3, "CVE-2016-8660", "code_not_in_use"],
    ]);
  });

  it("reads lone CR line ends without dropping rows", () => {
    const items = parse(`${HEADER}\r${GOOD_ROW}\rCVE-2016-8660,linux,not_applicable,"1",code_not_in_use\r`);
    expect(observations(items).map((o) => [o.line_number, o.cve_id])).toEqual([
      [2, "CVE-2023-45321"],
      [3, "CVE-2016-8660"],
    ]);
  });

  it("reads a file with a byte-order mark, decoded through decodeUtf8", () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`${HEADER}\r\n${GOOD_ROW}\r\n`),
    ]);
    expect(parse(decodeUtf8(bytes, FILE))).toEqual([{ kind: "observation", observation: GOOD_OBSERVATION }]);
  });

  it("reads a header that still starts with a byte-order mark", () => {
    expect(observations(parse(`\ufeff${HEADER}\n${GOOD_ROW}\n`))).toEqual([GOOD_OBSERVATION]);
  });

  it("skips blank lines and keeps the physical line numbers after them", () => {
    const items = parse(
      [
        "",
        HEADER,
        GOOD_ROW,
        "",
        "   ",
        'CVE-2016-8660,linux,not_applicable,"1",code_not_in_use',
        "",
        "CVE-2016-8661,linux,fixed,,code_not_in_use",
        "",
      ].join("\r\n"),
    );
    expect(observations(items).map((o) => [o.line_number, o.cve_id])).toEqual([
      [3, "CVE-2023-45321"],
      [6, "CVE-2016-8660"],
    ]);
    expect(rejections(items).map((r) => r.location)).toEqual([{ file: FILE, line: 8, key: "status" }]);
  });

  it("names the line of invalid UTF-8", () => {
    const bytes = Buffer.concat([
      Buffer.from(`${HEADER}\n${GOOD_ROW}\nCVE-2016-8660,linux,not_applicable,"1",caf`),
      Buffer.from([0xe9, 0x0a]),
    ]);
    const error = pipelineErrorFrom(() => decodeUtf8(bytes, FILE));
    expect(error.location).toEqual({ file: FILE, line: 3 });
    expect(error.message).toMatch(/^not valid UTF-8 \(first bad byte at offset \d+\)$/);
  });
});

describe("parseNotApplicableCsv on a bad header", () => {
  it.each([
    ["", "the file is empty"],
    ["\n\n   \r\n", "the file is blank lines only"],
  ])("rejects an empty file (%j): %s", (text) => {
    const error = pipelineErrorFrom(() => parse(text));
    expect(error.message).toBe("the file is empty: expected a header line");
    expect(error.location).toEqual({ file: FILE, line: 1 });
    expect(error.hint).toBe("the header is cve_id,package,status,fixed_version,internal_status");
  });

  it("names a missing column and line 1", () => {
    const error = pipelineErrorFrom(() =>
      parse(
        '"cve_id","package","fixed_version","internal_status"\nCVE-2023-45321,389-ds-base,,code_not_in_use\n',
      ),
    );
    expect(error.message).toBe("missing column status");
    expect(error.location).toEqual({ file: FILE, line: 1 });
    expect(error.describe()).toBe(
      `${FILE}:1: missing column status (the header must name cve_id,package,status,fixed_version,internal_status)`,
    );
  });

  it("names every missing column", () => {
    const error = pipelineErrorFrom(() => parse("cve_id,package\n"));
    expect(error.message).toBe("missing columns status, fixed_version, internal_status");
  });

  it("takes a file whose first line is data for one without a header", () => {
    const error = pipelineErrorFrom(() => parse(`${GOOD_ROW}\n`));
    expect(error.message).toBe("missing columns cve_id, package, status, fixed_version, internal_status");
    expect(error.location).toEqual({ file: FILE, line: 1 });
  });

  it("names the header's line when blank lines come before it", () => {
    const error = pipelineErrorFrom(() => parse('\n\n"cve_id","package"\n'));
    expect(error.location).toEqual({ file: FILE, line: 3 });
  });

  it("rejects a header with a broken quote", () => {
    const error = pipelineErrorFrom(() => parse('"cve_id,package,status,fixed_version,internal_status\n'));
    expect(error.message).toMatch(/^the header line cannot be read: /);
    expect(error.location).toEqual({ file: FILE, line: 1 });
  });

  it("rejects a required column named twice", () => {
    const error = pipelineErrorFrom(() => parse(`${HEADER},"status"\n${GOOD_ROW},fixed\n`));
    expect(error.message).toBe("column status named twice");
    expect(error.location).toEqual({ file: FILE, line: 1 });
  });
});

describe("parseNotApplicableCsv on bad rows", () => {
  it.each(["fixed", "Not_Applicable", "not applicable", "", "affected"])(
    "rejects the status %j with its line and key status",
    (status) => {
      const row = `CVE-2023-45321,389-ds-base,${status},"1",code_not_in_use`;
      expect(parseLines(row)).toEqual([
        {
          kind: "rejected",
          rejection: {
            location: { file: FILE, line: 2, key: "status" },
            reason: `unknown status ${JSON.stringify(status)} (allowed: not_applicable)`,
            excerpt: row,
          },
        },
      ]);
    },
  );

  it.each([
    "CVE-23-1",
    "cve-2023-45321",
    "CVE-2023-123",
    "GHSA-abcd-efgh-ijkl",
    "2023-45321",
    "",
    "TEMP-0707383-f71695",
  ])("rejects the cve_id %j with its line and key cve_id", (cveId) => {
    const row = `${cveId},389-ds-base,not_applicable,"1",code_not_in_use`;
    expect(parseLines(row)).toEqual([
      {
        kind: "rejected",
        rejection: {
          location: { file: FILE, line: 2, key: "cve_id" },
          reason: `cve_id ${JSON.stringify(cveId)} is not a CVE id (CVE-YYYY-NNNN) or Debian TEMP id`,
          excerpt: row,
        },
      },
    ]);
  });

  it.each(["Bash", "a", "lib curl", ""])("rejects the package %j with its line and key package", (name) => {
    const rejection = rejections(parseLines(`CVE-2023-45321,${name},not_applicable,"1",code_not_in_use`))[0];
    expect(rejection?.location).toEqual({ file: FILE, line: 2, key: "package" });
    expect(rejection?.reason).toBe(
      `package ${JSON.stringify(name)} is not a valid Debian source package name`,
    );
  });

  it.each(["latest", "1.0 beta", "v1.2", "-1"])(
    "rejects the fixed_version %j with key fixed_version",
    (version) => {
      const rejection = rejections(
        parseLines(`CVE-2023-45321,389-ds-base,not_applicable,"${version}",code_not_in_use`),
      )[0];
      expect(rejection?.location).toEqual({ file: FILE, line: 2, key: "fixed_version" });
      expect(rejection?.reason).toBe(`fixed_version ${JSON.stringify(version)} is not a Debian version`);
    },
  );

  it.each(["Code_Not_In_Use", "code not in use", "code-not-in-use", "", "1code"])(
    "rejects the internal_status %j with key internal_status",
    (internalStatus) => {
      const rejection = rejections(
        parseLines(`CVE-2023-45321,389-ds-base,not_applicable,"1",${internalStatus}`),
      )[0];
      expect(rejection?.location).toEqual({ file: FILE, line: 2, key: "internal_status" });
      expect(rejection?.reason).toBe(
        `internal_status ${JSON.stringify(internalStatus)} must be a lower-case code such as code_not_in_use`,
      );
    },
  );

  it("quarantines a well-formed code the seed does not know, naming it and the allowed ones", () => {
    expect(REASON_CODES).toContain("code_not_in_use");
    expect(REASON_CODES).not.toContain("unknown_reason_code");
    const row = "CVE-2019-34462,389-ds-base,not_applicable,,unknown_reason_code";
    expect(parseLines(row, GOOD_ROW)).toEqual([
      {
        kind: "rejected",
        rejection: {
          location: { file: FILE, line: 2, key: "internal_status" },
          reason: `unknown reason code "unknown_reason_code" (allowed: ${REASON_CODES.join(", ")})`,
          excerpt: row,
        },
      },
      { kind: "observation", observation: { ...GOOD_OBSERVATION, line_number: 3 } },
    ]);
  });

  it("takes the allowed codes from its caller, not from a list of its own", () => {
    const items = [
      ...parseNotApplicableCsv(
        `${HEADER}\nCVE-2019-34462,389-ds-base,not_applicable,,retired_code\n${GOOD_ROW}\n`,
        FILE,
        ["retired_code"],
      ),
    ];
    expect(observations(items).map((o) => o.internal_status)).toEqual(["retired_code"]);
    expect(rejections(items)).toEqual([
      {
        location: { file: FILE, line: 3, key: "internal_status" },
        reason: 'unknown reason code "code_not_in_use" (allowed: retired_code)',
        excerpt: GOOD_ROW,
      },
    ]);
  });

  it("does not count a row with an unknown code as the first of its pair", () => {
    const items = parseLines("CVE-2023-45321,389-ds-base,not_applicable,,code_not_in_us", GOOD_ROW);
    expect(rejections(items).map((r) => r.location)).toEqual([
      { file: FILE, line: 2, key: "internal_status" },
    ]);
    expect(observations(items)).toEqual([{ ...GOOD_OBSERVATION, line_number: 3 }]);
  });

  it("rejects a duplicate package and cve_id, naming the first line, and keeps the first row", () => {
    const duplicate = 'CVE-2023-45321,389-ds-base,not_applicable,"2.0-1",disputed';
    const items = parseLines(
      GOOD_ROW,
      'CVE-2016-8660,linux,not_applicable,"1",code_not_in_use',
      "",
      duplicate,
    );
    expect(observations(items).map((o) => [o.line_number, o.cve_id, o.fixed_version])).toEqual([
      [2, "CVE-2023-45321", "1:4.2.6-1+deb12u1"],
      [3, "CVE-2016-8660", "1"],
    ]);
    expect(rejections(items)).toEqual([
      {
        location: { file: FILE, line: 5 },
        reason: "duplicate of line 2 (same package and cve_id); the first row is kept",
        excerpt: duplicate,
      },
    ]);
  });

  it("keeps the same cve_id for two packages", () => {
    const items = parseLines(GOOD_ROW, 'CVE-2023-45321,linux,not_applicable,"1",code_not_in_use');
    expect(rejections(items)).toEqual([]);
    expect(observations(items)).toHaveLength(2);
  });

  it("does not count a rejected row as the first of a pair", () => {
    const items = parseLines("CVE-2023-45321,389-ds-base,fixed,,code_not_in_use", GOOD_ROW);
    expect(observations(items)).toEqual([{ ...GOOD_OBSERVATION, line_number: 3 }]);
  });

  it.each([
    ["too few", 'CVE-2023-45321,389-ds-base,not_applicable,"1"', 4],
    ["too many", 'CVE-2023-45321,389-ds-base,not_applicable,"1",code_not_in_use,extra', 6],
    ["too many, from an unquoted comma", "CVE-2023-45321,389-ds-base,not_applicable,1,2,code_not_in_use", 6],
  ])("rejects a row with %s fields", (_what, row, count) => {
    expect(parseLines(row)).toEqual([
      {
        kind: "rejected",
        rejection: {
          location: { file: FILE, line: 2 },
          reason: `has ${count} fields, the header has 5`,
          excerpt: row,
        },
      },
    ]);
  });

  it("rejects a row that lacks the extra column the header declares", () => {
    const rejection = rejections(parse(`${HEADER},"comment"\n${GOOD_ROW}\n`))[0];
    expect(rejection?.reason).toBe("has 5 fields, the header has 6");
  });

  it("rejects a row with a quote that is never closed without swallowing the rows after it", () => {
    const broken = 'CVE-2024-0001,curl,not_applicable,"1.0-1,code_not_in_use';
    const items = parseLines(
      broken,
      'CVE-2016-8660,linux,not_applicable,"1",code_not_in_use',
      'CVE-2024-0002,curl,not_applicable,"2.0-1",disputed',
    );
    expect(rejections(items)).toEqual([
      {
        location: { file: FILE, line: 2 },
        reason: expect.stringMatching(/^cannot be read as CSV: Quote Not Closed/),
        excerpt: broken,
      },
    ]);
    expect(observations(items).map((o) => [o.line_number, o.cve_id])).toEqual([
      [3, "CVE-2016-8660"],
      [4, "CVE-2024-0002"],
    ]);
  });

  it("rejects a row with a quote in the middle of a field", () => {
    const items = parseLines('CVE-2024-0001,curl,not_applicable,1"0,code_not_in_use', GOOD_ROW);
    expect(rejections(items)).toEqual([
      {
        location: { file: FILE, line: 2 },
        reason: expect.stringMatching(/^cannot be read as CSV: Invalid Opening Quote/),
        excerpt: 'CVE-2024-0001,curl,not_applicable,1"0,code_not_in_use',
      },
    ]);
    expect(rejections(items)[0]?.reason).not.toMatch(/at line \d+/);
    expect(observations(items)).toEqual([{ ...GOOD_OBSERVATION, line_number: 3 }]);
  });

  it("keeps every good row around bad ones, each rejection on its own line", () => {
    const items = parseLines(
      GOOD_ROW,
      "CVE-2024-0001,curl,wontfix,,code_not_in_use",
      "CVE-24-2,curl,not_applicable,,code_not_in_use",
      'CVE-2024-0003,curl,not_applicable,"1.0-1",code_not_in_use',
      "CVE-2024-0004,curl,not_applicable",
      'CVE-2024-0005,curl,not_applicable,"oops,code_not_in_use',
      "CVE-2024-0006,curl,not_applicable,,code_not_in_use",
      "CVE-2024-0007,curl,not_applicable,,Bad",
      "CVE-2024-0008,zlib,not_applicable,,disputed",
    );
    expect(observations(items).map((o) => [o.line_number, o.cve_id])).toEqual([
      [2, "CVE-2023-45321"],
      [5, "CVE-2024-0003"],
      [8, "CVE-2024-0006"],
      [10, "CVE-2024-0008"],
    ]);
    expect(rejections(items).map((r) => r.location)).toEqual([
      { file: FILE, line: 3, key: "status" },
      { file: FILE, line: 4, key: "cve_id" },
      { file: FILE, line: 6 },
      { file: FILE, line: 7 },
      { file: FILE, line: 9, key: "internal_status" },
    ]);
  });
});

describe("the echo_csv adapter on bad files", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function fetchAll(content: string | Buffer) {
    dir = await mkdtemp(join(tmpdir(), "echo-csv-"));
    const path = join(dir, "advisory_not_applicable.csv");
    await writeFile(path, content);
    const adapter = echoCsvAdapter(path, dbtProjectDir);
    const items: FetchItem<NotApplicableObservation>[] = [];
    try {
      for await (const item of adapter.fetch(testFetchContext())) items.push(item);
      return { path, items, health: adapter.health(), error: undefined };
    } catch (error) {
      return { path, items, health: adapter.health(), error };
    }
  }

  it("reads a BOM and CRLF file and reports a bad row as degraded", async () => {
    const { path, items, health, error } = await fetchAll(
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(`${HEADER}\r\n${GOOD_ROW}\r\nCVE-2024-0001,curl,maybe,,code_not_in_use\r\n`),
      ]),
    );
    expect(error).toBeUndefined();
    expect(observations(items)).toEqual([GOOD_OBSERVATION]);
    expect(rejections(items).map((r) => r.location)).toEqual([{ file: path, line: 3, key: "status" }]);
    expect(health).toMatchObject({ status: "degraded", observations: 1, rejected: 1 });
  });

  it("quarantines a row with an unknown reason code and lands the others", async () => {
    const { path, items, health, error } = await fetchAll(
      `${HEADER}\n${GOOD_ROW}\nCVE-2019-34462,389-ds-base,not_applicable,,unknown_reason_code\n`,
    );
    expect(error).toBeUndefined();
    expect(observations(items)).toEqual([GOOD_OBSERVATION]);
    expect(rejections(items)).toEqual([
      expect.objectContaining({
        location: { file: path, line: 3, key: "internal_status" },
        reason: expect.stringMatching(
          /^unknown reason code "unknown_reason_code" \(allowed: code_not_in_use, /,
        ),
      }),
    ]);
    expect(health).toMatchObject({ status: "degraded", observations: 1, rejected: 1 });
  });

  it("fails, naming the seed, when the reason codes cannot be read", async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-csv-"));
    const path = join(dir, "advisory_not_applicable.csv");
    await writeFile(path, `${HEADER}\n${GOOD_ROW}\n`);
    const project = join(dir, "project");
    await mkdir(join(project, "seeds"), { recursive: true });
    const adapter = echoCsvAdapter(path, project);
    const fetchAllItems = async () => {
      for await (const _item of adapter.fetch(testFetchContext())) {
        // drained
      }
    };
    await expect(fetchAllItems()).rejects.toThrow(/cannot read the override reason codes/);
    expect(adapter.health().status).toBe("failed");
    // A seed with its header only lists no code: nothing could be accepted, so the source fails.
    await writeFile(join(project, "seeds/override_reasons.csv"), "internal_status,customer_reason\n");
    const error = await readOverrideReasonCodes(project).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).describe()).toBe(
      `${join(project, "seeds/override_reasons.csv")}: the seed lists no internal_status code (its header is internal_status,customer_reason,vex_justification)`,
    );
  });

  it("fails on an empty file, naming it", async () => {
    const { path, error, health } = await fetchAll("");
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).location).toEqual({ file: path, line: 1 });
    expect(health.status).toBe("failed");
  });
});
