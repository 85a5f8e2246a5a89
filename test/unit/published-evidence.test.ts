import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PublishedAdvisory } from "../../pipeline/formats/advisory.ts";
import { buildAdvisoryDocument, serialiseAdvisoryDocument } from "../../pipeline/formats/advisory-current.ts";
import {
  createPublishedEvidenceTable,
  parsePublishedEvidence,
  readPublishedEvidence,
  restorePublishedEvidence,
} from "../../pipeline/history/published-evidence.ts";
import { withDatabase } from "../../pipeline/lib/db.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";

const path = "/out/advisory_current.json";

function advisory(id: string, evidence: PublishedAdvisory["evidence"]): PublishedAdvisory {
  const [packageName = "", cveId = ""] = id.split(":");
  return {
    advisory_id: id,
    cve_id: cveId,
    package_name: packageName,
    state: "fixed",
    state_type: "final",
    fixed_version: "8.5.0-2",
    confidence: 0.9,
    explanation: "…",
    reason_code: "fix_available",
    rule_id: "vendor_fixed_version",
    contributing_sources: ["echo_data"],
    dissenting_sources: [],
    decided_at: "2026-03-01T06:00:00Z",
    first_seen: "2026-03-01T06:00:00Z",
    evidence,
    unaffected_from_version: null,
    known_exploited: null,
    history_url: `advisory/?id=${encodeURIComponent(id)}`,
  };
}

const vendorFix = {
  source: "echo_data",
  signal: "fixed",
  version: "8.5.0-2",
  release: null,
  record: null,
  record_date: null,
  fetched_at: "2026-01-10T06:00:00Z",
  stale: false,
};
const debianOpen = {
  source: "debian_tracker",
  signal: "open",
  version: null,
  release: "bookworm",
  record: "CVE-2024-0001",
  record_date: null,
  fetched_at: "2026-02-01T06:00:00Z",
  stale: true,
};

function published(advisories: PublishedAdvisory[]): string {
  return serialiseAdvisoryDocument(
    buildAdvisoryDocument(advisories, {
      runId: "20260301T060000Z",
      generatedAt: new Date("2026-03-01T06:00:00Z"),
    }),
  );
}

function failure(text: string): PipelineError {
  try {
    parsePublishedEvidence(text, path);
  } catch (error) {
    if (error instanceof PipelineError) return error;
    throw error;
  }
  throw new Error("expected the published file to be refused");
}

