import { z } from "zod";
import { upstreamSettings } from "../settings.ts";

/** `sources.osv` in config.yaml. */
export const osvSettings = z
  .object({
    ...upstreamSettings,
    ecosystems: z
      .array(z.string().regex(/^Debian:\d+$/, "must be an OSV Debian ecosystem such as Debian:12"))
      .min(1)
      .default(["Debian:12", "Debian:13"]),
    api_url: z.url().default("https://api.osv.dev"),
    /** Per-id look-ups (querybatch + vulns/{id}) only for this many open advisories at most. */
    lookup_limit: z.number().int().min(0).default(1000),
  })
  .strict();
export type OsvConfig = z.infer<typeof osvSettings>;
