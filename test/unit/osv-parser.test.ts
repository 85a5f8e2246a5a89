import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { contentHash } from "../../pipeline/lib/hash.ts";
import {
  compareTimestamps,
  normaliseTimestamp,
  type UpstreamItem,
} from "../../pipeline/sources/osv/helpers.ts";
import { parseModifiedIds } from "../../pipeline/sources/osv/modified-ids.ts";
import { debianReleaseOfEcosystem, osvVulnIds, parseOsvRecord } from "../../pipeline/sources/osv/parse.ts";
import { readZipEntries, unsafeEntryName, type ZipItem } from "../../pipeline/sources/osv/zip.ts";
import { upstreamObservation } from "../../pipeline/sources/upstream.ts";
import { buildZip } from "../../tools/synthetic/zip.ts";
import { observations, rejections } from "../helpers/items.ts";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = resolve(here, "../fixtures/upstream/osv");
const sharedRecord = resolve(here, "../../../shared/data/upstream/osv/DEBIAN-CVE-2016-9296.json");
const sharedPresent = existsSync(sharedRecord);
if (!sharedPresent) console.warn(`OSV tests on the real record skipped: ${sharedRecord} is absent`);

async function fixture(name: string): Promise<string> {
  return readFile(resolve(fixtures, name), "utf8");
}

function parseFixture(text: string, ref = "record.json"): UpstreamItem[] {
  return [...parseOsvRecord(text, { ref })];
}

describe("parseOsvRecord on DEBIAN-CVE records", () => {
  it("gives one observation per kept Debian release, with the codename, the fixed version and the urgency", async () => {
    const text = await fixture("DEBIAN-CVE-2024-0001.json");
    const items = parseFixture(text, "osv/DEBIAN-CVE-2024-0001.json");
    expect(rejections(items)).toEqual([]);
    expect(observations(items)).toEqual([
      {
        source: "osv",
        vuln_id: "CVE-2024-0001",
        record_id: "DEBIAN-CVE-2024-0001",
        aliases: ["DEBIAN-CVE-2024-0001"],
        package_name: "openssl",
        release: "bookworm",
        signal: "fixed",
        fixed_version: "3.0.14-1~deb12u1",
        urgency: "medium",
        upstream_modified_at: "2026-01-10T08:15:02.123456Z",
        detail: "ecosystem Debian:12",
        payload_hash: contentHash(JSON.parse(text)),
        payload_ref: "osv/DEBIAN-CVE-2024-0001.json",
      },
      expect.objectContaining({
        release: "trixie",
        signal: "fixed",
        fixed_version: "3.2.1-3",
        detail: "ecosystem Debian:13",
      }),
    ]);
    for (const observation of observations(items))
      expect(upstreamObservation.parse(observation)).toEqual(observation);
  });

  it("reads an affected entry without a fixed event as open", async () => {
    const items = parseFixture(await fixture("DEBIAN-CVE-2023-45853.json"));
    expect(observations(items).map((o) => [o.release, o.signal, o.fixed_version, o.urgency])).toEqual([
      ["bookworm", "open", null, "unimportant"],
      ["trixie", "fixed", "1:1.3.dfsg+really1.3.1-1", "unimportant"],
    ]);
  });

  it("reads Debian's fixed-in-0 as not affected, never as a fixed version", async () => {
    const record = JSON.parse(await fixture("DEBIAN-CVE-2023-45853.json")) as {
      affected: { ranges: { events: Record<string, string>[] }[] }[];
    };
    for (const affected of record.affected)
      for (const range of affected.ranges) range.events = [{ introduced: "0" }, { fixed: "0" }];
    const items = parseFixture(JSON.stringify(record));
    expect(observations(items).map((o) => [o.release, o.signal, o.fixed_version])).toEqual([
      ["bookworm", "not_affected", null],
      ["trixie", "not_affected", null],
    ]);
  });

  it("reads a withdrawn record as withdrawn for every kept release, with the time in the detail", async () => {
    const items = parseFixture(await fixture("DEBIAN-CVE-2022-0001.json"));
    expect(observations(items)).toEqual([
      expect.objectContaining({
        vuln_id: "CVE-2022-0001",
        package_name: "curl",
        release: "bookworm",
        signal: "withdrawn",
        fixed_version: null,
        detail: "ecosystem Debian:12; withdrawn 2025-11-02T09:30:00Z",
      }),
    ]);
  });

  it("keeps the releases and packages asked for", async () => {
    const text = await fixture("DEBIAN-CVE-2024-0001.json");
    expect(
      observations([...parseOsvRecord(text, { releases: ["bullseye"] })]).map((o) => o.fixed_version),
    ).toEqual(["1.1.1w-0+deb11u2"]);
    expect([...parseOsvRecord(text, { packages: new Set(["curl"]) })]).toEqual([]);
    expect(observations([...parseOsvRecord(text, { packages: new Set(["openssl"]) })])).toHaveLength(2);
  });

  it("carries nothing of hostile details into the observations", async () => {
    const text = await fixture("DEBIAN-CVE-2024-0001.json");
    expect(text).toContain("<script>");
    expect(JSON.stringify(parseFixture(text))).not.toContain("<script>");
  });
});

