import { z } from "zod";
import { upstreamSettings } from "../settings.ts";

/** `sources.nvd` in config.yaml. */
export const nvdSettings = z
  .object({
    ...upstreamSettings,
    /** Environment variable holding the API key; the key itself never goes in the config. */
    api_key_env: z.string().default("NVD_API_KEY"),
    window_days: z.number().int().min(1).max(120, "NVD accepts windows of at most 120 days").default(120),
    results_per_page: z
      .number()
      .int()
      .min(1)
      .max(2000, "NVD serves at most 2000 results a page")
      .default(2000),
    /** Per-CVE look-ups only for this many open advisories at most; more are paged by window. */
    lookup_limit: z.number().int().min(0).default(50),
    /** Requests per rolling 30 s; defaults to NVD's published limits (5, or 50 with a key). 0 = unlimited. */
    requests_per_30s: z.number().int().min(0).optional(),
  })
  .strict();
export type NvdConfig = z.infer<typeof nvdSettings>;
