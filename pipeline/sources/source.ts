import { z } from "zod";
import { createHttpClient, type HttpClient } from "./http/client.ts";
import type { HostPolicy } from "./http/hosts.ts";
import { redactUrl } from "./http/redact.ts";
import { mayReceiveSecret, type SecretRule } from "./http/secret-destinations.ts";
import type { HttpSettings, SourceMode } from "./settings.ts";
import type { LandingTable, SourceAdapter } from "./types.ts";

// biome-ignore lint/suspicious/noExplicitAny: adapters differ only in their observation type
export type AnyAdapter = SourceAdapter<any, any>;

/** What every source's settings have, whatever else its config slice adds. */
export interface SourceSettings {
  enabled: boolean;
  /** Upstream sources only: live, file or mock. */
  mode?: SourceMode;
  /** A local path (resolved against the config file when it loads) or an http(s) URL. */
  location?: string | undefined;
}

/** What an adapter factory gets besides its own settings. */
export interface SourceDeps {
  /** The config's `http` section. */
  http: HttpSettings;
  /** Every registered source's host policies, keyed by host. */
  hosts: Record<string, HostPolicy>;
  env: NodeJS.ProcessEnv;
  /** The config's `dbt.project_dir`: its seeds are the reference lists an input is checked against. */
  dbtProjectDir: string;
}

/** A source's secret: where it may go (its rule) and where its settings would send it. */
export interface SourceSecret<Settings> {
  rule: SecretRule;
  /** The environment variable holding the secret for these settings, when it is set (non-empty). */
  heldIn(settings: Settings, env: NodeJS.ProcessEnv): string | undefined;
  /** The URLs the settings would send the secret to, each with its key under `sources.<name>`. */
  sentTo(settings: Settings): { key: string; url: string }[];
}

/** A key under `sources:` and what is wrong with it, for the config error. */
export interface SourceSettingsProblem {
  path: string[];
  message: string;
}

/**
 * One source, as its folder declares it (pipeline/sources/<name>/source.ts). The registry is a list of
 * these; the config schema, the CLI's source names, the HTTP host policies and the landing tables are all
 * derived from that list.
 */
export interface SourceDescriptor<
  Name extends string = string,
  Schema extends z.ZodType<SourceSettings | undefined> = z.ZodType<SourceSettings | undefined>,
> {
  /** The key under `sources:` in config.yaml, the `source` of its landed rows, the `--source` name. */
  readonly name: Name;
  /** Its slice of config.yaml (`sources.<name>`); `.optional()` when the key may be left out. */
  readonly config: Schema;
  /** Hosts it calls and how (timeouts, retries, rate limits, secret headers), given the environment. */
  readonly hosts?: (env: NodeJS.ProcessEnv) => Record<string, HostPolicy>;
  /**
   * Its secret, when it has one: config loading fails when an enabled source's settings would send the
   * secret (present in the environment) anywhere its rule does not allow.
   */
  readonly secret?: SourceSecret<NonNullable<z.output<Schema>>>;
  /** The landing tables it fills; the init stage creates them whether or not the source is enabled. */
  readonly landing: readonly LandingTable[];
  /** The bundled sample `mode: mock` reads (inside the source's folder); none without a mock mode. */
  readonly mock?: string;
  /** Its adapter, for the settings of an enabled source (paths already resolved). */
  readonly adapter: (settings: NonNullable<z.output<Schema>>, deps: SourceDeps) => AnyAdapter;
}

// biome-ignore lint/suspicious/noExplicitAny: a list holds descriptors of different settings types
export type AnySource = SourceDescriptor<string, any>;

/** Keeps a descriptor's literal name and settings type, so the config's type knows each source. */
export function defineSource<const Name extends string, Schema extends z.ZodType<SourceSettings | undefined>>(
  descriptor: SourceDescriptor<Name, Schema>,
): SourceDescriptor<Name, Schema> {
  return descriptor;
}

/** `sources:` of config.yaml for a list of sources: each source's slice under its name, nothing else. */
export type SourcesShape<List extends readonly AnySource[]> = {
  [Source in List[number] as Source["name"]]: Source["config"];
};

/** The client most live sources use: the config's http settings and every source's host policies. */
export function sourceHttpClient(deps: SourceDeps): HttpClient {
  return createHttpClient({
    ...configuredLimits(deps.http),
    cacheDir: deps.http.cache_dir,
    hosts: deps.hosts,
  });
}

/**
 * The client of the vendor's own inputs read by URL (data.json, the CSV; also the overrides check): the
 * config's limits and every source's host policies, no cache (they are read whole every run).
 */