describe("parseOsvRecord on other records", () => {
  it("folds a GHSA onto its CVE alias and skips its non-Debian entries", async () => {
    const items = parseFixture(await fixture("GHSA-q2x7-8rv6-6q7h.json"));
    expect(observations(items)).toEqual([
      expect.objectContaining({
        vuln_id: "CVE-2024-56326",
        record_id: "GHSA-q2x7-8rv6-6q7h",
        aliases: ["GHSA-q2x7-8rv6-6q7h", "PYSEC-2024-999"],
        package_name: "jinja2",
        release: "trixie",
        signal: "fixed",
        fixed_version: "3.1.5-1",
        urgency: null,
        upstream_modified_at: "2025-12-20T15:04:05.5Z",
      }),
    ]);
  });

  it("gives one observation per CVE when a record names several", async () => {
    const items = parseFixture(await fixture("DSA-5700-1.json"));
    expect(observations(items).map((o) => [o.vuln_id, o.aliases, o.fixed_version])).toEqual([
      ["CVE-2023-6597", ["CVE-2024-0450", "DSA-5700-1"], "3.11.2-6+deb12u2"],
      ["CVE-2024-0450", ["CVE-2023-6597", "DSA-5700-1"], "3.11.2-6+deb12u2"],
    ]);
  });

  it("reads every fixture without a rejection", async () => {
    for (const name of await readdir(fixtures)) {
      expect(rejections(parseFixture(await fixture(name), name))).toEqual([]);
    }
  });

  it("yields nothing for a record about other ecosystems only, whatever its ids", () => {
    const record = {
      id: "GHSA-aaaa-bbbb-cccc",
      modified: "2025-01-01T00:00:00Z",
      affected: [
        { package: { ecosystem: "npm", name: "left-pad" }, ranges: [{ type: "SEMVER", events: [] }] },
      ],
    };
    expect([...parseOsvRecord(record)]).toEqual([]);
  });

  it("falls back on a Debian TEMP id, and rejects a record with neither a CVE nor a TEMP id", () => {
    const affected = [{ package: { ecosystem: "Debian:12", name: "curl" }, ranges: [] }];
    const temp = [
      ...parseOsvRecord({ id: "DEBIAN-TEMP-0000000-1A2B3C", modified: "2025-01-01T00:00:00Z", affected }),
    ];
    expect(observations(temp).map((o) => [o.vuln_id, o.aliases, o.signal])).toEqual([
      ["TEMP-0000000-1A2B3C", ["DEBIAN-TEMP-0000000-1A2B3C"], "open"],
    ]);
    const none = [
      ...parseOsvRecord(
        { id: "GHSA-aaaa-bbbb-cccc", aliases: ["PYSEC-1"], modified: "2025-01-01T00:00:00Z", affected },
        { ref: "x.json" },
      ),
    ];
    expect(rejections(none)).toEqual([
      {
        location: { file: "x.json", key: '"GHSA-aaaa-bbbb-cccc"' },
        reason: "no CVE or Debian TEMP id among id, aliases and upstream (GHSA-aaaa-bbbb-cccc, PYSEC-1)",
      },
    ]);
  });

  it("rejects a malformed record whole and a malformed affected entry alone", () => {
    const noModified = [...parseOsvRecord({ id: "DEBIAN-CVE-2024-1", affected: [] })];
    expect(rejections(noModified).map((r) => [r.location.key, r.reason])).toEqual([
      ['"DEBIAN-CVE-2024-1".modified', "modified is missing"],
    ]);
    const badTime = [...parseOsvRecord({ id: "DEBIAN-CVE-2024-1", modified: "yesterday" })];
    expect(rejections(badTime).map((r) => r.reason)).toEqual([
      'modified "yesterday" is not an RFC 3339 time',
    ]);
    const badSchema = [
      ...parseOsvRecord({ id: "X", modified: "2025-01-01T00:00:00Z", schema_version: "2.0.0" }),
    ];
    expect(rejections(badSchema).map((r) => r.reason)).toEqual(["unsupported OSV schema_version 2.0.0"]);
    expect(rejections([...parseOsvRecord([1, 2])]).map((r) => r.reason)).toEqual([
      "an OSV record must be an object, found an array",
    ]);
    const oneBad = [
      ...parseOsvRecord({
        id: "DEBIAN-CVE-2024-0002",
        modified: "2025-01-01T00:00:00Z",
        affected: [
          { package: { ecosystem: "Debian:12", name: "curl" }, ranges: "not a list" },
          { package: { ecosystem: "Debian:13", name: "curl" }, ecosystem_specific: { urgency: "low" } },
          { package: { ecosystem: "Debian:11", name: "curl" }, ranges: "ignored: bullseye is not kept" },
        ],
      }),
    ];
    expect(rejections(oneBad).map((r) => [r.location.key, r.reason])).toEqual([
      ['"DEBIAN-CVE-2024-0002".affected[0].ranges', "ranges must be a list of {type, events}"],
    ]);
    expect(observations(oneBad).map((o) => [o.release, o.signal, o.urgency])).toEqual([
      ["trixie", "open", "low"],
    ]);
  });

  it("refuses JSON text that does not parse", () => {
    expect(() => [...parseOsvRecord("{", { ref: "x.json" })]).toThrow(PipelineError);
  });
});

