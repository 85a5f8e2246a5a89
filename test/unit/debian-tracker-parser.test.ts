import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { contentHash } from "../../pipeline/lib/hash.ts";
import { defaultDebianReleases } from "../../pipeline/sources/debian.ts";
import {
  parseDebianTracker,
  parseDebianTrackerPackage,
  parseDebianTrackerStream,
  trackerVerdict,
} from "../../pipeline/sources/debian_tracker/parse.ts";
import { splitTopLevelObject } from "../../pipeline/sources/debian_tracker/stream.ts";
import type { UpstreamItem } from "../../pipeline/sources/osv/helpers.ts";
import { cveFacts, type UpstreamObservation, upstreamObservation } from "../../pipeline/sources/upstream.ts";
import { factsOf, observations, rejections } from "../helpers/items.ts";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = resolve(here, "../fixtures/upstream/debian");
const REF = "tracker.json";
const sharedExcerpt = resolve(here, "../../../shared/data/upstream/debian/tracker-excerpt.json");
const sharedPresent = existsSync(sharedExcerpt);
if (!sharedPresent) console.warn(`Debian tracker tests on real records skipped: ${sharedExcerpt} is absent`);

function find(items: UpstreamItem[], pkg: string, id: string, release: string): UpstreamObservation {
  const found = observations(items).find(
    (observation) =>
      observation.package_name === pkg && observation.vuln_id === id && observation.release === release,
  );
  if (!found) throw new Error(`no observation for ${pkg} ${id} ${release}`);
  return found;
}

