import { constants, type Stats } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { defaultPurlNamespace, defaultPurlQualifiers } from "../formats/openvex.ts";
import { type ErrorLocation, formatLocation, PipelineError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { registry } from "../sources/registry.ts";
import { httpSettings, isUrl } from "../sources/settings.ts";
import type { SourceDescriptor, SourceRegistry, SourceSettings } from "../sources/source.ts";
import { readBinaryPackageMap } from "./export/binary-packages.ts";

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
  "override_reason_codes_known",
] as const;
export type QualityCheckId = (typeof qualityCheckIds)[number];

/** A size DuckDB's memory_limit accepts: decimal (KB, MB, GB, TB) or binary (KiB … TiB) units. */
const duckdbMemorySize = /^\d+(?:\.\d+)?\s*(?:[KMGT]B|[KMGT]iB)$/;
const memorySizeMessage = 'must be a size with its unit, such as "2GB" or "1.5GiB"';
export const defaultDuckdbMemoryLimit = "1.5GB";

/**
 * How openvex.json names each advisory's package (`pkg:deb/<namespace>/<name>?<qualifiers>`), so that a
 * scanner's purl for an installed package matches a statement: the namespace and qualifiers syft gives
 * packages of the vendor's images, and optionally a Debian Sources index naming the binary packages each
 * source package builds (pipeline/stages/export/binary-packages.ts).
 */
const openVexSettings = z
  .object({
    /** purl's namespace for a deb package is its distribution's vendor, lower case (`echo`, `debian`). */
    purl_namespace: z
      .string()
      .trim()
      .regex(
        /^[a-z0-9][a-z0-9._+-]*$/,
        "must be a lower-case distribution vendor such as echo or debian (letters, digits, . _ + -)",
      )
      .default(defaultPurlNamespace),
    /**
     * Qualifiers every product carries (a scanner's package must carry them too). Keys as the purl spec
     * allows them: lower-case ASCII letters, digits, . - _, not starting with a digit.
     */
    purl_qualifiers: z
      .record(z.string(), z.string().min(1, "a purl qualifier needs a value"))
      .superRefine((qualifiers, context) => {
        for (const key of Object.keys(qualifiers)) {
          if (!/^[a-z._-][a-z0-9._-]*$/.test(key)) {
            context.addIssue({
              code: "custom",
              path: [key],
              message:
                "a purl qualifier key is lower-case letters, digits, . - _, and does not start with a digit",
            });
          }
        }
      })
      .default({ ...defaultPurlQualifiers }),
    /** A Debian Sources index (plain or .gz): each statement then names the source's binary packages. */
    binary_packages: z.string().trim().min(1, "must not be empty").optional(),
  })
  .strict()
  .default({ purl_namespace: defaultPurlNamespace, purl_qualifiers: { ...defaultPurlQualifiers } });

/** config.yaml's schema around a `sources:` section (the registry's; tests may pass one with more sources). */
function configSchemaWith<Sources extends z.ZodType>(sources: Sources) {
  return z
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
          /** Left out: the dbt project installed with the pipeline (installedDbtProject). */
          project_dir: z.string().trim().min(1).optional(),
          /** Left out: the dbt that `npm ci` installs into the project (installedDbt). */
          executable: z.string().trim().min(1).optional(),
          threads: z.number().int().min(1).max(64).default(2),
        })
        .strict()
        .default({ threads: 2 }),
      sources,
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
      openvex: openVexSettings,
      report: z
        .object({
          list_limit: z.number().int().min(1).max(10_000).default(50),
        })
        .strict()
        .default({ list_limit: 50 }),
    })
    .strict();
}

/** The configuration schema, with every registered source's slice under `sources:`. */
export const configSchema = configSchemaWith(registry.configSchema);

export type RawConfig = z.infer<typeof configSchema>;

export interface Config extends RawConfig {
  /** Absolute path of the config file the values came from. */
  configPath: string;
  history_dir: string;
  dbt: RawConfig["dbt"] & { project_dir: string; executable: string };
}

/**
 * The dbt project and the dbt that come with the pipeline. They belong to the installation, not to the
 * data, so a config that leaves them out works from any folder; a config that names them resolves them
 * against its own folder like every other path.
 */
const installRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const installedDbtProject = join(installRoot, "dbt_project");
export const installedDbt = join(installedDbtProject, ".venv/bin/dbt");