describe("OSV helpers", () => {
  it("maps Debian:N ecosystems to codenames and nothing else", () => {
    expect(debianReleaseOfEcosystem("Debian:12")).toBe("bookworm");
    expect(debianReleaseOfEcosystem("Debian:13")).toBe("trixie");
    expect(debianReleaseOfEcosystem("Debian")).toBeNull();
    expect(debianReleaseOfEcosystem("Debian:99")).toBeNull();
    expect(debianReleaseOfEcosystem("Ubuntu:22.04")).toBeNull();
  });

  it("prefers CVE ids, folds DEBIAN-CVE ids and lists every name", () => {
    expect(osvVulnIds({ id: "DEBIAN-CVE-2016-9296", upstream: ["CVE-2016-9296"] })).toEqual({
      vulnIds: ["CVE-2016-9296"],
      named: ["CVE-2016-9296", "DEBIAN-CVE-2016-9296"],
    });
    expect(osvVulnIds({ id: "DEBIAN-CVE-2016-9296" }).vulnIds).toEqual(["CVE-2016-9296"]);
  });

  it("normalises and orders timestamps to the microsecond", () => {
    expect(normaliseTimestamp("2024-02-19T23:15:07.680")).toBe("2024-02-19T23:15:07.680Z");
    expect(normaliseTimestamp("2024-02-19T23:15:07+02:00")).toBe("2024-02-19T21:15:07Z");
    expect(normaliseTimestamp("2024-02-30T00:00:00Z")).toBeNull();
    expect(normaliseTimestamp("not a time")).toBeNull();
    expect(compareTimestamps("2026-04-28T20:16:03.200439Z", "2026-04-28T20:16:03.2Z")).toBeGreaterThan(0);
    expect(compareTimestamps("2026-04-28T20:16:03.2Z", "2026-04-28T20:16:03.200000Z")).toBe(0);
  });
});

describe("parseModifiedIds (modified_id.csv)", () => {
  const csv = [
    "2026-02-01T10:00:00.300000Z,DEBIAN-CVE-2024-0003",
    "2026-02-01T10:00:00.200000Z,DEBIAN-CVE-2024-0002",
    "2026-02-01T09:00:00Z,DEBIAN-CVE-2024-0001",
    "not a line",
    "2026-01-31T00:00:00Z,DEBIAN-CVE-2024-0002",
    "2026-01-30T00:00:00Z,",
    "2026-01-01T00:00:00Z,DEBIAN-CVE-2023-0001",
    "",
  ].join("\r\n");

  it("returns the records modified after the checkpoint, newest first, and the next checkpoint", () => {
    const result = parseModifiedIds(csv, { since: "2026-02-01T09:00:00Z", file: "modified_id.csv" });
    expect(result.entries.map((entry) => [entry.id, entry.modified, entry.line])).toEqual([
      ["DEBIAN-CVE-2024-0003", "2026-02-01T10:00:00.300000Z", 1],
      ["DEBIAN-CVE-2024-0002", "2026-02-01T10:00:00.200000Z", 2],
    ]);
    expect(result.checkpoint).toBe("2026-02-01T10:00:00.300000Z");
    expect(result.rejections.map((r) => [r.location.line, r.reason])).toEqual([
      [4, "expected <RFC 3339 timestamp>,<id>: the timestamp is missing or invalid"],
      [6, "expected <RFC 3339 timestamp>,<id>: the id is missing or invalid"],
    ]);
  });

  it("returns every id once, at its newest time, without a checkpoint", () => {
    const result = parseModifiedIds(csv);
    expect(result.entries.map((entry) => entry.id)).toEqual([
      "DEBIAN-CVE-2024-0003",
      "DEBIAN-CVE-2024-0002",
      "DEBIAN-CVE-2024-0001",
      "DEBIAN-CVE-2023-0001",
    ]);
  });

  it("compares to the microsecond and keeps the old checkpoint when nothing is newer", () => {
    const result = parseModifiedIds(csv, { since: "2026-02-01T10:00:00.3Z" });
    expect(result.entries).toEqual([]);
    expect(result.checkpoint).toBe("2026-02-01T10:00:00.3Z");
    expect(parseModifiedIds(csv, { since: "2026-02-01T10:00:00.299999Z" }).entries.map((e) => e.id)).toEqual([
      "DEBIAN-CVE-2024-0003",
    ]);
  });

  it("refuses a checkpoint that is not a time", () => {
    expect(() => parseModifiedIds(csv, { since: "last tuesday" })).toThrow(PipelineError);
  });
});

