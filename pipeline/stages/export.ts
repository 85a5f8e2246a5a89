import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { advisoryCurrentPath, advisoryDocumentText } from "../formats/advisory-current.ts";
import type { ChangeCounts } from "../formats/changes.ts";
import { cveFactsDocumentText, cveFactsPath } from "../formats/cve-facts.ts";
import { listedItemTexts } from "../formats/listed-document.ts";
import { openVexPath } from "../formats/openvex.ts";
import { vendorFeedPath } from "../formats/vendor-feed.ts";
import { canCarryExport, exportKey, fileDigest } from "../history/export-inputs.ts";
import { runLedgerFile, streamRunTransitions } from "../history/ledger.ts";
import type { Database } from "../lib/db.ts";
import type { StagedRelease } from "../lib/files.ts";
import { hashedChunks } from "../lib/hash.ts";
import { log } from "../lib/log.ts";
import type { RunStatus } from "../run-summary.ts";
import type { Config } from "./config.ts";
import { countCurrentAdvisories, streamAdvisoryLines } from "./export/advisory-lines.ts";
import { stageChangeFeed } from "./export/change-feed.ts";
import { stageChangeFile } from "./export/changes.ts";
import { countCveFacts, streamCveFactsLines } from "./export/cve-facts.ts";
import { productNamingOf, writeOpenVex } from "./export/openvex.ts";
import { vendorFeedText } from "./export/vendor-feed.ts";

export interface ExportStageInput {
  config: Config;
  runId: string;
  asOf: Date;
  status: RunStatus;
  transitionCount: number;
  /** dbt did not run: the marts hold the decisions of this earlier run, as it exported them. */
  reusedDecisionsOf: string | null;
}

export interface ExportedRelease {
  advisoryCount: number;
  /** This run's ledger file, when it changed any decision. */
  ledgerPath: string | null;
  /** SHA-256 of the ledger file and of advisory_current.json as staged, for the next run's reuse check. */
  ledgerSha256: string | null;
  advisoryCurrentSha256: string;
  /** What the documents were made from besides the marts (history/export-inputs.ts), when staged. */
  exportKey: string | null;
  /** SHA-256 of the other documents a later run may carry over, by file name. */
  documentSha256: Record<string, string>;
  /** This run's change file (changes/<run id>.json) and its counts, when the run publishes. */
  changes: { path: string; previousRunId: string | null; counts: ChangeCounts } | null;
  /** How many vulnerabilities cve_facts.json describes (0 when nothing was staged). */
  cveCount: number;
}

/**
 * Stages this run's history file, openvex.json, advisory_current.json, its change file (changes/<run id>.json
 * and changes.atom), data.json and cve_facts.json into the release (each
 * written to a temporary as soon as it is built; the report stage publishes the release). A dry run stages
 * nothing and a blocked run only its report, so both leave the published files as they were.
 */
export async function exportStage(
  db: Database,
  release: StagedRelease,
  input: ExportStageInput,
): Promise<ExportedRelease> {
  const { config, runId, asOf } = input;
  const advisoryCount = await countCurrentAdvisories(db);
  const exported: ExportedRelease = {
    advisoryCount,
    ledgerPath: null,
    ledgerSha256: null,
    advisoryCurrentSha256: "",
    exportKey: null,
    documentSha256: {},
    changes: null,
    cveCount: 0,
  };
  if (input.status !== "succeeded") return exported;
  // With the previous run's decisions and export key, the marts would give that run's items again: they are
  // read from its documents instead (most of the export). The ledger is still made here, and OpenVEX's @id.
  exported.exportKey = await exportKey(config);
  const carryFrom =
    input.reusedDecisionsOf !== null &&
    (await canCarryExport(db, input.reusedDecisionsOf, exported.exportKey, config.output_dir))
      ? input.reusedDecisionsOf
      : null;
  if (carryFrom !== null)
    log.info("documents carried over: their items are those run published", { run: carryFrom });
  // The ledger first: published outputs never show a decision the history does not hold.
  const ledgerFile = runLedgerFile(
    config.history_dir,
    runId,
    input.transitionCount,
    streamRunTransitions(db, runId),
  );
  if (ledgerFile.content === null) release.remove(ledgerFile.path);
  else {
    exported.ledgerPath = ledgerFile.path;
    exported.ledgerSha256 = (await stageHashed(release, ledgerFile.path, ledgerFile.content)).sha256;
  }
  // OpenVEX before the others: an advisory it cannot state stops the run with nothing published.
  const openVex = openVexPath(config.output_dir);
  const stagedOpenVex = await writeOpenVex(release, openVex, db, advisoryCount, {
    asOf,
    publicUrl: config.site.public_url,
    products: await productNamingOf(config.openvex),
    statementsFrom: carryFrom === null ? undefined : openVex,
  });
  // Hashed once the @id is patched in: the digest is of the bytes published.
  exported.documentSha256[basename(openVex)] = (await fileDigest(stagedOpenVex)) as string;
  const publicUrl = config.site.public_url;
  const { staged: stagedAdvisories, sha256: advisoriesSha256 } = await stageHashed(
    release,
    advisoryCurrentPath(config.output_dir),
    advisoryDocumentText(
      { runId, generatedAt: asOf, publicUrl },
      advisoryCount,
      carryFrom === null
        ? streamAdvisoryLines(db, publicUrl)
        : listedItemTexts(advisoryCurrentPath(config.output_dir), "advisories"),
    ),
  );
  exported.advisoryCurrentSha256 = advisoriesSha256;
  // The change file: the published advisory_current.json (still the previous run's until the release is
  // published) merged with the one just staged; then the Atom feed of the recent change files.
  const { stagedPath, ...changes } = await stageChangeFile(
    release,
    config.output_dir,
    advisoryCurrentPath(config.output_dir),
    stagedAdvisories,
    { runId, asOf, publicUrl },
    carryFrom,
  );
  exported.changes = changes;
  await stageChangeFeed(release, config.output_dir, { runId, stagedPath }, publicUrl);
  const vendorFeed = vendorFeedPath(config.output_dir);
  exported.documentSha256[basename(vendorFeed)] = (
    await stageHashed(
      release,
      vendorFeed,
      carryFrom === null ? vendorFeedText(db) : createReadStream(vendorFeed, { encoding: "utf8" }),
    )
  ).sha256;
  exported.cveCount = await countCveFacts(db);
  const cveFacts = cveFactsPath(config.output_dir);
  exported.documentSha256[basename(cveFacts)] = (
    await stageHashed(
      release,
      cveFacts,
      cveFactsDocumentText(
        { runId, generatedAt: asOf, publicUrl: config.site.public_url },
        exported.cveCount,
        carryFrom === null ? streamCveFactsLines(db) : listedItemTexts(cveFacts, "cves"),
      ),
    )
  ).sha256;
  return exported;
}

/** Stages a document and gives the SHA-256 of the bytes staged (what is published is what was hashed). */
async function stageHashed(
  release: StagedRelease,
  path: string,
  chunks: Iterable<string> | AsyncIterable<string>,
): Promise<{ staged: string; sha256: string }> {
  const hash = createHash("sha256");
  const staged = await release.stage(path, hashedChunks(hash, chunks));
  return { staged, sha256: hash.digest("hex") };
}
