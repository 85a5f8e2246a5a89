import { createHash } from "node:crypto";
import { advisoryCurrentPath, advisoryDocumentText } from "../formats/advisory-current.ts";
import { cveFactsDocumentText, cveFactsPath } from "../formats/cve-facts.ts";
import { openVexPath } from "../formats/openvex.ts";
import { vendorFeedPath } from "../formats/vendor-feed.ts";
import { runLedgerFile, streamRunTransitions } from "../history/ledger.ts";
import type { Database } from "../lib/db.ts";
import type { StagedRelease } from "../lib/files.ts";
import { hashedChunks } from "../lib/hash.ts";
import type { RunStatus } from "../run-summary.ts";
import type { Config } from "./config.ts";
import { countCurrentAdvisories, streamAdvisoryLines } from "./export/advisory-lines.ts";
import { countCveFacts, streamCveFactsLines } from "./export/cve-facts.ts";
import { writeOpenVex } from "./export/openvex.ts";
import { vendorFeedText } from "./export/vendor-feed.ts";

export interface ExportStageInput {
  config: Config;
  runId: string;
  asOf: Date;
  status: RunStatus;
  transitionCount: number;
}

export interface ExportedRelease {
  advisoryCount: number;
  /** This run's ledger file, when it changed any decision. */
  ledgerPath: string | null;
  /** SHA-256 of the ledger file and of advisory_current.json as staged, for the next run's reuse check. */
  ledgerSha256: string | null;
  advisoryCurrentSha256: string;
  /** How many vulnerabilities cve_facts.json describes (0 when nothing was staged). */
  cveCount: number;
}

/**
 * Stages this run's history file, openvex.json, advisory_current.json, data.json and cve_facts.json into the release (each
 * written to a temporary as soon as it is built; the report stage publishes the release). A dry run stages
 * nothing and a blocked run only its report, so both leave the published files as they were.
 */
export async function exportStage(
  db: Database,
  release: StagedRelease,
  input: ExportStageInput,
): Promise<ExportedRelease> {
  const { config, runId, asOf } = input;
  const ledgerHash = createHash("sha256");
  const publishedHash = createHash("sha256");
  const advisoryCount = await countCurrentAdvisories(db);
  const exported: ExportedRelease = {
    advisoryCount,
    ledgerPath: null,
    ledgerSha256: null,
    advisoryCurrentSha256: "",
    cveCount: 0,
  };
  if (input.status !== "succeeded") return exported;
  // The ledger first: published outputs never show a decision the history does not hold.
  const ledgerFile = runLedgerFile(
    config.history_dir,
    runId,
    input.transitionCount,
    streamRunTransitions(db, runId),
  );
  if (ledgerFile.content === null) release.remove(ledgerFile.path);
  else {
    await release.stage(ledgerFile.path, hashedChunks(ledgerHash, ledgerFile.content));
    exported.ledgerPath = ledgerFile.path;
    exported.ledgerSha256 = ledgerHash.digest("hex");
  }
  // OpenVEX before the others: an advisory it cannot state stops the run with nothing published.
  await writeOpenVex(release, openVexPath(config.output_dir), db, advisoryCount, {
    asOf,
    publicUrl: config.site.public_url,
  });
  await release.stage(
    advisoryCurrentPath(config.output_dir),
    hashedChunks(
      publishedHash,
      advisoryDocumentText(asOf, advisoryCount, streamAdvisoryLines(db, config.site.public_url)),
    ),
  );
  exported.advisoryCurrentSha256 = publishedHash.digest("hex");
  await release.stage(vendorFeedPath(config.output_dir), vendorFeedText(db));
  exported.cveCount = await countCveFacts(db);
  await release.stage(
    cveFactsPath(config.output_dir),
    cveFactsDocumentText(
      { runId, generatedAt: asOf, publicUrl: config.site.public_url },
      exported.cveCount,
      streamCveFactsLines(db),
    ),
  );
  return exported;
}
