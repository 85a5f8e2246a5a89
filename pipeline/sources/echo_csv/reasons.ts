import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { errorMessage, PipelineError } from "../../lib/errors.ts";

/**
 * The reason codes a not-applicable row may give, as the dbt seed the models map them with defines them:
 * the seed is the one list, read by the pipeline's adapter and by the pull-request check alike.
 */
export const overrideReasonsSeed = "seeds/override_reasons.csv";

/** The seed's internal_status codes, in its order; a seed that cannot be read or lists none is an error. */
export async function readOverrideReasonCodes(dbtProjectDir: string): Promise<string[]> {
  const file = join(dbtProjectDir, overrideReasonsSeed);
  let rows: Record<string, string>[];
  try {
    rows = parse(await readFile(file, "utf8"), { columns: true, skip_empty_lines: true, trim: true });
  } catch (error) {
    throw new PipelineError(`cannot read the override reason codes: ${errorMessage(error)}`, {
      location: { file },
    });
  }
  const codes = rows.map((row) => row.internal_status ?? "").filter((code) => code !== "");
  if (codes.length === 0) {
    throw new PipelineError("the seed lists no internal_status code", {
      location: { file },
      hint: "its header is internal_status,customer_reason,vex_justification",
    });
  }
  return codes;
}

/** The rejection of a row whose code the seed does not know: the same words in the pipeline and the check. */
export function unknownReasonCode(code: string, known: readonly string[]): string {
  return `unknown reason code ${JSON.stringify(code)} (allowed: ${known.join(", ")})`;
}
