import type { Database } from "../lib/db.ts";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { RowStage, type StagedRows } from "../lib/row-stage.ts";
import type { FetchContext, Rejection, SourceAdapter, SourceHealth } from "../sources/types.ts";

export interface IngestedSource {
  // biome-ignore lint/suspicious/noExplicitAny: adapters differ only in their observation type
  adapter: SourceAdapter<any, any>;
  fetchedAt: Date;
  /** The landing rows, staged in DuckDB in input order; undefined when the source failed or was skipped. */
  staged: StagedRows | undefined;
  rejections: Rejection[];
  health: SourceHealth;
  /** The source said nothing changed since its last good fetch. */
  unchanged: boolean;
  /** The rows are only what changed since the checkpoint (not a full snapshot). */
  incremental: boolean;
  /** Checkpoint to save once the rows are loaded. */
  checkpoint: string | null;
}

export interface IngestOptions {
  asOf: Date;
  revalidate: boolean;
  /** Fetch only these sources (--source); the others keep their last good data. All when undefined. */
  onlySources?: ReadonlySet<string>;
}

// biome-ignore lint/suspicious/noExplicitAny: see IngestedSource
type AnyAdapter = SourceAdapter<any, any>;

/** The vendor's own inputs come first: upstream sources are filtered to the packages data.json lists. */
const primarySource = "echo_data";

/**
 * Fetches every source. data.json first (its package list and open advisories steer the upstream
 * look-ups), then all the others concurrently. A source that fails is logged and recorded, and the run goes
 * on: the load stage keeps its last good snapshot in use.
 */
export async function ingestSources(
  db: Database,
  allAdapters: readonly AnyAdapter[],
  options: IngestOptions,
): Promise<IngestedSource[]> {
  const checkpoints = await readCheckpoints(db);
  const baseContext = { asOf: options.asOf, revalidate: options.revalidate };
  const selected = (adapter: AnyAdapter) => options.onlySources?.has(adapter.name) ?? true;
  const skipped = allAdapters
    .filter((adapter) => !selected(adapter))
    .map((adapter) => skipSource(adapter, options.asOf));
  const adapters = allAdapters.filter(selected);
  const primary = adapters.find((adapter) => adapter.name === primarySource);
  let primaryResult: IngestedSource | undefined;
  // The package and vulnerability of each data.json row (its first two landing columns), collected as they
  // stream by: reading them back from the staged table cost more than the fetch itself on the real data.
  const vendorScope = { packages: new Set<string>(), vulnIds: new Set<string>() };
  if (primary) {
    const stage = await RowStage.open(db, primary);
    primaryResult = await fetchSource(
      stage,
      primary,
      { ...baseContext, packages: null, vulnIds: null, openVulnIds: [], checkpoint: null },
      options.asOf,
      vendorScope,
    );
    if (!primaryResult.staged) await stage.drop(db);
  }
  const needsContext = adapters.some((adapter) => adapter.name !== primarySource && adapter.usesRunContext);
  const { packages, vulnIds } = needsContext
    ? primaryResult?.staged
      ? vendorScopeOrNone(vendorScope)
      : await listLastVendorScope(db)
    : { packages: null, vulnIds: null };
  const openAdvisories = needsContext ? await listOpenAdvisories(db, options.revalidate) : [];
  const openVulnIds = [...new Set(openAdvisories.map((advisory) => advisory.vuln_id))];
  // Read before the concurrent fetches: they share one database connection.
  const observed = new Map<string, ReadonlySet<string>>();
  for (const adapter of adapters) {
    if (adapter !== primary && adapter.usesRunContext) {
      observed.set(adapter.name, await listObservedVulnIds(db, adapter.name));
    }
  }
  // Opened before the concurrent fetches, and failed ones dropped after: see RowStage.
  const stages = new Map<AnyAdapter, RowStage>();
  for (const adapter of adapters) {
    if (adapter !== primary) stages.set(adapter, await RowStage.open(db, adapter));
  }
  const others = await Promise.all(
    [...stages].map(([adapter, stage]) =>
      fetchSource(
        stage,
        adapter,
        {
          ...baseContext,
          packages,
          vulnIds,
          openVulnIds,
          openAdvisories,
          checkpoint: options.revalidate ? null : (checkpoints.get(adapter.name) ?? null),
          observedVulnIds: observed.get(adapter.name) ?? null,
        },
        options.asOf,
      ),
    ),
  );
  for (const [index, stage] of [...stages.values()].entries()) {
    if (!others[index]?.staged) await stage.drop(db);
  }
  return [...(primaryResult ? [primaryResult] : []), ...others, ...skipped];
}

/** A source left out by --source: recorded as skipped, so its last good data stays in use without being stale. */
function skipSource(adapter: AnyAdapter, fetchedAt: Date): IngestedSource {
  log.info("source skipped (--source); its last good data stays in use", { source: adapter.name });
  return {
    adapter,
    fetchedAt,
    staged: undefined,
    rejections: [],
    health: {
      status: "skipped",
      observations: 0,
      rejected: 0,
      bytes: 0,
      requests: 0,
      retries: 0,
      durationMs: 0,
    },
    unchanged: false,
    incremental: false,
    checkpoint: null,
  };
}

