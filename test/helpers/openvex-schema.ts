// The OpenVEX checks the unit and integration tests share: our own JSON Schema of OpenVEX v0.2.0 (written
// from the specification: the official one is not in a package, and tests never touch the network), and the
// rule catalogue's OpenVEX status and justification per rule.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import ajvFormats from "ajv-formats";
import { parse } from "csv-parse/sync";
import type { VexDecision } from "../../pipeline/stages/export/openvex.ts";
import { repoRoot } from "./workspace.ts";

const schema = JSON.parse(
  readFileSync(join(repoRoot, "test/schemas/openvex-v0.2.0.schema.json"), "utf8"),
) as object;
// Strict, except for `required` in if/then/anyOf branches, which name properties declared one level up.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
// ajv-formats is CommonJS: Node's default import is module.exports, whose `default` is the plugin.
ajvFormats.default(ajv);
const validate = ajv.compile(schema);

export function schemaErrors(document: unknown): ErrorObject[] {
  return validate(document) ? [] : (validate.errors ?? []);
}

/** The rule catalogue seed, read as dbt reads it: rule_id → OpenVEX status and justification. */
export function catalogue(): Map<string, VexDecision> {
  const rows = parse(readFileSync(join(repoRoot, "dbt_project/seeds/rule_catalogue.csv"), "utf8"), {
    columns: true,
    skip_empty_lines: true,
  }) as { rule_id: string; vex_status: string; vex_justification: string }[];
  return new Map(
    rows.map((row) => [
      row.rule_id,
      { status: row.vex_status, justification: row.vex_justification || null },
    ]),
  );
}
