import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { PipelineError } from "../lib/errors.ts";

/**
 * A local path (resolved against the config file) or an http(s) URL (kept as is). Control characters
 * (a NUL cuts a path short in the file system) and absurd lengths are refused here, not at read time.
 */
const location = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(4096, "must be at most 4096 characters")
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters");

const sourceBase = {
  enabled: z.boolean().default(true),
  location,
};

/**
 * How an upstream source is read: `live` from its public service, `file` from a recorded snapshot at
 * `location`, `mock` from the small sample bundled with the repository (test/fixtures/sample/upstream).
 */
export const sourceModes = ["live", "file", "mock"] as const;

const upstreamBase = {
  enabled: z.boolean().default(false),
  mode: z.enum(sourceModes).default("mock"),
  /** file mode: the snapshot; live mode: overrides the service URL. */
  location: location.optional(),
  /** Older than this, a source's last good data is reported stale. */
  max_age_hours: z.number().positive().default(48),
};

const upstreamSources = z
  .object({
    debian_tracker: z
      .object({
        ...upstreamBase,
        releases: z
          .array(z.string().regex(/^[a-z]+$/, "must be a Debian codename"))
          .min(1)
          .default(["bookworm", "trixie", "sid"]),
      })
      .strict()
      .optional(),
    osv: z
      .object({
        ...upstreamBase,
        ecosystems: z
          .array(z.string().regex(/^Debian:\d+$/, "must be an OSV Debian ecosystem such as Debian:12"))
          .min(1)
          .default(["Debian:12", "Debian:13"]),
        api_url: z.url().default("https://api.osv.dev"),
        /** Per-id look-ups (querybatch + vulns/{id}) only for this many open advisories at most. */
        lookup_limit: z.number().int().min(0).default(1000),
      })
      .strict()
      .optional(),
    nvd: z
      .object({
        ...upstreamBase,
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
      .strict()
      .optional(),
  })
  .strict();

const httpSettings = z
  .object({
    cache_dir: z.string().trim().min(1).default(".state/http-cache"),
    timeout_ms: z.number().int().positive().default(60_000),
    max_attempts: z.number().int().min(1).max(20).default(6),
    max_response_mb: z.number().positive().default(1024),
  })
  .strict();

/** Every quality check the quality stage runs (pipeline/stages/quality.ts), by id. */
export const qualityCheckIds = [
  "advisory_fields_complete",
  "advisory_ids_unique",
  "final_states_have_evidence",
  "stalled_advisories",
  "regressions",
  "source_record_drop",
  "source_staleness",
  "sources_fetched",
  "input_records_accepted",
  "override_rows_match_advisories",
  "override_rows_unique",
] as const;
export type QualityCheckId = (typeof qualityCheckIds)[number];

/** A size DuckDB's memory_limit accepts: decimal (KB, MB, GB, TB) or binary (KiB … TiB) units. */
const duckdbMemorySize = /^\d+(?:\.\d+)?\s*(?:[KMGT]B|[KMGT]iB)$/;
const memorySizeMessage = 'must be a size with its unit, such as "2GB" or "1.5GiB"';
export const defaultDuckdbMemoryLimit = "1.5GB";

export const configSchema = z
  .object({
    database: z.string().trim().min(1, "must not be empty").default(".state/echo-advisory.duckdb"),
    output_dir: z.string().trim().min(1, "must not be empty").default("output"),
    /**
     * The decision history: one small JSON Lines file per run that changed something. It is what restores
     * history on a machine without the database, so it must be kept (committed or cached) between runs.
     * Default: <output_dir>/history.
     */
    history_dir: z.string().trim().min(1, "must not be empty").optional(),
    duckdb: z
      .object({
        /**
         * DuckDB's memory cap, for the pipeline's own connection and for dbt's: work larger than this spills
         * to a folder beside the database instead of growing the process (25× the vendor's data took 7 GB
         * without it).
         */
        memory_limit: z
          .string({ error: memorySizeMessage })
          .trim()
          .regex(duckdbMemorySize, memorySizeMessage)
          .default(defaultDuckdbMemoryLimit),
      })
      .strict()
      .default({ memory_limit: defaultDuckdbMemoryLimit }),
    site: z
      .object({
        /** Public address of the published site; history_url in advisory_current.json is absolute under it. */
        public_url: z.url().optional(),
      })
      .strict()
      .default({}),
    dbt: z
      .object({
        project_dir: z.string().trim().min(1).default("dbt_project"),
        executable: z.string().trim().min(1).default("dbt_project/.venv/bin/dbt"),
        threads: z.number().int().min(1).max(64).default(2),
      })
      .strict()
      .default({ project_dir: "dbt_project", executable: "dbt_project/.venv/bin/dbt", threads: 2 }),
    sources: z
      .object({
        echo_data: z.object(sourceBase).strict(),
        echo_csv: z.object(sourceBase).strict(),
        ...upstreamSources.shape,
      })
      .strict(),
    http: httpSettings.default({
      cache_dir: ".state/http-cache",
      timeout_ms: 60_000,
      max_attempts: 6,
      max_response_mb: 1024,
    }),
    quality: z
      .object({
        /** A run that would change the state of more than this share of advisories is not published. */
        max_state_change_share: z.number().min(0).max(1).default(0.05),
        /** A non-final advisory older than this many days is stalled. */
        stalled_after_days: z.number().int().positive().default(30),
        /** A full delivery with this many percent fewer records than the source's last good one is suspect. */
        source_drop_percent: z.number().min(0).max(100).default(20),
        /** Severity per check id; an error-severity failure stops publication. */
        severities: z.partialRecord(z.enum(qualityCheckIds), z.enum(["error", "warn"])).default({}),
      })
      .strict()
      .default({
        max_state_change_share: 0.05,
        stalled_after_days: 30,
        source_drop_percent: 20,
        severities: {},
      }),
    report: z
      .object({
        list_limit: z.number().int().min(1).max(10_000).default(50),
      })
      .strict()
      .default({ list_limit: 50 }),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;

export interface Config extends RawConfig {
  /** Absolute path of the config file the values came from. */
  configPath: string;
  history_dir: string;
}

export function isUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

function resolvePath(baseDir: string, value: string): string {
  return isAbsolute(value) ? value : resolve(baseDir, value);
}

function describeIssuePath(path: ReadonlyArray<PropertyKey>): string {
  return (
    path.map((part) => (typeof part === "number" ? `[${part}]` : String(part))).join(".") || "(top level)"
  );
}

/** Parses and validates a config text; every problem names its key (and line, for YAML syntax). */
export function parseConfig(text: string, configPath: string): Config {
  // Without prettyErrors the errors carry only offsets; the line counter turns them into line and column.
  const lineCounter = new LineCounter();
  // YAML 1.2 ends a line at a lone CR too (old Mac editors); the parser would read it as one long line.
  const document = parseDocument(text.replace(/\r(?!\n)/g, "\n"), {
    prettyErrors: false,
    uniqueKeys: true,
    lineCounter,
  });
  const [syntaxError] = document.errors;
  if (syntaxError) {
    const position = lineCounter.linePos(syntaxError.pos[0]);
    const message = syntaxError.message.split("\n")[0] ?? "";
    throw new PipelineError(
      `invalid YAML: ${/call stack/i.test(message) ? "nested too deeply to read" : message}`,
      { location: { file: configPath, line: position?.line, column: position?.col }, exitCode: 2 },
    );
  }
  let plain: unknown;
  try {
    plain = document.toJS();
  } catch (error) {
    // The yaml library refuses alias chains that expand exponentially ("billion laughs") at this point.
    throw new PipelineError(`invalid YAML: ${error instanceof Error ? error.message : String(error)}`, {
      location: { file: configPath },
      hint: "aliases (*name) may not expand a document this much",
      exitCode: 2,
    });
  }
  const parsed = configSchema.safeParse(plain ?? {});
  if (!parsed.success) {
    // An unknown key is usually a misspelt known one (locaton), which also makes that one missing: naming
    // the unknown key first points at the line to fix.
    const issue =
      parsed.error.issues.find((candidate) => candidate.code === "unrecognized_keys") ??
      parsed.error.issues[0];
    // zod puts an unknown key's issue on the object holding it; the key itself is what needs fixing.
    const path =
      issue?.code === "unrecognized_keys" ? [...issue.path, ...issue.keys.slice(0, 1)] : issue?.path;
    const key = path ? describeIssuePath(path) : "(top level)";
    const node = path ? document.getIn(path as unknown[], true) : undefined;
    const range = node && typeof node === "object" && "range" in node ? (node.range as number[]) : undefined;
    const line = range?.[0] !== undefined ? lineOfOffset(text, range[0]) : undefined;
    throw new PipelineError(issue?.message ?? "invalid configuration", {
      location: { file: configPath, key, line },
      hint: `${parsed.error.issues.length > 1 ? `${parsed.error.issues.length - 1} more problem(s) after this one; ` : ""}see config.yaml in the repository for every key`,
      exitCode: 2,
    });
  }
  const baseDir = dirname(configPath);
  const raw = parsed.data;
  const resolveLocation = (value: string) => (isUrl(value) ? value : resolvePath(baseDir, value));
  return {
    ...raw,
    configPath,
    database: resolvePath(baseDir, raw.database),
    output_dir: resolvePath(baseDir, raw.output_dir),
    history_dir: resolvePath(baseDir, raw.history_dir ?? join(raw.output_dir, "history")),
    dbt: {
      ...raw.dbt,
      project_dir: resolvePath(baseDir, raw.dbt.project_dir),
      executable: raw.dbt.executable.includes("/")
        ? resolvePath(baseDir, raw.dbt.executable)
        : raw.dbt.executable,
    },
    sources: {
      ...raw.sources,
      echo_data: { ...raw.sources.echo_data, location: resolveLocation(raw.sources.echo_data.location) },
      echo_csv: { ...raw.sources.echo_csv, location: resolveLocation(raw.sources.echo_csv.location) },
      debian_tracker: resolveUpstream(raw.sources.debian_tracker, "debian_tracker"),
      osv: resolveUpstream(raw.sources.osv, "osv"),
      nvd: resolveUpstream(raw.sources.nvd, "nvd"),
    },
    http: { ...raw.http, cache_dir: resolvePath(baseDir, raw.http.cache_dir) },
  };

  function resolveUpstream<T extends { mode: string; location?: string | undefined }>(
    source: T | undefined,
    name: string,
  ): T | undefined {
    if (!source) return undefined;
    if (source.mode === "file" && !source.location) {
      throw new PipelineError("file mode needs a location (the recorded snapshot to read)", {
        location: { file: configPath, key: `sources.${name}.location` },
        exitCode: 2,
      });
    }
    return source.location ? { ...source, location: resolveLocation(source.location) } : source;
  }
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset && index < text.length; index += 1) if (text[index] === "\n") line += 1;
  return line;
}

export async function loadConfig(path: string): Promise<Config> {
  const configPath = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(configPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PipelineError(
      code === "ENOENT" ? "the config file does not exist" : `cannot read the config file: ${code ?? error}`,
      {
        location: { file: configPath },
        hint: "pass an existing file with --config",
        exitCode: 2,
      },
    );
  }
  return parseConfig(decodeConfigText(bytes, configPath), configPath);
}

/** Strict UTF-8 (a bad byte is named by its line, not turned into U+FFFD inside a path); a BOM is dropped. */
function decodeConfigText(bytes: Uint8Array, configPath: string): string {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    let valid = bytes.length;
    const decoder = new TextDecoder("utf-8", { fatal: true });
    for (let index = 0; index < bytes.length; index += 1) {
      try {
        decoder.decode(bytes.subarray(index, index + 1), { stream: true });
      } catch {
        valid = index;
        break;
      }
    }
    const line = 1 + bytes.subarray(0, valid).filter((byte) => byte === 0x0a).length;
    throw new PipelineError(`not valid UTF-8 (first bad byte at offset ${valid})`, {
      location: { file: configPath, line },
      hint: "save the file as UTF-8",
      exitCode: 2,
    });
  }
}
