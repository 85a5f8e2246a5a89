import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { loadConfig, parseConfig } from "../../pipeline/stages/config.ts";
import { parseSourcesIndex, readBinaryPackageMap } from "../../pipeline/stages/export/binary-packages.ts";
import { repoRoot } from "../helpers/workspace.ts";

const fixturePath = join(repoRoot, "test/fixtures/openvex/Sources");
const fixture = readFileSync(fixturePath, "utf8");

/** The error a text gets, as the CLI prints it (file:line key Field: message (hint)). */
function problemOf(text: string): string {
  try {
    parseSourcesIndex(text, "Sources");
  } catch (error) {
    if (error instanceof PipelineError) return error.describe().replace(/ \(a Debian Sources index.*\)$/, "");
    throw error;
  }
  throw new Error("no error");
}

describe("the binary packages map, read from a Debian Sources index", () => {
  it("maps each source package to its binary packages, folded Binary lists included", () => {
    const map = parseSourcesIndex(fixture, fixturePath);
    expect([...map.keys()]).toEqual(["apt", "curl", "glibc", "libxslt", "openssl"]);
    expect(map.get("apt")).toEqual([
      "apt",
      "apt-doc",
      "apt-transport-https",
      "apt-utils",
      "libapt-pkg-dev",
      "libapt-pkg-doc",
      "libapt-pkg6.0",
    ]);
    expect(map.get("libxslt")).toEqual(["libxslt1-dev", "libxslt1.1", "xsltproc"]);
    // glibc's Binary field runs over four lines in the index.
    expect(map.get("glibc")).toHaveLength(31);
    expect(map.get("glibc")).toContain("libc6");
    expect(map.get("glibc")).toContain("libc6-dev-x32");
    expect(map.get("curl")).toContain("libcurl4-doc");
  });

  it("joins the stanzas of one source package, and reads CRLF lines, comments and field names in any case", () => {
    const map = parseSourcesIndex(
      "# an index\r\nPackage: apt\r\nBinary: apt\r\nVersion: 2.6.1\r\n\r\npackage: apt\r\nbinary:\r\n libapt-pkg6.0, apt\r\n",
      "Sources",
    );
    expect(map.get("apt")).toEqual(["apt", "libapt-pkg6.0"]);
  });

  it("names file, line and field of each kind of mistake", () => {
    expect(problemOf("Package: apt\nVersion: 2.6.1\n")).toBe(
      "Sources:1 key Binary: the stanza on lines 1–2 (source package apt) has no Binary field",
    );
    expect(problemOf("Package: apt\nBinary: apt\n\nBinary: curl\n")).toBe(
      "Sources:4 key Package: the stanza on lines 4–4 has no Package field",
    );
    expect(problemOf("Package: apt\nBinary: apt,\n libapt-pkg6.0,\n Apt_Utils\n")).toBe(
      'Sources:4 key Binary: "Apt_Utils" is not a Debian binary package name (in the Binary field of apt)',
    );
    expect(problemOf("Package: apt\nBinary: apt,, apt-utils\n")).toBe(
      "Sources:2 key Binary: the Binary field of apt has an empty entry (two commas in a row, or a comma at its end)",
    );
    expect(problemOf("Package: apt\nBinary:\n")).toBe(
      "Sources:2 key Binary: the Binary field of apt is empty",
    );
    expect(problemOf("Package: [Click](https://evil.example/)\nBinary: apt\n")).toBe(
      'Sources:1 key Package: "[Click](https://evil.example/)" is not a Debian source package name',
    );
    expect(problemOf("Package: apt\nBinary: apt\nbinary: apt-utils\n")).toBe(
      "Sources:3 key binary: the field binary appears twice in one stanza (first on line 2)",
    );
    expect(problemOf(" apt\n")).toBe(
      "Sources:1: a continuation line (starting with a space) that continues no field",
    );
    expect(problemOf("Package: apt\nBinary apt\n")).toBe(
      'Sources:2: "Binary apt" is neither a field (Name: value), a continuation line (starting with a space) nor a blank line between stanzas',
    );
    expect(problemOf("-----BEGIN PGP SIGNED MESSAGE-----\n")).toBe(
      "Sources:1: the file is signed (an InRelease-style wrapper); give the Sources index itself",
    );
    expect(problemOf("\n\n")).toBe("Sources:1: the file has no stanza: it is empty");
  });

  describe("from a file", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "echo-sources-"));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it("reads it plain or gzip-compressed, whatever its name, and refuses xz and broken gzip by name", async () => {
      const gz = join(dir, "Sources.gz");
      await writeFile(gz, gzipSync(fixture));
      expect(await readBinaryPackageMap(gz)).toEqual(parseSourcesIndex(fixture, fixturePath));
      const truncated = join(dir, "truncated.gz");
      await writeFile(truncated, gzipSync(fixture).subarray(0, 40));
      await expect(readBinaryPackageMap(truncated)).rejects.toThrow(/not a readable gzip file/);
      const xz = join(dir, "Sources.xz");
      await writeFile(xz, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00]));
      await expect(readBinaryPackageMap(xz)).rejects.toThrow(/compressed with xz/);
      await expect(readBinaryPackageMap(join(dir, "missing"))).rejects.toThrow(/file not found/);
    });
  });
});

