// What the advisory, CVE, package and search pages embed for their scripts (a <script type="application/json">,
// allowed by the CSP): how the data is sharded and the catalogue labels a person reads instead of codes.
import { overrideReasons, rules, signals, sources, states } from "./catalogue.ts";
import { dataLayout } from "./data-layout.ts";
import type { PageData } from "./data-types.ts";

/** The page data as JSON for a script element: "<" escaped so no value can close the element. */
export function pageDataJson(): string {
  const catalogue = rules();
  const data: PageData = {
    ...dataLayout(),
    states: Object.fromEntries(
      states().map((state) => [
        state.state,
        {
          label: state.label,
          description: state.description,
          action: state.customer_action,
          final: state.state_type === "final",
        },
      ]),
    ),
    sources: Object.fromEntries(sources().map((source) => [source.source, source.display_name])),
    rules: Object.fromEntries(catalogue.map((rule) => [rule.rule_id, rule.description])),
    reasons: Object.fromEntries(catalogue.map((rule) => [rule.reason_code, rule.customer_reason])),
    signals: Object.fromEntries(signals().map((signal) => [signal.signal, signal.label])),
    overrideReasons: overrideReasons().map((reason) => reason.customer_reason),
  };
  return JSON.stringify(data).replace(/</g, "\\u003c");
}