async function readAll(
  source: string | Uint8Array,
  options: Parameters<typeof readZipEntries>[1] = {},
): Promise<ZipItem[]> {
  const items: ZipItem[] = [];
  for await (const item of readZipEntries(source, options)) items.push(item);
  return items;
}

function summary(items: ZipItem[]): [string, string][] {
  return items.map((item) =>
    item.kind === "entry"
      ? [item.name, `${item.bytes.length} bytes`]
      : [item.rejection.location.key ?? "", item.rejection.reason],
  );
}

describe("readZipEntries (all.zip)", () => {
  it("reads stored and deflated entries alike, empty ones included, and rejects a size its header misstates", async () => {
    const zip = buildZip([
      { name: "stored.json", data: '{"id":"A"}', method: 0 },
      { name: "deflated.json", data: '{"id":"B"}' },
      { name: "empty-stored.json", data: "", method: 0 },
      { name: "empty-deflated.json", data: "" },
      { name: "overstated.json", data: '{"id":"C"}', declaredSize: 11 },
    ]);
    const items = await readAll(zip, {});
    expect(
      items.map((item) => (item.kind === "entry" ? item.bytes.toString("utf8") : item.rejection.reason)),
    ).toEqual([
      '{"id":"A"}',
      '{"id":"B"}',
      "",
      "",
      "cannot inflate the entry: not enough bytes in the stream, expected 11, got only 10",
    ]);
  });

  it("streams the entries of an OSV archive into records the parser reads", async () => {
    const names = (await readdir(fixtures)).sort();
    const zip = buildZip(await Promise.all(names.map(async (name) => ({ name, data: await fixture(name) }))));
    const items = await readAll(zip, { label: "Debian/all.zip", accept: (name) => name.endsWith(".json") });
    expect(items.map((item) => item.kind === "entry" && item.name)).toEqual(names);
    const parsed = items.flatMap((item) =>
      item.kind === "entry"
        ? [...parseOsvRecord(item.bytes.toString("utf8"), { ref: `Debian/all.zip!${item.name}` })]
        : [],
    );
    expect(rejections(parsed)).toEqual([]);
    expect(observations(parsed)).toHaveLength(8);
    expect(observations(parsed)[0]?.payload_ref).toBe("Debian/all.zip!DEBIAN-CVE-2022-0001.json");
  });

  it("reads from a file path as from bytes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "osv-zip-"));
    try {
      const path = join(dir, "all.zip");
      await writeFile(
        path,
        buildZip([
          { name: "a.json", data: "{}" },
          { name: "dir/", data: "", method: 0 },
        ]),
      );
      expect(summary(await readAll(path))).toEqual([["a.json", "2 bytes"]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects names that climb out with .., absolute names and backslashes, and goes on", async () => {
    const zip = buildZip([
      { name: "../../etc/cron.d/evil", data: "x" },
      { name: "ok/../../evil.json", data: "x" },
      { name: "/etc/passwd", data: "x" },
      { name: "C:/Windows/evil.json", data: "x" },
      { name: "sub\\..\\evil.json", data: "x" },
      { name: "DEBIAN-CVE-2024-0001.json", data: "{}" },
    ]);
    expect(summary(await readAll(zip))).toEqual([
      ["../../etc/cron.d/evil", "the entry name climbs out of the archive with .."],
      ["ok/../../evil.json", "the entry name climbs out of the archive with .."],
      ["/etc/passwd", "the entry name is an absolute path"],
      ["C:/Windows/evil.json", "the entry name is an absolute path"],
      ["sub\\..\\evil.json", "the entry name contains a backslash"],
      ["DEBIAN-CVE-2024-0001.json", "2 bytes"],
    ]);
    expect(unsafeEntryName("a/b..c.json")).toBeNull();
  });

  it("rejects a decompression bomb by its ratio before inflating it", async () => {
    const zip = buildZip([
      { name: "bomb.json", data: Buffer.alloc(4 * 1024 * 1024, 0x20) },
      { name: "fine.json", data: "{}" },
    ]);
    const items = await readAll(zip);
    expect(summary(items)[0]?.[1]).toMatch(
      /^the entry inflates \d+ times .* more than 200: a decompression bomb$/,
    );
    expect(summary(items)[1]).toEqual(["fine.json", "2 bytes"]);
  });

  it("rejects an entry over the per-entry limit, declared or discovered while inflating", async () => {
    const big = Buffer.alloc(200_000, 0x61);
    const declared = await readAll(buildZip([{ name: "big.json", data: big }]), {
      limits: { maxEntryBytes: 100_000, maxRatio: 10_000 },
    });
    expect(summary(declared)).toEqual([
      ["big.json", "the entry is 200000 bytes, more than the 100000 allowed"],
    ]);
    const lying = await readAll(buildZip([{ name: "liar.json", data: big, declaredSize: 1_000 }]), {
      limits: { maxEntryBytes: 100_000, maxRatio: 10_000 },
    });
    expect(summary(lying)[0]?.[0]).toBe("liar.json");
    expect(summary(lying)[0]?.[1]).toMatch(/^cannot inflate the entry: too many bytes in the stream/);
    expect(lying.some((item) => item.kind === "entry")).toBe(false);
  });

  it("refuses an archive that inflates past the total limit", async () => {
    const zip = buildZip([
      { name: "a.json", data: Buffer.alloc(60_000, 0x61) },
      { name: "b.json", data: Buffer.alloc(60_000, 0x62) },
    ]);
    const seen: ZipItem[] = [];
    await expect(
      (async () => {
        for await (const item of readZipEntries(zip, {
          limits: { maxTotalBytes: 100_000, maxRatio: 10_000 },
        }))
          seen.push(item);
      })(),
    ).rejects.toThrow(/inflates to more than 100000 bytes/);
    expect(summary(seen)).toEqual([["a.json", "60000 bytes"]]);
  });

  it("refuses bytes that are not a zip archive and an archive with too many entries", async () => {
    await expect(readAll(Buffer.from("not a zip"))).rejects.toThrow(/cannot read the zip archive/);
    const zip = buildZip([
      { name: "a", data: "1" },
      { name: "b", data: "2" },
    ]);
    await expect(readAll(zip, { limits: { maxEntries: 1 } })).rejects.toThrow(/2 entries, more than 1/);
  });
});

describe.skipIf(!sharedPresent)("parseOsvRecord on the real p7zip record (../shared)", () => {
  it("gives fixed 16.02+dfsg-2 for Debian:12 and Debian:13, as bookworm and trixie", async () => {
    const text = await readFile(sharedRecord, "utf8");
    const items = [...parseOsvRecord(text, { ref: sharedRecord })];
    expect(rejections(items)).toEqual([]);
    expect(
      observations(items).map((o) => [
        o.vuln_id,
        o.package_name,
        o.release,
        o.signal,
        o.fixed_version,
        o.urgency,
        o.detail,
      ]),
    ).toEqual([
      ["CVE-2016-9296", "p7zip", "bookworm", "fixed", "16.02+dfsg-2", "unimportant", "ecosystem Debian:12"],
      ["CVE-2016-9296", "p7zip", "trixie", "fixed", "16.02+dfsg-2", "unimportant", "ecosystem Debian:13"],
    ]);
    expect(observations(items)[0]?.aliases).toEqual(["DEBIAN-CVE-2016-9296"]);
    expect(observations(items)[0]?.upstream_modified_at).toBe("2026-04-28T20:16:03.200439Z");
  });

  it("gives Debian:11 as bullseye when asked", async () => {
    const items = [...parseOsvRecord(await readFile(sharedRecord, "utf8"), { releases: ["bullseye"] })];
    expect(observations(items).map((o) => [o.release, o.fixed_version])).toEqual([
      ["bullseye", "16.02+dfsg-2"],
    ]);
  });
});