async function fixture(name: string): Promise<string> {
  return readFile(resolve(fixtures, name), "utf8");
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("parseDebianTracker on the fixture", () => {
  it("reads every status, no-dsa reason and urgency into the matching signal", async () => {
    const items = [...parseDebianTracker(await fixture("tracker.json"), { ref: REF })];
    expect(rejections(items)).toEqual([]);
    const signals = Object.fromEntries(
      observations(items).map((o) => [`${o.package_name} ${o.vuln_id} ${o.release}`, o.signal]),
    );
    expect(signals).toEqual({
      "openssl CVE-2024-0001 bookworm": "fixed",
      "openssl CVE-2024-0001 trixie": "fixed",
      "openssl CVE-2024-0001 sid": "fixed",
      "openssl CVE-2024-0002 bookworm": "not_affected",
      "openssl CVE-2024-0002 trixie": "not_affected",
      "openssl CVE-2024-0002 sid": "not_affected",
      "zlib CVE-2023-45853 bookworm": "ignored",
      "zlib CVE-2023-45853 trixie": "fixed",
      "zlib CVE-2023-45853 sid": "fixed",
      "curl CVE-2024-0003 bookworm": "open",
      "curl CVE-2024-0003 trixie": "open",
      "curl CVE-2024-0003 sid": "open",
      "curl CVE-2024-0004 bookworm": "open",
      "curl CVE-2024-0004 sid": "fixed",
      "curl CVE-2024-0005 bookworm": "postponed",
      "qtwebengine-opensource-src CVE-2024-0006 bookworm": "end_of_life",
      "qtwebengine-opensource-src CVE-2024-0006 trixie": "open",
      "imagemagick CVE-2024-0008 bookworm": "undetermined",
      "imagemagick TEMP-0000000-1A2B3C trixie": "open",
    });
    for (const observation of observations(items))
      expect(upstreamObservation.parse(observation)).toEqual(observation);
  });

  it("gives a resolved version as the fixed version and keeps the urgency raw", async () => {
    const items = [...parseDebianTracker(await fixture("tracker.json"), { ref: REF })];
    expect(find(items, "openssl", "CVE-2024-0001", "bookworm")).toEqual({
      source: "debian_tracker",
      vuln_id: "CVE-2024-0001",
      record_id: "CVE-2024-0001",
      aliases: [],
      package_name: "openssl",
      release: "bookworm",
      signal: "fixed",
      fixed_version: "3.0.14-1~deb12u1",
      urgency: "medium",
      upstream_modified_at: null,
      detail: null,
      payload_hash: contentHash({
        status: "resolved",
        repositories: { bookworm: "3.0.13-1~deb12u1", "bookworm-security": "3.0.14-1~deb12u1" },
        fixed_version: "3.0.14-1~deb12u1",
        urgency: "medium",
      }),
      payload_ref: "tracker.json#/openssl/CVE-2024-0001/releases/bookworm",
    });
    expect(find(items, "curl", "CVE-2024-0003", "trixie").urgency).toBe("low**");
    expect(find(items, "zlib", "CVE-2023-45853", "sid").fixed_version).toBe("1:1.3.dfsg+really1.3.1-1");
  });

  it("says why in the detail: no-dsa reason and comment, minor issue, end-of-life, next point release", async () => {
    const items = [...parseDebianTracker(await fixture("tracker.json"), { ref: REF })];
    expect(find(items, "zlib", "CVE-2023-45853", "bookworm").detail).toBe(
      "no-dsa: ignored (contrib/minizip not built and src:zlib not producing binary packages)",
    );
    expect(find(items, "curl", "CVE-2024-0005", "bookworm").detail).toBe(
      "no-dsa: postponed (Revisit when fixed upstream)",
    );
    expect(find(items, "curl", "CVE-2024-0003", "bookworm").detail).toBe("no-dsa: minor issue");
    expect(find(items, "curl", "CVE-2024-0003", "trixie").detail).toBeNull();
    expect(find(items, "curl", "CVE-2024-0004", "bookworm").detail).toBe(
      "no-dsa: minor issue; fix planned for the next point release",
    );
    expect(find(items, "qtwebengine-opensource-src", "CVE-2024-0006", "bookworm").detail).toBe("end-of-life");
    const notAffected = find(items, "openssl", "CVE-2024-0002", "sid");
    expect(notAffected.fixed_version).toBeNull();
    expect(notAffected.detail).toBe("not affected (fixed_version 0)");
  });

  it("keeps only bookworm, trixie and sid by default, and the releases asked for otherwise", async () => {
    const text = await fixture("tracker.json");
    const releases = new Set(observations([...parseDebianTracker(text)]).map((o) => o.release));
    expect([...releases].sort()).toEqual(["bookworm", "sid", "trixie"]);
    const bullseye = observations([...parseDebianTracker(text, { releases: ["bullseye"] })]);
    expect(bullseye.map((o) => [o.package_name, o.fixed_version])).toEqual([["openssl", "1.1.1w-0+deb11u2"]]);
  });

  it("keeps only the vendor's packages when given a package set", async () => {
    const items = [
      ...parseDebianTracker(await fixture("tracker.json"), { packages: new Set(["zlib", "curl"]) }),
    ];
    expect(new Set(observations(items).map((o) => o.package_name))).toEqual(new Set(["zlib", "curl"]));
    expect(observations(items)).toHaveLength(9);
  });

  it("reads an empty releases list as no observation and no rejection", () => {
    const items = [...parseDebianTracker({ "chromium-browser": { "CVE-2022-0358": { releases: [] } } })];
    expect(items).toEqual([]);
  });

  it("carries nothing of a hostile description into the observations", async () => {
    const text = await fixture("tracker.json");
    expect(text).toContain("<script>");
    const items = [...parseDebianTracker(text, { ref: REF })];
    expect(JSON.stringify(observations(items))).not.toContain("<script>");
    expect(JSON.stringify(observations(items))).not.toContain("onerror");
  });

  it("gives each entry's description once as facts, before its observations, for kept packages only", async () => {
    const text = await fixture("tracker.json");
    const items = [...parseDebianTracker(text, { ref: REF, packages: new Set(["openssl", "imagemagick"]) })];
    const facts = factsOf(items);
    for (const fact of facts) expect(cveFacts.parse(fact)).toEqual(fact);
    expect(facts.map((fact) => [fact.package_name, fact.vuln_id])).toEqual([
      ["openssl", "CVE-2024-0001"],
      ["openssl", "CVE-2024-0002"],
      ["imagemagick", "CVE-2024-0008"],
      ["imagemagick", "TEMP-0000000-1A2B3C"],
    ]);
    const temp = facts.at(-1);
    expect(temp).toEqual({
      source: "debian_tracker",
      vuln_id: "TEMP-0000000-1A2B3C",
      record_id: "TEMP-0000000-1A2B3C",
      package_name: "imagemagick",
      description: "A bug without a CVE id yet.",
      vuln_status: null,
      published: null,
      last_modified: null,
      cvss: [],
      cwes: [],
      references: [],
      payload_hash: contentHash("A bug without a CVE id yet."),
      payload_ref: "tracker.json#/imagemagick/TEMP-0000000-1A2B3C/description",
    });
    // The hostile text is kept as data, verbatim; whoever shows it escapes it.
    expect(facts[0]?.description).toBe(
      'Hostile description: <script>alert("tracker")</script><img src=x onerror=alert(1)> & "quotes"',
    );
    const first = items.findIndex((item) => item.kind === "facts");
    expect(items[first + 1]?.kind).toBe("observation");
  });

  it("gives payload_ref null when the caller gives no reference", async () => {
    const items = observations([...parseDebianTracker(await fixture("tracker.json"))]);
    expect(items.every((o) => o.payload_ref === null)).toBe(true);
  });

  it("gives the same hash to the same release whatever else changes in the record", () => {
    const release = { status: "open", repositories: { bookworm: "1.0-1" }, urgency: "low" };
    const before = observations([
      ...parseDebianTracker({
        curl: { "CVE-2024-0001": { description: "a", releases: { bookworm: release } } },
      }),
    ]);
    const after = observations([
      ...parseDebianTracker({
        curl: {
          "CVE-2024-0001": {
            description: "b",
            releases: {
              bookworm: release,
              sid: { status: "resolved", repositories: {}, fixed_version: "2-1" },
            },
          },
        },
      }),
    ]).filter((o) => o.release === "bookworm");
    expect(after).toEqual(before);
  });
});

describe("parseDebianTracker on malformed parts", () => {
  it("rejects each malformed part with its key path and keeps the good releases", async () => {
    const items = [...parseDebianTracker(await fixture("tracker-malformed.json"), { ref: REF })];
    expect(observations(items).map((o) => `${o.package_name} ${o.vuln_id} ${o.release} ${o.signal}`)).toEqual(
      ["libxml2 CVE-2024-1001 sid fixed", "libxml2 CVE-2024-1003 bookworm open"],
    );
    expect(rejections(items).map((r) => [r.location.key, r.reason])).toEqual([
      ['"broken-package"', "a package must be an object keyed by vulnerability id, found a number"],
      ['"Bad_Name"', '"Bad_Name" is not a valid Debian source package name'],
      ['"libxml2"."CVE-2024-1001".releases."bookworm".status', "status is missing"],
      [
        '"libxml2"."CVE-2024-1001".releases."trixie"',
        'unknown status "fixed-maybe" (expected resolved, open, undetermined)',
      ],
      ['"libxml2"."CVE-2024-1002".releases."bookworm"', "status is resolved but fixed_version is missing"],
      ['"libxml2"."CVE-2024-1002".releases."trixie".urgency', "urgency must be a string, found a number"],
      [
        '"libxml2"."CVE-2024-1002".releases."sid"',
        "a release must be an object with a status, found a string",
      ],
      ['"libxml2"."CVE-24-1"', '"CVE-24-1" is neither CVE-YYYY-NNNN nor TEMP-NNNNNNN-XXXXXX'],
      ['"libxml2"."CVE-2024-1003".description', "description must be a string, found a number"],
      ['"libxml2"."CVE-2024-1004".releases', "releases is missing"],
      [
        '"libxml2"."CVE-2024-1005".releases',
        "releases must be an object keyed by codename (or []), found an array",
      ],
    ]);
    for (const rejection of rejections(items)) expect(rejection.location.file).toBe(REF);
    expect(rejections(items)[0]?.excerpt).toBe("42");
  });

  it("rejects a resolved version that is not a Debian version", () => {
    const items = [
      ...parseDebianTracker({
        curl: {
          "CVE-2024-0001": { releases: { sid: { status: "resolved", fixed_version: "not a version" } } },
        },
      }),
    ];
    expect(rejections(items).map((r) => r.reason)).toEqual([
      'fixed_version "not a version" is not a Debian version',
    ]);
  });

  it("refuses a document that is not an object, or not JSON, as a whole", () => {
    expect(() => [...parseDebianTracker("[1, 2]", { ref: REF })]).toThrow(PipelineError);
    expect(() => [...parseDebianTracker("[1, 2]", { ref: REF })]).toThrow(/found an array/);
    expect(() => [...parseDebianTracker('{"curl": ', { ref: REF })]).toThrow(/invalid JSON/);
  });
});

describe("trackerVerdict", () => {
  it("puts ignored and postponed before end-of-life, and end-of-life before plain open", () => {
    expect(
      trackerVerdict({ status: "open", urgency: "end-of-life", nodsa: "", nodsa_reason: "ignored" }),
    ).toEqual({
      signal: "ignored",
      fixed_version: null,
      detail: "no-dsa: ignored",
    });
    expect(
      trackerVerdict({ status: "open", urgency: "end-of-life", nodsa: "Minor issue", nodsa_reason: "" }),
    ).toEqual({ signal: "end_of_life", fixed_version: null, detail: "end-of-life" });
  });

  it("reads nodsa_reason without nodsa as a no-dsa too", () => {
    expect(trackerVerdict({ status: "open", nodsa_reason: "" })).toMatchObject({
      detail: "no-dsa: minor issue",
    });
  });
});

describe("the streaming variant", () => {
  it("gives exactly what the whole-document parse gives, whatever the chunk size, bytes or strings", async () => {
    for (const name of ["tracker.json", "tracker-malformed.json"]) {
      const text = await fixture(name);
      const whole = [...parseDebianTracker(text, { ref: REF })];
      for (const size of [1, 2, 3, 7, 64, 4096]) {
        const pieces: string[] = [];
        for (let start = 0; start < text.length; start += size) pieces.push(text.slice(start, start + size));
        expect(await collect(parseDebianTrackerStream(pieces, { ref: REF }))).toEqual(whole);
        const bytes = Buffer.from(text);
        const byteChunks: Uint8Array[] = [];
        for (let start = 0; start < bytes.length; start += size)
          byteChunks.push(bytes.subarray(start, start + size));
        expect(await collect(parseDebianTrackerStream(byteChunks, { ref: REF }))).toEqual(whole);
      }
    }
  });

  it("splits multi-byte characters, escapes and brackets inside strings correctly", async () => {
    const document = { "pkg-é": { a: '}, {"x": ]', b: ["ü", "\\", { c: "€" }] }, zz: 1, 'q"uote': null };
    const text = `\uFEFF ${JSON.stringify(document, null, 1)} \n`;
    const bytes = Buffer.from(text);
    const chunks = [...bytes].map((byte) => Uint8Array.of(byte));
    const members = await collect(splitTopLevelObject(chunks));
    expect(members.map((m) => [m.key, JSON.parse(m.json)])).toEqual(Object.entries(document));
  });

  it("parses only the packages kept", async () => {
    const text = '{"curl": {"CVE-2024-0001": {"releases": []}}, "other": {not json at all}}';
    const items = await collect(parseDebianTrackerStream([text], { packages: new Set(["curl"]) }));
    expect(items).toEqual([]);
  });

  it("rejects one package whose JSON is broken and goes on with the next", async () => {
    const text =
      '{"broken": {"CVE-2024-0001": {"releases": tru}}, "curl": {"CVE-2024-0002": {"releases": {"sid": {"status": "open", "urgency": "low"}}}}}';
    const items = await collect(parseDebianTrackerStream([text], { ref: REF }));
    expect(rejections(items).map((r) => r.location.key)).toEqual(['"broken"']);
    expect(rejections(items)[0]?.reason).toMatch(/^invalid JSON/);
    expect(observations(items).map((o) => o.vuln_id)).toEqual(["CVE-2024-0002"]);
  });

  it("refuses a truncated document, a document that is not an object and trailing garbage", async () => {
    await expect(
      collect(parseDebianTrackerStream(['{"curl": {"CVE-2024-0001": '], { ref: REF })),
    ).rejects.toThrow(/truncated/);
    await expect(collect(parseDebianTrackerStream(["[]"], { ref: REF }))).rejects.toThrow(
      /must be an object/,
    );
    await expect(collect(parseDebianTrackerStream(["{} x"], { ref: REF }))).rejects.toThrow(/unexpected "x"/);
    await expect(collect(parseDebianTrackerStream([""], { ref: REF }))).rejects.toThrow(/empty/);
    await expect(collect(parseDebianTrackerStream([Uint8Array.of(0x7b, 0xff, 0x7d)]))).rejects.toThrow(
      /UTF-8/,
    );
  });

  it("hands a single package to parseDebianTrackerPackage as a streaming reader would", () => {
    const items = [
      ...parseDebianTrackerPackage("curl", {
        "CVE-2024-0001": { releases: { trixie: { status: "undetermined" } } },
      }),
    ];
    expect(observations(items).map((o) => [o.release, o.signal, o.urgency])).toEqual([
      ["trixie", "undetermined", null],
    ]);
  });
});

describe.skipIf(!sharedPresent)("parseDebianTracker on the real tracker excerpt (../shared)", () => {
  const allReleases = ["jessie", "stretch", "buster", "bullseye", "bookworm", "sid"];

  it("reads every release of the excerpt without a rejection", async () => {
    const items = [...parseDebianTracker(await readFile(sharedExcerpt, "utf8"), { releases: allReleases })];
    expect(rejections(items)).toEqual([]);
    const counts: Record<string, number> = {};
    for (const o of observations(items)) counts[o.signal] = (counts[o.signal] ?? 0) + 1;
    expect(counts).toEqual({ fixed: 15, not_affected: 4, end_of_life: 2 });
  });

  it('reads the resolved "0" entries as not_affected', async () => {
    const items = [...parseDebianTracker(await readFile(sharedExcerpt, "utf8"), { releases: allReleases })];
    const prototype = observations(items).filter((o) => o.vuln_id === "CVE-2007-2383");
    expect(prototype.map((o) => [o.release, o.signal, o.fixed_version, o.urgency])).toEqual([
      ["stretch", "not_affected", null, "unimportant"],
      ["jessie", "not_affected", null, "unimportant"],
      ["buster", "not_affected", null, "unimportant"],
      ["sid", "not_affected", null, "unimportant"],
    ]);
  });

  it("reads open end-of-life releases, ** urgencies and the empty releases list", async () => {
    const items = [...parseDebianTracker(await readFile(sharedExcerpt, "utf8"), { releases: allReleases })];
    const chromium = observations(items).filter((o) => o.package_name === "chromium");
    expect(chromium.map((o) => [o.release, o.signal, o.fixed_version])).toEqual([
      ["bookworm", "fixed", "98.0.4758.80-1"],
      ["bullseye", "fixed", "98.0.4758.80-1~deb11u1"],
      ["buster", "end_of_life", null],
      ["sid", "fixed", "98.0.4758.80-1"],
      ["stretch", "end_of_life", null],
    ]);
    expect(find(items, "prototypejs", "CVE-2008-7220", "sid").urgency).toBe("high**");
    expect(observations(items).some((o) => o.package_name === "chromium-browser")).toBe(false);
  });

  it("streams the excerpt to the same result", async () => {
    const text = await readFile(sharedExcerpt);
    const whole = [...parseDebianTracker(text.toString("utf8"), { releases: allReleases })];
    const chunks = [];
    for (let start = 0; start < text.length; start += 100) chunks.push(text.subarray(start, start + 100));
    expect(await collect(parseDebianTrackerStream(chunks, { releases: allReleases }))).toEqual(whole);
  });
});

describe("the default Debian releases", () => {
  it("are the releases dbt's debian_releases seed ranks, in its order of preference", async () => {
    const seed = await readFile(
      resolve(dirname(fileURLToPath(import.meta.url)), "../../dbt_project/seeds/debian_releases.csv"),
      "utf8",
    );
    const ranked = seed
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.split(","))
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map((fields) => fields[0]);
    expect(ranked).toEqual([...defaultDebianReleases]);
  });
});
