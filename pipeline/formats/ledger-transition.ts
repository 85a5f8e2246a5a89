import { z } from "zod";
import { advisoryIdSchema } from "./advisory.ts";
import { runIdSchema } from "./run-id.ts";

/**
 * One line of a ledger file (<history>/transitions/<run id>.jsonl, ledger.ts): one change of one advisory's
 * decision. No Node.js imports: the site's browser scripts import the type too.
 */
const nullableText = z.string().min(1).nullable();

export const ledgerTransition = z
  .object({
    run_id: runIdSchema,
    as_of: z.iso.datetime({ offset: true }),
    advisory_id: advisoryIdSchema,
    from_state: nullableText,
    to_state: nullableText,
    state_type: z.enum(["final", "non_final"]).nullable(),
    rule_id: nullableText,
    reason_code: nullableText,
    fixed_version: nullableText,
    unaffected_from_version: nullableText,
    confidence: z.number().min(0).max(1).nullable(),
    deciding_source: nullableText,
    evidence: z
      .object({
        signal: nullableText,
        version: nullableText,
        reason: nullableText,
        release: nullableText,
        record: nullableText,
        date: z.iso.datetime({ offset: true }).nullable(),
        fetched_at: z.iso.datetime({ offset: true }).nullable(),
        stale: z.boolean(),
      })
      .strict()
      .nullable(),
    contributing_sources: z.array(z.string()),
    dissenting_sources: z.array(z.string()),
  })
  .strict();
export type LedgerTransition = z.infer<typeof ledgerTransition>;