// biome-ignore lint/suspicious/noExplicitAny: a registry of any sources
type AnyRegistry = SourceRegistry<readonly SourceDescriptor<string, any>[]>;

export interface ConfigOptions {
  /** The sources the config is read against; the production registry unless a test passes its own. */
  registry?: AnyRegistry;
  /** The environment secrets are read from (a source's API key); process.env unless a test passes its own. */
  env?: NodeJS.ProcessEnv;
}

/** One thing wrong in a config file: where (file, line, key) and what. */
export interface ConfigProblem {
  location: ErrorLocation;
  message: string;
}

/**
 * Every problem found in a config file, reported at once (exit code 2). Its message and location are the
 * first problem's; describe() lists them all, one `file:line key k: what is wrong` line each.
 */
export class ConfigError extends PipelineError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], hint?: string) {
    const first = problems[0] ?? { location: {}, message: "invalid configuration" };
    super(first.message, { location: first.location, hint, exitCode: 2 });
    this.problems = problems;
  }

  override describe(): string {
    if (this.problems.length <= 1) return super.describe();
    const file = this.location.file;
    return [
      `${file ? `${file}: ` : ""}${this.problems.length} problems${this.hint ? ` (${this.hint})` : ""}`,
      ...this.problems.map((problem) => `${formatLocation(problem.location)}${problem.message}`),
    ].join("\n");
  }
}

const schemaHint = "see config.yaml in the repository for every key";

function resolvePath(baseDir: string, value: string): string {
  return isAbsolute(value) ? value : resolve(baseDir, value);
}

function describeIssuePath(path: ReadonlyArray<PropertyKey>): string {
  return (
    path.map((part) => (typeof part === "number" ? `[${part}]` : String(part))).join(".") || "(top level)"
  );
}

/** Where a key stands in the file: its line (or its nearest ancestor's), and whether the key itself is there. */
type LineOf = (path: ReadonlyArray<PropertyKey>) => { line: number | undefined; present: boolean };

interface ConfigDocument {
  config: Config;
  lineOf: LineOf;
}

/** Parses and validates a config text; every problem names its line and key, all of them at once. */
export function parseConfig(text: string, configPath: string, options: ConfigOptions = {}): Config {
  return interpretConfig(text, configPath, options.registry ?? registry, options.env ?? process.env).config;
}

function interpretConfig(
  text: string,
  configPath: string,
  sources: AnyRegistry,
  env: NodeJS.ProcessEnv,
): ConfigDocument {
  // Without prettyErrors the errors carry only offsets; the line counter turns them into line and column.
  const lineCounter = new LineCounter();
  // YAML 1.2 ends a line at a lone CR too (old Mac editors); the parser would read it as one long line.
  const document = parseDocument(text.replace(/\r(?!\n)/g, "\n"), {
    prettyErrors: false,
    uniqueKeys: true,
    lineCounter,
  });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((syntaxError) => {
        const position = lineCounter.linePos(syntaxError.pos[0]);
        const message = syntaxError.message.split("\n")[0] ?? "";
        return {
          location: { file: configPath, line: position?.line, column: position?.col },
          message: `invalid YAML: ${/call stack/i.test(message) ? "nested too deeply to read" : message}`,
        };
      }),
    );
  }
  let plain: unknown;
  try {
    plain = document.toJS();
  } catch (error) {
    // The yaml library refuses alias chains that expand exponentially ("billion laughs") at this point.
    throw new ConfigError(
      [
        {
          location: { file: configPath },
          message: `invalid YAML: ${error instanceof Error ? error.message : String(error)}`,
        },
      ],
      "aliases (*name) may not expand a document this much",
    );
  }
  const lineOf: LineOf = (path) => keyLine(document.contents, lineCounter, path);
  const schema = sources === registry ? configSchema : configSchemaWith(sources.configSchema);
  const parsed = schema.safeParse(plain ?? {});
  const problems = [
    ...(parsed.success ? [] : schemaProblems(parsed.error.issues, schema)),
    ...fileModeProblems(plain, sources),
    // A secret (the NVD key) set in the environment may go only where its source's rule allows.
    ...(parsed.success ? sources.secretProblems(parsed.data.sources as Record<string, unknown>, env) : []),
  ]
    .map(({ path, message }) => ({
      location: { file: configPath, key: describeIssuePath(path), line: lineOf(path).line },
      message,
    }))
    .sort(byLine);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems, schemaHint);
  return { config: resolveConfig(parsed.data as RawConfig, configPath), lineOf };
}

