import { z } from "zod";

/** Whether a location is an http(s) URL (kept as is) rather than a local path (resolved against the config). */
export function isUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/**
 * A local path (resolved against the config file) or an http(s) URL (kept as is). Control characters
 * (a NUL cuts a path short in the file system) and absurd lengths are refused here, not at read time.
 */
export const location = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(4096, "must be at most 4096 characters")
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters");

/**
 * How an upstream source is read: `live` from its public service, `file` from a recorded snapshot at
 * `location`, `mock` from the small sample bundled in the source's own folder (pipeline/sources/<name>/mock).
 */
export const sourceModes = ["live", "file", "mock"] as const;
export type SourceMode = (typeof sourceModes)[number];

/** The keys of the vendor's own inputs (data.json, the CSV): read from `location` every run. */
export const inputSettings = {
  enabled: z.boolean().default(true),
  location,
};

/** The keys every upstream source has; each source's folder adds its own (config.ts there). */
export const upstreamSettings = {
  enabled: z.boolean().default(false),
  mode: z.enum(sourceModes).default("mock"),
  /** file mode: the snapshot; live mode: overrides the service URL. */
  location: location.optional(),
  /** Older than this, a source's last good data is reported stale. */
  max_age_hours: z.number().positive().default(48),
};

/** The config's `http` section: how the shared HTTP client behaves for every live source. */
export const httpSettings = z
  .object({
    cache_dir: z.string().trim().min(1).default(".state/http-cache"),
    timeout_ms: z.number().int().positive().default(60_000),
    max_attempts: z.number().int().min(1).max(20).default(6),
    max_response_mb: z.number().positive().default(1024),
  })
  .strict();
export type HttpSettings = z.infer<typeof httpSettings>;