describe("config openvex:", () => {
  const sources = "sources:\n  echo_data:\n    location: data.json\n  echo_csv:\n    location: na.csv\n";
  const config = (text: string) => parseConfig(`${sources}${text}`, "/etc/echo/config.yaml");
  const problem = (text: string) => {
    try {
      config(text);
    } catch (error) {
      if (error instanceof PipelineError) return error.describe();
      throw error;
    }
    throw new Error("the config was accepted");
  };

  it("defaults to the vendor's purls, without a map", () => {
    expect(config("").openvex).toEqual({ purl_namespace: "echo", purl_qualifiers: { distro: "echo-1" } });
  });

  it("takes another namespace, qualifiers and a map, resolved against the config's folder", () => {
    expect(
      config(
        "openvex:\n  purl_namespace: debian\n  purl_qualifiers: { distro: debian-12 }\n  binary_packages: maps/Sources.gz\n",
      ).openvex,
    ).toEqual({
      purl_namespace: "debian",
      purl_qualifiers: { distro: "debian-12" },
      binary_packages: "/etc/echo/maps/Sources.gz",
    });
    expect(config("openvex:\n  purl_qualifiers: {}\n").openvex.purl_qualifiers).toEqual({});
  });

  it("refuses a namespace or qualifier a purl cannot carry, naming line and key", () => {
    expect(problem("openvex:\n  purl_namespace: Echo/1\n")).toMatch(
      /^\/etc\/echo\/config\.yaml:7 key openvex\.purl_namespace: must be a lower-case distribution vendor/,
    );
    expect(problem("openvex:\n  purl_qualifiers: { Distro: echo-1 }\n")).toMatch(
      /config\.yaml:7 key openvex\.purl_qualifiers\.Distro: a purl qualifier key is lower-case/,
    );
    expect(problem("openvex:\n  purl_qualifiers: { distro: '' }\n")).toMatch(
      /config\.yaml:7 key openvex\.purl_qualifiers\.distro: a purl qualifier needs a value/,
    );
    expect(problem("openvex:\n  binary_package: Sources\n")).toMatch(/did you mean "binary_packages"/);
  });

  it("reads the map before anything runs: a bad index stops the run with exit code 2, naming its line and field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "echo-openvex-config-"));
    try {
      await writeFile(join(dir, "data.json"), "{}");
      await writeFile(join(dir, "na.csv"), "cve_id,package,status,fixed_version,internal_status\n");
      await writeFile(join(dir, "Sources"), "Package: apt\nBinary: apt,\n Libapt\n");
      await writeFile(join(dir, "config.yaml"), `${sources}openvex:\n  binary_packages: Sources\n`);
      const error = await loadConfig(join(dir, "config.yaml")).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(PipelineError);
      expect((error as PipelineError).exitCode).toBe(2);
      expect((error as PipelineError).describe()).toContain(
        `${dir}/config.yaml:7 key openvex.binary_packages: ${dir}/Sources:3 key Binary: "Libapt" is not a Debian binary package name (in the Binary field of apt)`,
      );
      await writeFile(join(dir, "Sources"), fixture);
      expect((await loadConfig(join(dir, "config.yaml"))).openvex.binary_packages).toBe(join(dir, "Sources"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