export function inputHttpClient(deps: Pick<SourceDeps, "http" | "hosts">): HttpClient {
  return createHttpClient({ ...configuredLimits(deps.http), hosts: deps.hosts });
}

/** What the config's `http` section sets for every client: http.max_response_mb is a ceiling (client.ts). */
export function configuredLimits(http: HttpSettings): {
  timeoutMs: number;
  maxAttempts: number;
  maxBytes: number;
} {
  return {
    timeoutMs: http.timeout_ms,
    maxAttempts: http.max_attempts,
    maxBytes: http.max_response_mb * 1024 * 1024,
  };
}

export interface SourceRegistry<List extends readonly AnySource[]> {
  readonly sources: List;
  /** In registry order: config.yaml's keys, `--source` names, the order adapters are built in. */
  readonly names: readonly string[];
  /** The `sources:` section of config.yaml. */
  readonly configSchema: z.ZodObject<SourcesShape<List>, z.core.$strict>;
  /** Every landing table, once each, in registry order. */
  readonly landingTables: readonly LandingTable[];
  /** Every source's host policies, merged (a host belongs to one source). */
  hostPolicies(env?: NodeJS.ProcessEnv): Record<string, HostPolicy>;
  /** Enabled sources whose settings would send their secret where their rule does not allow. */
  secretProblems(sources: Record<string, unknown>, env?: NodeJS.ProcessEnv): SourceSettingsProblem[];
  /** The adapters of the enabled sources, in registry order. */
  enabledAdapters(
    config: { sources: Record<string, unknown>; http: HttpSettings; dbt: { project_dir: string } },
    env?: NodeJS.ProcessEnv,
  ): AnyAdapter[];
}

/**
 * Builds a registry from a list of source descriptors. Production has one (registry.ts); tests may build
 * another with an extra source through this same function.
 */
export function createRegistry<const List extends readonly AnySource[]>(sources: List): SourceRegistry<List> {
  const names = sources.map((source) => source.name);
  const repeated = names.filter((name, index) => names.indexOf(name) !== index);
  if (repeated.length > 0) throw new Error(`source registered twice: ${repeated.join(", ")}`);
  const landingTables: LandingTable[] = [];
  for (const source of sources) {
    for (const table of source.landing) {
      const known = landingTables.find((candidate) => candidate.name === table.name);
      if (known === undefined) landingTables.push(table);
      else if (known !== table) throw new Error(`landing table ${table.name} is declared twice differently`);
    }
  }
  const hostPolicies = (env: NodeJS.ProcessEnv = process.env) => {
    const policies: Record<string, HostPolicy> = {};
    const owners: Record<string, string> = {};
    for (const source of sources) {
      for (const [host, policy] of Object.entries(source.hosts?.(env) ?? {})) {
        if (owners[host] !== undefined) {
          throw new Error(`host ${host} is claimed by both ${owners[host]} and ${source.name}`);
        }
        owners[host] = source.name;
        policies[host] = policy;
      }
    }
    return policies;
  };
  const shape = Object.fromEntries(sources.map((source) => [source.name, source.config]));
  return {
    sources,
    names,
    configSchema: z.object(shape).strict() as unknown as z.ZodObject<SourcesShape<List>, z.core.$strict>,
    landingTables,
    hostPolicies,
    secretProblems(settingsOf, env = process.env) {
      const problems: SourceSettingsProblem[] = [];
      for (const source of sources) {
        const settings = settingsOf[source.name] as SourceSettings | undefined;
        const secret = source.secret;
        if (!secret || !settings?.enabled) continue;
        const variable = secret.heldIn(settings, env);
        if (variable === undefined) continue;
        for (const { key, url } of secret.sentTo(settings)) {
          if (mayReceiveSecret(url, secret.rule.destinations)) continue;
          problems.push({
            path: ["sources", source.name, key],
            message: `${redactUrl(url, [])} would receive the secret in ${variable}, but ${secret.rule.rule}: unset ${variable}, or ${secret.rule.hint}`,
          });
        }
      }
      return problems;
    },
    enabledAdapters(config, env = process.env) {
      const deps: SourceDeps = {
        http: config.http,
        hosts: hostPolicies(env),
        env,
        dbtProjectDir: config.dbt.project_dir,
      };
      const adapters: AnyAdapter[] = [];
      for (const source of sources) {
        const settings = config.sources[source.name] as SourceSettings | undefined;
        if (settings?.enabled) adapters.push(source.adapter(settings, deps));
      }
      return adapters;
    },
  };
}