/** Top to bottom as the file reads; problems without a line (a key left to its default) last. */
function byLine(a: ConfigProblem, b: ConfigProblem): number {
  return (a.location.line ?? Number.POSITIVE_INFINITY) - (b.location.line ?? Number.POSITIVE_INFINITY) || 0;
}

interface KeyProblem {
  path: PropertyKey[];
  message: string;
}

/**
 * zod's issues as problems by key. An unknown key gets its own problem (several in one object, several
 * problems), with the known key it is closest to; a misspelt key (locaton) also makes the key it misspells
 * missing, and that second problem is dropped: fixing the first fixes both.
 */
function schemaProblems(issues: readonly z.core.$ZodIssue[], schema: z.ZodType): KeyProblem[] {
  const problems: (KeyProblem & { missing: boolean })[] = [];
  const suggested = new Set<string>();
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const known = Object.keys(objectShapeAt(schema, issue.path) ?? {});
      for (const key of issue.keys) {
        const guess = closestKey(key, known);
        if (guess !== undefined) suggested.add(describeIssuePath([...issue.path, guess]));
        problems.push({
          path: [...issue.path, key],
          message: `Unrecognized key: "${key}"${guess === undefined ? "" : ` (did you mean "${guess}"?)`}`,
          missing: false,
        });
      }
      continue;
    }
    const missing = issue.code === "invalid_type" && /received undefined$/.test(issue.message);
    problems.push({
      path: [...issue.path],
      message:
        missing && issue.code === "invalid_type" ? `missing (expected ${issue.expected})` : issue.message,
      missing,
    });
  }
  return problems
    .filter((problem) => !(problem.missing && suggested.has(describeIssuePath(problem.path))))
    .map(({ path, message }) => ({ path, message }));
}

/** An upstream source in file mode reads a recorded snapshot, so it needs a location. */
function fileModeProblems(plain: unknown, sources: AnyRegistry): KeyProblem[] {
  const section = isRecord(plain) && isRecord(plain.sources) ? plain.sources : {};
  return sources.names.flatMap((name) => {
    const settings = section[name];
    return isRecord(settings) && settings.mode === "file" && settings.location == null
      ? [
          {
            path: ["sources", name, "location"],
            message: "file mode needs a location (the recorded snapshot to read)",
          },
        ]
      : [];
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The object schema's keys at `path` (through optional and default wrappers), if it is an object there. */
function objectShapeAt(
  schema: z.ZodType,
  path: ReadonlyArray<PropertyKey>,
): Record<string, unknown> | undefined {
  const unwrap = (candidate: unknown): unknown => {
    let current = candidate;
    while (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodNullable
    ) {
      current = (current.def as { innerType: unknown }).innerType;
    }
    return current;
  };
  let current = unwrap(schema);
  for (const step of path) {
    if (!(current instanceof z.ZodObject)) return undefined;
    current = unwrap((current.shape as Record<string, unknown>)[String(step)]);
  }
  return current instanceof z.ZodObject ? (current.shape as Record<string, unknown>) : undefined;
}

/** The known key a misspelt one most likely meant: at most two edits away (a swap of neighbours is one). */
function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(key.length / 3));
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= bestDistance && (best === undefined || distance < bestDistance)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, at(i - 2, j - 2) + 1);
      }
      (rows[i] as number[])[j] = value;
    }
  }
  return at(a.length, b.length);
}

/** The line of the key at `path` (of its nearest ancestor when it is absent); see LineOf. */
function keyLine(
  contents: unknown,
  lineCounter: LineCounter,
  path: ReadonlyArray<PropertyKey>,
): { line: number | undefined; present: boolean } {
  const lineAt = (node: unknown): number | undefined => {
    const range = node && typeof node === "object" && "range" in node ? (node.range as number[]) : undefined;
    return range?.[0] === undefined ? undefined : lineCounter.linePos(range[0]).line;
  };
  let node = contents;
  let line = path.length === 0 ? lineAt(node) : undefined;
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => String(isScalar(item.key) ? item.key.value : item.key) === String(step),
      );
      if (!pair) return { line, present: false };
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof step === "number") {
      const item = node.items[step];
      if (item === undefined) return { line, present: false };
      line = lineAt(item) ?? line;
      node = item;
    } else {
      return { line, present: false };
    }
  }
  return { line, present: true };
}

