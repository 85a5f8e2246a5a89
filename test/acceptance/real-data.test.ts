import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countStates, createWorkspace, sharedDataDir, type Workspace } from "../helpers/workspace.ts";

const dataJson = join(sharedDataDir, "echo/data.json");
const csv = join(sharedDataDir, "echo/advisory_not_applicable.csv");
const sharedPresent = existsSync(dataJson) && existsSync(csv);

if (!sharedPresent) {
  console.warn(
    `real-data acceptance skipped: ${sharedDataDir} is absent (it sits beside the repository in CI)`,
  );
}

describe.skipIf(!sharedPresent)("acceptance on the vendor's real snapshot (../shared/data/echo)", () => {
  let workspace: Workspace;
  let run: Awaited<ReturnType<Workspace["run"]>>;

  beforeAll(async () => {
    workspace = await createWorkspace();
    await workspace.writeConfig({ dataJson, csv });
    run = await workspace.run(["--as-of", "2026-02-01T00:00:00Z"]);
  });
  afterAll(() => workspace.cleanup());

  it("decides all 40,625 advisories: 1,969 not_applicable, 36,515 fixed, 2,141 under_investigation", async () => {
    expect(run.exitCode).toBe(0);
    const document = await workspace.readAdvisoryCurrent();
    expect(document.advisory_count).toBe(40_625);
    expect(countStates(document)).toEqual({
      not_applicable: 1_969,
      fixed: 36_515,
      under_investigation: 2_141,
    });
    expect(run.stdout).toContain("Checks: 5 passed, 0 failed");
  });

  it("adds no landing rows on a second run of the same input", async () => {
    const before = await workspace.landingCounts();
    expect(before).toMatchObject({ echo_advisories: 40_625, echo_not_applicable: 1_969 });
    const again = await workspace.run(["--as-of", "2026-02-01T00:00:00Z"]);
    expect(again.exitCode).toBe(0);
    expect(await workspace.landingCounts()).toEqual(before);
  });
});
