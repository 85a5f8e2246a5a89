// The decision catalogue as the dbt models read it (dbt_project/seeds), for pages that explain the data.
// Read, never restated: a rule or state added to a seed shows up here on the next build.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "csv-parse/sync";

const seedsDir = resolve(process.env.ECHO_SEEDS_DIR ?? "dbt_project/seeds");

function readSeed<Row>(name: string): Row[] {
  return parse(readFileSync(resolve(seedsDir, `${name}.csv`), "utf8"), {
    columns: true,
    skip_empty_lines: true,
  }) as Row[];
}

export interface Rule {
  priority: string;
  rule_id: string;
  state: string;
  state_type: string;
  reason_code: string;
  confidence: string;
  vex_status: string;
  vex_justification: string;
  explanation_template: string;
  description: string;
  customer_reason: string;
}

export interface AdvisoryState {
  state: string;
  state_type: string;
  lifecycle_order: string;
  label: string;
  description: string;
  customer_action: string;
}

export interface Signal {
  signal: string;
  label: string;
  description: string;
}

export interface Source {
  source: string;
  display_name: string;
  precedence: string;
  is_complete_listing: string;
  description: string;
}

export interface OverrideReason {
  internal_status: string;
  customer_reason: string;
  vex_justification: string;
}

export const rules = (): Rule[] =>
  readSeed<Rule>("rule_catalogue").sort((a, b) => Number(a.priority) - Number(b.priority));
export const states = (): AdvisoryState[] =>
  readSeed<AdvisoryState>("advisory_states").sort(
    (a, b) => Number(a.lifecycle_order) - Number(b.lifecycle_order),
  );
export const sources = (): Source[] =>
  readSeed<Source>("source_catalogue").sort((a, b) => Number(a.precedence) - Number(b.precedence));
export const overrideReasons = (): OverrideReason[] => readSeed<OverrideReason>("override_reasons");
export const signals = (): Signal[] => readSeed<Signal>("signal_catalogue");