/** Relative paths resolve against the config file's folder; URLs stay as they are. */
function resolveConfig(raw: RawConfig, configPath: string): Config {
  const baseDir = dirname(configPath);
  const resolveLocation = (value: string) => (isUrl(value) ? value : resolvePath(baseDir, value));
  const sources = Object.fromEntries(
    Object.entries(raw.sources as Record<string, SourceSettings | undefined>).map(([name, settings]) => [
      name,
      settings?.location ? { ...settings, location: resolveLocation(settings.location) } : settings,
    ]),
  ) as RawConfig["sources"];
  return {
    ...raw,
    configPath,
    database: resolvePath(baseDir, raw.database),
    output_dir: resolvePath(baseDir, raw.output_dir),
    history_dir: resolvePath(baseDir, raw.history_dir ?? join(raw.output_dir, "history")),
    dbt: {
      ...raw.dbt,
      project_dir:
        raw.dbt.project_dir === undefined ? installedDbtProject : resolvePath(baseDir, raw.dbt.project_dir),
      executable:
        raw.dbt.executable === undefined
          ? installedDbt
          : raw.dbt.executable.includes("/")
            ? resolvePath(baseDir, raw.dbt.executable)
            : raw.dbt.executable,
    },
    sources,
    http: { ...raw.http, cache_dir: resolvePath(baseDir, raw.http.cache_dir) },
    openvex: {
      ...raw.openvex,
      ...(raw.openvex.binary_packages === undefined
        ? {}
        : { binary_packages: resolvePath(baseDir, raw.openvex.binary_packages) }),
    },
  };
}

export interface LoadOptions extends ConfigOptions {
  /**
   * Check up front every path a run needs (default true); false only reads and validates the file (for a
   * config that is looked at, not run).
   */
  checkPaths?: boolean;
}

/**
 * Reads, validates and resolves a config file, then checks every path a run needs, so a problem is one
 * clear message (exit code 2) before anything runs, not a stack trace halfway through. The resolved paths
 * are logged.
 */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<Config> {
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
  const sources = options.registry ?? registry;
  const { config, lineOf } = interpretConfig(
    decodeConfigText(bytes, configPath),
    configPath,
    sources,
    options.env ?? process.env,
  );
  if (options.checkPaths === false) return config;
  await checkPaths(config, lineOf, sources);
  log.info("configuration loaded", resolvedPaths(config, sources));
  return config;
}

/**
 * Every path the run needs, checked at once: the folders it writes (database, output, history, the HTTP
 * cache when a source is live) can be created, the dbt project and executable exist, and each local source
 * location (data.json, the CSV, a snapshot in file mode) is in a folder that exists. The file itself missing
 * is only warned about: at run time that is a failed source whose last good data stays in use (a delivery
 * that did not arrive), as it has always been.
 */
