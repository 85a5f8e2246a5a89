import { z } from "zod";
import { defaultDebianReleases } from "../debian.ts";
import { upstreamSettings } from "../settings.ts";

/** `sources.debian_tracker` in config.yaml. */
export const debianTrackerSettings = z
  .object({
    ...upstreamSettings,
    /** Releases whose verdicts count, most preferred first. */
    releases: z
      .array(z.string().regex(/^[a-z]+$/, "must be a Debian codename"))
      .min(1)
      .default([...defaultDebianReleases]),
  })
  .strict();
export type DebianTrackerConfig = z.infer<typeof debianTrackerSettings>;