async function fetchSource(
  stage: RowStage,
  adapter: AnyAdapter,
  context: FetchContext,
  fetchedAt: Date,
  scope?: { packages: Set<string>; vulnIds: Set<string> },
): Promise<IngestedSource> {
  const rejections: Rejection[] = [];
  let unchanged = false;
  let incremental = false;
  let checkpoint: string | null = null;
  try {
    for await (const item of adapter.fetch(context)) {
      switch (item.kind) {
        case "observation": {
          const row = adapter.toLandingRow(item.observation);
          stage.add(row, adapter.positionOf?.(item.observation));
          scope?.packages.add(String(row[0]));
          scope?.vulnIds.add(String(row[1]));
          break;
        }
        case "facts":
          if (!adapter.factsLanding) throw new Error(`${adapter.name} yields facts but has no facts table`);
          stage.addFacts(adapter.factsLanding.toLandingRow(item.facts));
          break;
        case "rejected":
          rejections.push(item.rejection);
          break;
        case "unchanged":
          unchanged = true;
          break;
        case "incremental":
          incremental = true;
          break;
        case "checkpoint":
          checkpoint = item.value;
          break;
      }
    }
    const staged = stage.finish();
    const health = adapter.health();
    log.info("source fetched", {
      source: adapter.name,
      observations: health.observations,
      rejected: health.rejected,
      bytes: health.bytes,
      requests: health.requests,
      unchanged,
      duration_ms: health.durationMs,
    });
    return { adapter, fetchedAt, staged, rejections, health, unchanged, incremental, checkpoint };
  } catch (error) {
    stage.abandon();
    log.error("source failed; its last good data stays in use", {
      source: adapter.name,
      error: errorMessage(error),
    });
    return {
      adapter,
      fetchedAt,
      staged: undefined,
      rejections,
      health: adapter.health(),
      unchanged: false,
      incremental: false,
      checkpoint: null,
    };
  }
}

/** Vulnerability ids a source has ever delivered an observation for. */
async function listObservedVulnIds(db: Database, source: string): Promise<ReadonlySet<string>> {
  const rows = await db.all<{ vuln_id: string }>(
    "select distinct vuln_id from landing.upstream_observations where source = ?",
    [source],
  );
  return new Set(rows.map((row) => row.vuln_id));
}

async function readCheckpoints(db: Database): Promise<Map<string, string>> {
  const rows = await db.all<{ source: string; checkpoint: string }>(
    "select source, checkpoint from meta.source_checkpoints",
  );
  return new Map(rows.map((row) => [row.source, row.checkpoint]));
}

type VendorScope = { packages: ReadonlySet<string> | null; vulnIds: ReadonlySet<string> | null };

/** This run's data.json scope; none (filter nothing) when it listed no advisory. */
function vendorScopeOrNone(scope: { packages: Set<string>; vulnIds: Set<string> }): VendorScope {
  return scope.packages.size === 0 ? { packages: null, vulnIds: null } : scope;
}

/**
 * Packages and vulnerability ids of the last good data.json, for a run whose data.json failed; none when
 * data.json was never loaded.
 */
async function listLastVendorScope(db: Database): Promise<VendorScope> {
  const pairs = await db.all<{ package_name: string; vuln_id: string }>(`
    select advisories.package_name, advisories.vuln_id
    from landing.echo_advisories as advisories
    inner join landing.snapshot_members as members on members.content_hash = advisories.content_hash
    where members.snapshot_hash = (
      select fetches.snapshot_hash from meta.source_fetches as fetches
      inner join meta.runs as runs on runs.run_id = fetches.run_id
      where fetches.source = 'echo_data' and fetches.snapshot_hash is not null
      order by runs.run_seq desc limit 1
    )`);
  if (pairs.length === 0) return { packages: null, vulnIds: null };
  return {
    packages: new Set(pairs.map((pair) => pair.package_name)),
    vulnIds: new Set(pairs.map((pair) => pair.vuln_id)),
  };
}

/**
 * Advisories the last run left in a non-final state (or, before any decision exists, every advisory
 * without a fixed version), as (package, vulnerability) pairs ordered by vulnerability id. Final ones are
 * only looked up again with --revalidate.
 */
async function listOpenAdvisories(
  db: Database,
  revalidate: boolean,
): Promise<{ package_name: string; vuln_id: string }[]> {
  const martExists = await db.one(
    "select 1 as found from information_schema.tables where table_schema = 'marts' and table_name = 'mart_advisory_current'",
  );
  const sql = martExists
    ? `select distinct cve_id as vuln_id, package_name from marts.mart_advisory_current ${revalidate ? "" : "where state_type = 'non_final'"} order by 1, 2`
    : "select distinct vuln_id, package_name from landing.echo_advisories where fixed_version is null order by 1, 2";
  const rows = await db.all<{ vuln_id: string; package_name: string }>(sql);
  return rows.map((row) => ({ package_name: row.package_name, vuln_id: row.vuln_id }));
}
