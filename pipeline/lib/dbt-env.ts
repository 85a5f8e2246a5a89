/**
 * The whole environment dbt runs with (both ways: a `dbt` process per run and the long-lived session). dbt
 * and its Python packages run with `extendEnv: false`, so nothing of the pipeline's environment reaches them
 * unless it is listed here: no NVD_API_KEY, no GITHUB_TOKEN, no stray DBT_* of the caller's shell.
 */

/** Taken from the parent environment when set: what any program needs to start and read its locale. */
export const inheritedDbtVariables = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"] as const;

/** What dbt_project/profiles.yml reads with env_var(); the pipeline sets each from the config. */
export const dbtProfileVariables = [
  "ECHO_DUCKDB_PATH",
  "ECHO_DBT_THREADS",
  "ECHO_DUCKDB_MEMORY_LIMIT",
] as const;

/**
 * Set whatever the caller passes: Python writes no bytecode into the dbt project (the session's Python
 * otherwise leaves dbt_project/__pycache__ behind; an inherited PYTHONDONTWRITEBYTECODE used to hide it).
 */
const fixedVariables = { PYTHONDONTWRITEBYTECODE: "1" } as const;

/** dbt's own settings the pipeline may pass (no telemetry, partial parsing, …). */
const dbtSetting = /^(DBT_[A-Z0-9_]+|DO_NOT_TRACK)$/;

/**
 * `variables` (the pipeline's own: profile variables and dbt settings) over the few inherited ones and the
 * fixed ones. A name that is neither a profile variable nor a dbt setting is a programming error, refused
 * rather than passed on.
 */
export function dbtEnvironment(
  variables: Readonly<Record<string, string>>,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of inheritedDbtVariables) {
    const value = parent[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, fixedVariables);
  const profile: readonly string[] = dbtProfileVariables;
  for (const [name, value] of Object.entries(variables)) {
    if (!profile.includes(name) && !dbtSetting.test(name)) {
      throw new Error(`${name} is not a variable dbt is given (see pipeline/lib/dbt-env.ts)`);
    }
    env[name] = value;
  }
  return env;
}
