// The scheduled job's messages (pipeline/ops/scheduled.ts): the commit message, the step summary and the
// path the site is served under. The steps themselves run in test/integration/rehearsal.test.ts.
import { describe, expect, it } from "vitest";
import type { RunSummaryJson } from "../../pipeline/formats/run-summary.ts";
import {
  commitMessage,
  describeCounts,
  pagesBase,
  stepSummaryMarkdown,
} from "../../pipeline/ops/scheduled.ts";

function summary(overrides: Partial<RunSummaryJson> = {}): RunSummaryJson {
  return {
    run_id: "20261127T060000Z",
    status: "succeeded",
    advisory_count: 40_625,
    state_distribution: [
      { state: "under_investigation", state_type: "non_final", count: 2_141 },
      { state: "fixed", state_type: "final", count: 36_515 },
      { state: "not_applicable", state_type: "final", count: 1_969 },
      { state: "wont_fix", state_type: "final", count: 0 },
    ],
    transitions: [
      { from: "under_investigation", to: "fixed", count: 10 },
      { from: null, to: "under_investigation", count: 2 },
    ],
    publish_guard: { state_changes: 12, previously_listed: 40_623, mass_change_accepted: false, reasons: [] },
    checks: [{ check_id: "regressions", severity: "warn", passed: true, failing_count: 0, examples: [] }],
    ...overrides,
  } as unknown as RunSummaryJson;
}

describe("the commit message", () => {
  it("names the run, its advisories by state (in lifecycle order, none left out but the empty) and the changes", () => {
    expect(commitMessage(summary()).subject).toBe(
      "Advisory run 20261127T060000Z: 40,625 advisories (36,515 fixed, 1,969 not applicable, 2,141 under investigation); 12 decision changes",
    );
  });

  it("lists the changes by kind, warnings and the report in its body", () => {
    const { body } = commitMessage(
      summary({
        checks: [
          { check_id: "stalled_advisories", severity: "warn", passed: false, failing_count: 3, examples: [] },
        ],
      }),
    );
    expect(body).toBe(
      [
        "Decision changes:",
        "  under_investigation -> fixed: 10",
        "  (new) -> under_investigation: 2",
        "",
        "Warnings: stalled_advisories (3)",
        "",
        "Report: run_report_20261127T060000Z.md",
      ].join("\n"),
    );
  });

  it("speaks in the singular of one change and says when a mass change was accepted", () => {
    const one = summary({
      advisory_count: 1,
      state_distribution: [{ state: "fixed", state_type: "final", count: 1 }],
      transitions: [{ from: "pending_upstream", to: "fixed", count: 1 }],
      publish_guard: { state_changes: 1, previously_listed: 1, mass_change_accepted: true, reasons: [] },
    });
    expect(describeCounts(one)).toBe("1 advisory (1 fixed); 1 decision change");
    expect(commitMessage(one).body).toContain("Published with --accept-mass-change (1 state changes).");
    expect(describeCounts(summary({ transitions: [] }))).toMatch(/; 0 decision changes$/);
  });
});

describe("the step summary", () => {
  it("says a run was published, with its counts", () => {
    expect(stepSummaryMarkdown(0, summary())).toBe(
      "### Advisory run 20261127T060000Z: published\n\n40,625 advisories (36,515 fixed, 1,969 not applicable, 2,141 under investigation); 12 decision changes.\n",
    );
  });

  it("says a refused run was not published, why, and how to publish it anyway", () => {
    const text = stepSummaryMarkdown(
      3,
      summary({
        status: "blocked",
        publish_guard: {
          state_changes: 9_000,
          previously_listed: 40_625,
          mass_change_accepted: false,
          reasons: ["9000 of 40625 advisories (22.2 %) would change state"],
        },
      }),
    );
    expect(text).toContain("### Advisory run 20261127T060000Z: NOT published (exit 3)");
    expect(text).toContain("- 9000 of 40625 advisories (22.2 %) would change state");
    expect(text).toContain('"accept mass change"');
  });

  it("says a run that wrote no summary failed", () => {
    expect(stepSummaryMarkdown(1, undefined)).toContain("### Advisory pipeline run failed (exit 1)");
  });
});

describe("the site's path on GitHub Pages", () => {
  it("is /<repository>/, / for a user or organisation site, and ECHO_SITE_BASE when that is set", () => {
    expect(pagesBase({ GITHUB_REPOSITORY: "acme/echo-advisory" })).toBe("/echo-advisory/");
    expect(pagesBase({ GITHUB_REPOSITORY: "Acme/acme.github.io" })).toBe("/");
    expect(pagesBase({ GITHUB_REPOSITORY: "acme/echo-advisory", ECHO_SITE_BASE: "/" })).toBe("/");
    expect(pagesBase({ ECHO_SITE_BASE: "" })).toBe("/");
  });
});
