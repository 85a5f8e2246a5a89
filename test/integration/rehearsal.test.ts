// The rehearsal of the scheduled workflow (npm run rehearse, tools/rehearse/rehearse.ts): four runs of its
// build job, each on a fresh clone of a temporary repository, the artifact handed to its publish job (the
// workflow's own shell steps, with only git and coreutils on PATH), and three tampered artifacts the publish
// job must refuse, with what each one commits checked.
import { beforeAll, describe, expect, it } from "vitest";
import { clocks, type RehearsalResult, rehearse, runIdOf } from "../../tools/rehearse/rehearse.ts";

describe("the scheduled job, rehearsed in a temporary repository", () => {
  let result: RehearsalResult;
  const run = (index: number) => {
    const found = result.runs[index];
    if (!found) throw new Error(`the rehearsal has no run ${index + 1}`);
    return found;
  };
  const firstId = runIdOf(clocks.first);
  const secondId = runIdOf(clocks.second);

  beforeAll(async () => {
    result = await rehearse({ log: () => {} });
  }, 900_000);

  it("passes every check of its own", () => {
    const failed = result.checks.filter((check) => !check.passed);
    expect(failed.map((check) => `${check.name}: ${check.detail}`)).toEqual([]);
    expect(result.checks.length).toBeGreaterThanOrEqual(28);
  });

  it("commits exactly the published files with a message naming the run and its counts", () => {
    const first = run(0).published;
    expect(first?.files).toEqual([
      "output/advisory_current.json",
      "output/changes.atom",
      `output/changes/${firstId}.json`,
      "output/cve_facts.json",
      "output/data.json",
      `output/history/runs/${firstId}.json`,
      `output/history/transitions/${firstId}.jsonl`,
      "output/openvex.json",
      `output/run_report_${firstId}.md`,
      "output/run_summary.json",
    ]);
    expect(first?.subject).toBe(
      `Advisory run ${firstId}: 177 advisories (118 fixed, 26 not applicable, 2 wont fix, 4 pending upstream, 27 under investigation); 177 decision changes`,
    );
    expect(first?.body).toContain("(new) -> fixed: 118");
    expect(first?.body).toContain(`Report: run_report_${firstId}.md`);
    expect(run(1).published?.subject).toBe(
      `Advisory run ${secondId}: 177 advisories (118 fixed, 27 not applicable, 2 wont fix, 4 pending upstream, 26 under investigation); 1 decision change`,
    );
    expect(run(1).published?.body).toContain("under_investigation -> not_applicable: 1");
  });

  it("the second run started without a database and continued the history the first committed", () => {
    expect(run(1).startedWithoutState).toBe(true);
    expect(run(1).ledgerFiles).toEqual([`${firstId}.jsonl`, `${secondId}.jsonl`]);
    expect(result.secondRunTransitions).toEqual([
      expect.objectContaining({
        run_id: secondId,
        advisory_id: result.overriddenAdvisory,
        from_state: "under_investigation",
        to_state: "not_applicable",
        rule_id: "analyst_override",
      }),
    ]);
    expect(result.changedDecisions).toEqual([result.overriddenAdvisory]);
  });

  it("hands the build's publication to the publish job, which checks it, commits and pushes with git alone", () => {
    const names = run(1).publish.map((step) => [step.name, step.exitCode]);
    expect(names).toEqual([
      ["Check the publication against the build job's manifest", 0],
      ["Commit the published files", 0],
      ["Push the commit", 0],
    ]);
    expect(run(1).manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(run(1).publish[0]?.output).toContain(`(${run(1).manifestSha256})`);
    // The branch moved while the run worked: rejected once, rebased, pushed.
    expect(run(1).push.output).toContain("rejected: rebasing onto it once");
    expect(run(1).push.output).not.toContain("rehearsal-token");
  });

  it("refuses a tampered artifact before it commits anything", () => {
    expect(
      result.tampered.map((outcome) => [outcome.pushed, outcome.steps.length, outcome.steps[0]?.exitCode]),
    ).toEqual([
      [false, 1, 1],
      [false, 1, 1],
      [false, 1, 1],
      [false, 1, 1],
    ]);
    expect(result.tampered[0]?.steps[0]?.output).toContain("does not match SHA256SUMS");
    expect(result.tampered[1]?.steps[0]?.output).toContain("is not the manifest the build job wrote");
    expect(result.tampered[2]?.steps[0]?.output).toMatch(/outside (files\/)?output\//);
    // A last line without a line end, naming a folder outside output/, is refused before any rm -rf.
    expect(result.tampered[3]?.steps[0]?.output).toContain("paths.txt does not end with a line end");
  });

  it("refuses to push onto a branch whose history was rewritten while the run worked", () => {
    expect(result.rewrite.steps.map((step) => step.exitCode)).toEqual([0, 0, 1]);
    expect(result.rewrite.steps[2]?.output).toContain("its history was rewritten");
    expect(result.rewrite.pushed).toBe(false);
  });

  it("commits nothing when nothing changed, or when the publish guard refused", () => {
    expect(run(2)).toMatchObject({ published: null, run: { exitCode: 0 } });
    expect(run(2).commit.output).toContain("Nothing to commit");
    expect(run(2).push.output).toContain("Nothing to push");
    expect(run(3)).toMatchObject({ published: null, run: { exitCode: 3 }, publish: [] });
    expect(run(3).stage.exitCode).not.toBe(0);
    expect(run(3).stage.output).toContain("refused by the publish guard");
    expect(run(3).stepSummary).toContain("NOT published (exit 3)");
    // Origin ends with the refused run's input change on top of the second run's commit: nothing after it.
    expect(result.originLog[0]).toContain("A data.json missing half its packages");
    expect(result.originLog[1]).toContain(`Advisory run ${secondId}`);
  });

  // The second run has no database (a CI runner whose cache of .state/live is missing): each evidence's
  // fetched_at and the "since <date>" of explanations come back from the published advisory_current.json and
  // the history, so only the advisory whose decision changed gets a new line.
  it("a run on a fresh machine leaves the lines of unchanged advisories byte-identical", () => {
    expect(result.rewrittenAdvisoryLines).toBe(1);
  });
});
