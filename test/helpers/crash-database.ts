import { withDatabase } from "../../pipeline/lib/db.ts";

export interface RunRow {
  run_id: string;
  run_seq: number;
  status: string;
}

/** What a database left by a killed run holds, read the way any reader (or the next run) opens it. */
export interface DatabaseState {
  runs: RunRow[];
  /** Landing snapshots whose member list is missing: a delivery landed by halves. */
  snapshotsWithoutMembers: string[];
  /** Snapshot members whose observation is in no landing table. */
  membersWithoutObservation: number;
  /** history.advisory_transitions rows per run, as restored from the history files. */
  restoredTransitions: Record<string, number>;
}

export async function readDatabaseState(path: string): Promise<DatabaseState> {
  return withDatabase(path, async (db) => {
    const runs = await db.all<RunRow>("select run_id, run_seq, status from meta.runs order by run_seq");
    const snapshots = await db.all<{ snapshot_hash: string }>(
      `select snapshot_hash from landing.snapshots
       where snapshot_hash not in (select snapshot_hash from landing.snapshot_members)
       order by 1`,
    );
    const orphans = await db.one<{ n: number }>(
      `select count(*)::integer as n from landing.snapshot_members
       where content_hash not in (select content_hash from landing.echo_advisories)
         and content_hash not in (select content_hash from landing.echo_not_applicable)
         and content_hash not in (select content_hash from landing.upstream_observations)
         and content_hash not in (select content_hash from landing.cve_facts)`,
    );
    const restored = await db.all<{ run_id: string; n: number }>(
      "select run_id, count(*)::integer as n from history.advisory_transitions group by run_id order by run_id",
    );
    return {
      runs,
      snapshotsWithoutMembers: snapshots.map((row) => row.snapshot_hash),
      membersWithoutObservation: orphans?.n ?? 0,
      restoredTransitions: Object.fromEntries(restored.map((row) => [row.run_id, row.n])),
    };
  });
}

export interface TransitionKey {
  run_id: string;
  advisory_id: string;
  from_state: string | null;
  to_state: string | null;
  rule_id: string | null;
}

export interface HistoryPeriod {
  advisory_id: string;
  state: string;
  valid_from_run_id: string;
  valid_to_run_id: string | null;
}

/** The decision ledger as the database holds it after a completed run: every run's transitions, and periods. */
export async function readDatabaseLedger(
  path: string,
): Promise<{ transitions: TransitionKey[]; periods: HistoryPeriod[]; current: Record<string, string> }> {
  return withDatabase(path, async (db) => {
    const transitions = await db.all<TransitionKey>(
      `select run_id, advisory_id, from_state, to_state, rule_id from marts.mart_advisory_transitions
       order by run_id, advisory_id`,
    );
    const periods = await db.all<HistoryPeriod>(
      `select advisory_id, state, valid_from_run_id, valid_to_run_id from marts.mart_advisory_history
       order by advisory_id, valid_from, valid_from_run_id`,
    );
    const current = await db.all<{ advisory_id: string; state: string }>(
      "select advisory_id, state from marts.mart_advisory_current",
    );
    return {
      transitions,
      periods,
      current: Object.fromEntries(current.map((row) => [row.advisory_id, row.state])),
    };
  });
}

/**
 * Breaks in an advisory's decision history: two periods starting in the same run, a period that does not
 * end where the next begins, or a current period that is not the advisory's published state.
 */
export function periodProblems(periods: readonly HistoryPeriod[], current: Record<string, string>): string[] {
  const problems: string[] = [];
  const byAdvisory = Map.groupBy(periods, (period) => period.advisory_id);
  for (const [advisoryId, list] of byAdvisory) {
    list.forEach((period, index) => {
      const next = list[index + 1];
      if (next && next.valid_from_run_id === period.valid_from_run_id) {
        problems.push(`${advisoryId}: two periods from run ${period.valid_from_run_id}`);
      }
      if (next && period.valid_to_run_id !== next.valid_from_run_id) {
        problems.push(
          `${advisoryId}: a period ends at ${period.valid_to_run_id}, the next starts at ${next.valid_from_run_id}`,
        );
      }
    });
    const last = list.at(-1);
    if (last?.valid_to_run_id === null && current[advisoryId] !== last.state) {
      problems.push(`${advisoryId}: current period ${last.state}, published ${current[advisoryId]}`);
    }
  }
  for (const advisoryId of Object.keys(current)) {
    if (byAdvisory.get(advisoryId)?.at(-1)?.valid_to_run_id !== null) {
      problems.push(`${advisoryId}: published without a current period`);
    }
  }
  return problems;
}
