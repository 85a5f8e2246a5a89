// openvex.json read by the reference OpenVEX reader, github.com/openvex/go-vex (the library grype's VEX
// support is built on): the document a run publishes loads and every statement validates, and a statement
// applies to the purl a scanner gives a package of the vendor's image, by go-vex's own matching rules.
import { copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenVexDocument } from "../../pipeline/formats/openvex.ts";
import { createWorkspace, repoRoot, type Workspace } from "../helpers/workspace.ts";
import { ensureVexcheck, goVexVersion, type VexQuery, vexcheck } from "../setup/go-vex.ts";

const fixtures = join(repoRoot, "test/fixtures/openvex");
const sourcesIndex = join(fixtures, "Sources");
const runClock = "2026-01-15T10:00:00Z";

/** What syft names the packages of the vendor's images (../shared/reference/upstream-sources.md). */
const echoPackage = (name: string, version: string) =>
  `pkg:deb/echo/${name}@${version}?arch=amd64&distro=echo-1`;

const goVex = await ensureVexcheck();

if ("unavailable" in goVex) {
  // Only when Go or the module proxy is missing; a compile error fails the run instead.
  it.skip(`go-vex ${goVexVersion()} interop: skipped, ${goVex.unavailable}`, () => {});
} else {
  const binary = goVex.path;

  describe(`openvex.json read by go-vex ${goVexVersion()}`, () => {
    let workspace: Workspace;
    let mapped: string;
    let unmapped: string;

    const configure = (extra: string) =>
      workspace.writeConfig({
        dataJson: join(fixtures, "data.json"),
        csv: join(fixtures, "advisory_not_applicable.csv"),
        extra,
      });

    beforeAll(async () => {
      workspace = await createWorkspace();
      await configure(`openvex:\n  binary_packages: ${JSON.stringify(sourcesIndex)}\n`);
      const withMap = await workspace.run(["--as-of", runClock]);
      expect(withMap.stderr).not.toContain('"level":"error"');
      expect(withMap.exitCode).toBe(0);
      mapped = join(workspace.dir, "openvex-with-map.json");
      await copyFile(join(workspace.outputDir, "openvex.json"), mapped);
      // The same decisions, published without the map.
      await configure("");
      const withoutMap = await workspace.run(["--as-of", runClock]);
      expect(withoutMap.exitCode).toBe(0);
      unmapped = join(workspace.dir, "openvex-without-map.json");
      await copyFile(join(workspace.outputDir, "openvex.json"), unmapped);
    });
    afterAll(() => workspace.cleanup());

    const statusOf = async (document: string, vulnerability: string) => {
      const parsed = JSON.parse(await readFile(document, "utf8")) as OpenVexDocument;
      return parsed.statements.find((statement) => statement.vulnerability.name === vulnerability)?.status;
    };

    it("loads the document with the map, and go-vex finds every statement valid", async () => {
      const report = await vexcheck(binary, mapped, []);
      expect(report.context).toBe("https://openvex.dev/ns/v0.2.0");
      expect(report.id).toMatch(/^https:\/\/openvex\.dev\/docs\/public\/echo-advisory-[0-9a-f]{16}$/);
      expect(report.statement_count).toBe(4);
      expect(report.invalid).toEqual([]);
    });

    it("with the map, applies to every binary package of the source package as a scanner names it", async () => {
      const open = await statusOf(mapped, "CVE-2011-3374");
      const notApplicable = await statusOf(mapped, "CVE-2015-9019");
      const fixed = await statusOf(mapped, "CVE-2020-27350");
      expect(fixed).toBe("fixed");
      expect(notApplicable).toBe("not_affected");
      const queries: [VexQuery, string[]][] = [
        // grype's second pass: the package's purl is the product.
        [{ vulnerability: "CVE-2011-3374", product: echoPackage("apt", "2.6.1") }, [open as string]],
        [
          { vulnerability: "CVE-2011-3374", product: echoPackage("libapt-pkg6.0", "2.6.1") },
          [open as string],
        ],
        [
          { vulnerability: "CVE-2015-9019", product: echoPackage("libxslt1.1", "1.1.35-1") },
          ["not_affected"],
        ],
        [{ vulnerability: "CVE-2015-9019", product: echoPackage("xsltproc", "1.1.35-1") }, ["not_affected"]],
        // A fixed statement names the fixed version: it applies to that version, not to another.
        [{ vulnerability: "CVE-2020-27350", product: echoPackage("apt-utils", "2.1.15") }, ["fixed"]],
        [{ vulnerability: "CVE-2020-27350", product: echoPackage("apt-utils", "2.6.1") }, []],
        // Another vulnerability, another distribution (Debian's own purls), another package: nothing.
        [{ vulnerability: "CVE-2015-9019", product: echoPackage("apt", "2.6.1") }, []],
        [
          {
            vulnerability: "CVE-2011-3374",
            product: "pkg:deb/debian/apt@2.6.1?arch=amd64&distro=debian-12",
          },
          [],
        ],
        [{ vulnerability: "CVE-2011-3374", product: "pkg:deb/echo/apt@2.6.1?arch=amd64&distro=echo-2" }, []],
        // grype's first pass (the image is the product, the package a subcomponent) finds nothing: the
        // document is about packages, not images, and grype then falls back to the second pass above.
        [
          {
            vulnerability: "CVE-2011-3374",
            product: "pkg:oci/echo-base@sha256%3A0f4c1c8a?repository_url=registry.example%2Fecho-base",
            subcomponents: [echoPackage("apt", "2.6.1")],
          },
          [],
        ],
      ];
      const report = await vexcheck(
        binary,
        mapped,
        queries.map(([query]) => query),
      );
      expect(report.answers.map((answer) => [answer.query, answer.statuses])).toEqual(queries);
      // The matching statement names the binary packages as products, the source package's name aside.
      expect(report.answers[0]?.products[0]).toContain("pkg:deb/echo/libapt-pkg6.0?distro=echo-1");
    });

    it("without the map, applies only to a binary package named like its source package", async () => {
      const report = await vexcheck(binary, unmapped, [
        { vulnerability: "CVE-2011-3374", product: echoPackage("apt", "2.6.1") },
        { vulnerability: "CVE-2011-3374", product: echoPackage("libapt-pkg6.0", "2.6.1") },
        { vulnerability: "CVE-2015-9019", product: echoPackage("libxslt1.1", "1.1.35-1") },
      ]);
      expect(report.invalid).toEqual([]);
      expect(report.statement_count).toBe(4);
      expect(report.answers.map((answer) => answer.statuses.length)).toEqual([1, 0, 0]);
      expect(report.answers[0]?.products).toEqual([["pkg:deb/echo/apt?distro=echo-1"]]);
    });
  });
}