async function checkPaths(config: Config, lineOf: LineOf, sources: AnyRegistry): Promise<void> {
  const problems: ConfigProblem[] = [];
  const report = (path: string[], message: string) => {
    const { line, present } = lineOf(path);
    problems.push({
      location: { file: config.configPath, key: path.join("."), line },
      message: present ? message : `${message} (the default)`,
    });
  };
  const writable = async (path: string[], directory: string, what: string) => {
    const reason = await whyNotCreatable(directory);
    if (reason !== undefined) report(path, `cannot write ${what} ${directory}: ${reason}`);
  };
  await writable(["database"], dirname(config.database), "the database in");
  await writable(["output_dir"], config.output_dir, "to");
  await writable(["history_dir"], config.history_dir, "to");
  const project = await statOf(config.dbt.project_dir);
  if (!project) report(["dbt", "project_dir"], `${config.dbt.project_dir} does not exist`);
  else if (!project.isDirectory())
    report(["dbt", "project_dir"], `${config.dbt.project_dir} is not a folder`);
  else if (!(await statOf(join(config.dbt.project_dir, "dbt_project.yml")))?.isFile()) {
    report(
      ["dbt", "project_dir"],
      `${config.dbt.project_dir} has no dbt_project.yml: it is not a dbt project`,
    );
  }
  const executableProblem = await whyNotExecutable(config.dbt.executable);
  if (executableProblem !== undefined) report(["dbt", "executable"], executableProblem);
  const settingsOf = config.sources as Record<string, SourceSettings | undefined>;
  let live = false;
  for (const name of sources.names) {
    const settings = settingsOf[name];
    if (!settings?.enabled) continue;
    live ||= settings.mode === "live";
    const location = settings.location;
    if (location === undefined || isUrl(location) || settings.mode === "live" || settings.mode === "mock") {
      continue;
    }
    if (await statOf(location)) continue;
    // A folder that is not there is a wrong path (a config copied elsewhere); a file that is not there (yet)
    // is a delivery that did not arrive: the source fails this run and its last good data stays in use.
    const folder = dirname(location);
    if (!(await statOf(folder))?.isDirectory()) {
      report(["sources", name, "location"], `${location} is in a folder that does not exist (${folder})`);
    } else {
      log.warn("a source's location does not exist; the source will fail this run", {
        key: `sources.${name}.location`,
        location,
      });
    }
  }
  if (live) await writable(["http", "cache_dir"], config.http.cache_dir, "the HTTP cache to");
  // Read whole now, so that a bad index stops the run before anything runs, not at the export.
  if (config.openvex.binary_packages !== undefined) {
    try {
      await readBinaryPackageMap(config.openvex.binary_packages);
    } catch (error) {
      if (!(error instanceof PipelineError)) throw error;
      report(["openvex", "binary_packages"], error.describe());
    }
  }
  if (problems.length > 0) {
    problems.sort(byLine);
    throw new ConfigError(
      problems,
      `relative paths resolve against ${dirname(config.configPath)}, the config file's folder`,
    );
  }
}

async function statOf(path: string): Promise<Stats | undefined> {
  return stat(path).catch(() => undefined);
}

/** Why `directory` cannot be created or written to, or undefined when it can. */
async function whyNotCreatable(directory: string): Promise<string | undefined> {
  let current = directory;
  for (;;) {
    const info = await statOf(current);
    if (info) {
      if (!info.isDirectory()) return `${current} is a file, not a folder`;
      try {
        await access(current, constants.W_OK);
        return undefined;
      } catch {
        return `${current} is not writable`;
      }
    }
    const parent = dirname(current);
    if (parent === current) return `${current} does not exist`;
    current = parent;
  }
}

/** Why the dbt executable cannot be run, or undefined when it can: a path, or a bare name looked up on PATH. */
async function whyNotExecutable(executable: string): Promise<string | undefined> {
  const installHint = /dbt_project\/\.venv\/bin\/dbt$/.test(executable) ? " (npm ci installs it)" : "";
  if (!executable.includes("/")) {
    for (const folder of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
      if (await isExecutableFile(join(folder, executable))) return undefined;
    }
    return `no executable "${executable}" on PATH`;
  }
  const info = await statOf(executable);
  if (!info) return `${executable} does not exist${installHint}`;
  if (!(await isExecutableFile(executable))) return `${executable} is not an executable file`;
  return undefined;
}

async function isExecutableFile(path: string): Promise<boolean> {
  if (!(await statOf(path))?.isFile()) return false;
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The paths a run will use, as resolved, for the log. */
function resolvedPaths(config: Config, sources: AnyRegistry): Record<string, unknown> {
  const settingsOf = config.sources as Record<string, SourceSettings | undefined>;
  return {
    config: config.configPath,
    database: config.database,
    output_dir: config.output_dir,
    history_dir: config.history_dir,
    dbt_project_dir: config.dbt.project_dir,
    dbt_executable: config.dbt.executable,
    http_cache_dir: config.http.cache_dir,
    ...(config.openvex.binary_packages ? { openvex_binary_packages: config.openvex.binary_packages } : {}),
    sources: Object.fromEntries(
      sources.sources.map((source) => {
        const settings = settingsOf[source.name];
        if (!settings?.enabled) return [source.name, "disabled"];
        if (settings.mode === "mock") return [source.name, `mock ${source.mock ?? ""}`.trim()];
        if (settings.mode === "live")
          return [source.name, `live${settings.location ? ` ${settings.location}` : ""}`];
        return [source.name, settings.location ?? ""];
      }),
    ),
  };
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