describe("evidence of the previously published advisory_current.json", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "echo-published-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("reads each advisory's evidence with when it was first fetched, skipping evidence without a date", () => {
    const text = published([
      advisory("curl:CVE-2024-0001", [debianOpen, vendorFix]),
      advisory("zlib:CVE-2024-0002", [{ ...vendorFix, fetched_at: null }]),
    ]);
    expect(parsePublishedEvidence(text, path)).toEqual([
      {
        advisory_id: "curl:CVE-2024-0001",
        source: "debian_tracker",
        signal: "open",
        version: null,
        release: "bookworm",
        record: "CVE-2024-0001",
        fetched_at: "2026-02-01T06:00:00Z",
      },
      {
        advisory_id: "curl:CVE-2024-0001",
        source: "echo_data",
        signal: "fixed",
        version: "8.5.0-2",
        release: null,
        record: null,
        fetched_at: "2026-01-10T06:00:00Z",
      },
    ]);
  });

  it("has nothing to read before the first publication", async () => {
    const rows = async (outputDir: string) => {
      const found = [];
      for await (const chunk of readPublishedEvidence(outputDir)) found.push(...chunk);
      return found;
    };
    expect(await rows(join(dir, "nowhere"))).toEqual([]);
    await writeFile(join(dir, "advisory_current.json"), published([]));
    expect(await rows(dir)).toEqual([]);
  });

  it("refuses a damaged file with its name and the key at fault, exit code 2", () => {
    const truncated = failure(published([advisory("curl:CVE-2024-0001", [vendorFix])]).slice(0, 120));
    expect(truncated.exitCode).toBe(2);
    expect(truncated.location).toEqual({ file: path });

    const badDate = failure(
      published([advisory("curl:CVE-2024-0001", [{ ...vendorFix, fetched_at: "yesterday" }])]),
    );
    expect(badDate.exitCode).toBe(2);
    expect(badDate.location).toEqual({ file: path, key: "advisories.0.evidence.0.fetched_at" });

    const noEvidence = failure(JSON.stringify({ advisories: [{ advisory_id: "curl:CVE-2024-0001" }] }));
    expect(noEvidence.location.key).toBe("advisories.0.evidence");

    const twice = failure(
      JSON.stringify({
        advisories: [
          advisory("curl:CVE-2024-0001", [vendorFix]),
          advisory("curl:CVE-2024-0001", [vendorFix]),
        ],
      }),
    );
    expect(twice.location.key).toBe("advisories.1.advisory_id");

    const sourceTwice = failure(published([advisory("curl:CVE-2024-0001", [vendorFix, vendorFix])]));
    expect(sourceTwice.location.key).toBe("advisories.0.evidence.1.source");

    const releaseTwice = failure(published([advisory("curl:CVE-2024-0001", [debianOpen, debianOpen])]));
    expect(releaseTwice.message).toContain("source debian_tracker appears twice for release bookworm");
    expect(releaseTwice.location.key).toBe("advisories.0.evidence.1.source");
  });

  it("reads one entry per release of a source: Debian's bookworm open and sid fix together", () => {
    const sidFix = { ...debianOpen, signal: "fixed", version: "8.5.0-3", release: "sid", stale: false };
    const rows = parsePublishedEvidence(
      published([advisory("curl:CVE-2024-0001", [debianOpen, sidFix])]),
      path,
    );
    expect(rows.map((row) => [row.source, row.release, row.signal, row.version])).toEqual([
      ["debian_tracker", "bookworm", "open", null],
      ["debian_tracker", "sid", "fixed", "8.5.0-3"],
    ]);
  });

  it("restores them into a database made when the table had a key per advisory and source", async () => {
    await withDatabase(join(dir, "keyed.duckdb"), async (db) => {
      await db.run(`create schema history;
        create table history.published_evidence (advisory_id varchar not null, source varchar not null,
          signal varchar not null, version varchar, release varchar, record varchar,
          fetched_at timestamptz not null, primary key (advisory_id, source))`);
      await createPublishedEvidenceTable(db);
      const sidFix = { ...debianOpen, signal: "fixed", version: "8.5.0-3", release: "sid" };
      const rows = parsePublishedEvidence(
        published([advisory("curl:CVE-2024-0001", [debianOpen, sidFix])]),
        path,
      );
      expect(await restorePublishedEvidence(db, [rows])).toBe(2);
      const restored = await db.all<{ release: string }>(
        "select release from history.published_evidence order by release",
      );
      expect(restored.map((row) => row.release)).toEqual(["bookworm", "sid"]);
    });
  });

  it("reads a file too large for one string a line at a time, with the same rows and the same checks", async () => {
    const advisories = [
      advisory("curl:CVE-2024-0001", [debianOpen, vendorFix]),
      advisory("zlib:CVE-2024-0002", [{ ...vendorFix, fetched_at: null }]),
    ];
    const file = join(dir, "advisory_current.json");
    const read = async () => {
      const rows = [];
      // A limit of 0 bytes takes the line-at-a-time path, as a file past 256 MB would.
      for await (const chunk of readPublishedEvidence(dir, 0)) rows.push(...chunk);
      return rows;
    };
    const refusal = async () => {
      try {
        await read();
      } catch (error) {
        if (error instanceof PipelineError) return error;
        throw error;
      }
      throw new Error("expected the published file to be refused");
    };
    await writeFile(file, published(advisories));
    expect(await read()).toEqual(parsePublishedEvidence(published(advisories), file));
    await writeFile(file, published([]));
    expect(await read()).toEqual([]);

    await writeFile(file, published(advisories).split("\n").slice(0, 5).join("\n"));
    const truncated = await refusal();
    expect(truncated.message).toMatch(/ends before the document does/);
    expect(truncated.exitCode).toBe(2);

    await writeFile(
      file,
      published([advisory("curl:CVE-2024-0001", [{ ...vendorFix, fetched_at: "yesterday" }])]),
    );
    const badDate = await refusal();
    expect(badDate.location).toEqual({ file, line: 8, key: "advisories.0.evidence.0.fetched_at" });

    // Valid JSON, but not the layout the pipeline writes: refused, since it cannot be read whole.
    await writeFile(file, JSON.stringify({ advisories: [] }));
    expect((await refusal()).message).toMatch(/line 1: expected "\{" opening the document/);
  });
});
