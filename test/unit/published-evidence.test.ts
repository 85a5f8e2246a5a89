import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  buildAdvisoryDocument,
  type PublishedAdvisory,
  serialiseAdvisoryDocument,
} from "../../pipeline/export.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { parsePublishedEvidence, readPublishedEvidence } from "../../pipeline/published-evidence.ts";

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
  return serialiseAdvisoryDocument(buildAdvisoryDocument(advisories, new Date("2026-03-01T06:00:00Z")));
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
    expect(await readPublishedEvidence(join(dir, "nowhere"))).toEqual([]);
    await writeFile(join(dir, "advisory_current.json"), published([]));
    expect(await readPublishedEvidence(dir)).toEqual([]);
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
  });
});
