// Groups a run's transitions by (from, to, rule) as they stream by, for the run pages.
import type { LedgerTransition } from "../../../pipeline/formats/ledger-transition.ts";

export interface TransitionGroup {
  from: string | null;
  to: string | null;
  rule: string | null;
  count: number;
  /** The first advisories of the group, by advisory id (at most the limit asked for). */
  advisories: string[];
}

/** Advisories listed per group: a first run on real data puts 40,000 in one group; a page stays small. */
export const groupListLimit = 200;

/**
 * Groups transitions as they stream by, keeping each group's count and only its first advisory ids (at
 * most twice the limit between trims), so a million transitions never sit in memory together.
 */
export class TransitionGrouper {
  count = 0;
  private readonly byKey = new Map<string, TransitionGroup>();
  private readonly limit: number;

  /** `limit`: how many advisory ids each group lists. */
  constructor(limit: number) {
    this.limit = limit;
  }

  add(transition: LedgerTransition): void {
    this.count += 1;
    const key = JSON.stringify([transition.from_state, transition.to_state, transition.rule_id]);
    let group = this.byKey.get(key);
    if (!group) {
      group = {
        from: transition.from_state,
        to: transition.to_state,
        rule: transition.rule_id,
        count: 0,
        advisories: [],
      };
      this.byKey.set(key, group);
    }
    group.count += 1;
    group.advisories.push(transition.advisory_id);
    if (group.advisories.length >= 2 * this.limit) group.advisories = firstIds(group.advisories, this.limit);
  }

  /** The groups, largest first, each listing its first advisory ids in order. */
  groups(): TransitionGroup[] {
    const text = (value: string | null) => value ?? "";
    return [...this.byKey.values()]
      .sort(
        (a, b) =>
          b.count - a.count ||
          text(a.from).localeCompare(text(b.from)) ||
          text(a.to).localeCompare(text(b.to)) ||
          text(a.rule).localeCompare(text(b.rule)),
      )
      .map((group) => ({ ...group, advisories: firstIds(group.advisories, this.limit) }));
  }
}

/** The first `limit` ids in sort order (the order the page lists them in). */
function firstIds(ids: string[], limit: number): string[] {
  return ids.sort().slice(0, limit);
}
