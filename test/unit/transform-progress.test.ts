import { describe, expect, it } from "vitest";
import { countFinishedNodes } from "../../pipeline/stages/transform.ts";

describe("dbt progress counting", () => {
  it("counts one finished node per result event in dbt's JSON log, whatever the node kind", () => {
    const chunk = [
      '{"info": {"name": "MainReportVersion", "level": "info"}}',
      '{"info": {"name": "LogModelResult", "level": "info"}}',
      '{"info": {"name": "LogTestResult", "level": "info"}}',
      '{"info": {"name": "LogSeedResult", "level": "info"}}',
      '{"info": {"name": "NodeStart", "level": "debug"}}',
    ].join("\n");
    expect(countFinishedNodes(chunk)).toBe(3);
    expect(countFinishedNodes("")).toBe(0);
  });
});
