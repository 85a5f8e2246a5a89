// config.live.yaml, the configuration the scheduled job runs: it loads, and it points where the job and its
// commit step expect (live sources, the repository's overrides CSV, state under .state/, output in output/).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultConfigPath } from "../../pipeline/ops/scheduled.ts";
import { loadConfig } from "../../pipeline/stages/config.ts";
import { repoRoot } from "../helpers/workspace.ts";

describe("config.live.yaml", () => {
  it("is the config the scheduled steps use unless ECHO_CONFIG says otherwise", () => {
    expect(defaultConfigPath).toBe("config.live.yaml");
  });

  it("loads, reading the vendor's data.json from its URL and the overrides from the repository", async () => {
    const config = await loadConfig(join(repoRoot, "config.live.yaml"));
    expect(config.sources.echo_data).toEqual({
      enabled: true,
      location: "https://advisory.echohq.com/data.json",
    });
    expect(config.sources.echo_csv).toEqual({
      enabled: true,
      location: join(repoRoot, "overrides/advisory_not_applicable.csv"),
    });
  });

  it("reads every upstream source live, the NVD key from NVD_API_KEY", async () => {
    const { sources } = await loadConfig(join(repoRoot, "config.live.yaml"));
    for (const source of [sources.debian_tracker, sources.osv, sources.nvd, sources.kev]) {
      expect(source).toMatchObject({ enabled: true, mode: "live" });
      expect(source?.location).toBeUndefined();
    }
    expect(sources.nvd?.api_key_env).toBe("NVD_API_KEY");
    expect(sources.debian_tracker?.releases).toEqual(["bookworm", "trixie", "sid"]);
  });

  it("keeps its working state under .state/ and publishes into output/, the history beside it", async () => {
    const config = await loadConfig(join(repoRoot, "config.live.yaml"));
    expect(config.database.startsWith(join(repoRoot, ".state/"))).toBe(true);
    expect(config.http.cache_dir.startsWith(join(repoRoot, ".state/"))).toBe(true);
    // The job caches .state/live whole: the database and the HTTP cache must be kept or lost together.
    expect(config.database.startsWith(join(repoRoot, ".state/live/"))).toBe(true);
    expect(config.http.cache_dir.startsWith(join(repoRoot, ".state/live/"))).toBe(true);
    expect(config.output_dir).toBe(join(repoRoot, "output"));
    expect(config.history_dir).toBe(join(repoRoot, "output/history"));
    expect(config.site.public_url).toBeUndefined();
  });

  it("uses a different database and output than the bundled sample (config.yaml)", async () => {
    const live = await loadConfig(join(repoRoot, "config.live.yaml"));
    const sample = await loadConfig(join(repoRoot, "config.yaml"));
    expect(live.database).not.toBe(sample.database);
    expect(sample.output_dir).toBe(join(repoRoot, "output/sample"));
    expect(sample.history_dir.startsWith(live.output_dir)).toBe(true);
    expect(sample.history_dir).not.toBe(live.history_dir);
  });

  it("starts the overrides CSV with its header row only", async () => {
    const csv = await readFile(join(repoRoot, "overrides/advisory_not_applicable.csv"), "utf8");
    expect(csv).toBe('"cve_id","package","status","fixed_version","internal_status"\n');
  });
});
