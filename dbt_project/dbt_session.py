"""Runs several dbt invocations in one Python process, for callers that run the pipeline many times.

Each `dbt` command spends about 7 s before its first node: importing dbt (3-4 s), loading the adapter and
parsing the project. This process pays that once: it reads one JSON request per line on stdin,
{"args": [...dbt arguments...], "env": {...}, "cwd": "..." (optional)}, runs it in that folder with dbt's programmatic entry point (dbtRunner), and
answers on stdout, after dbt's own log lines, with one line {"echo_dbt_session": {"exit_code": N, ...}}.
Exit codes are those of the dbt command line: 0 success, 1 failed nodes, 2 an error before or around them.

The parsed project is kept and reused while the project's files and the request's environment stay the
same; anything else parses again. DuckDB's file is opened and closed by dbt within each invocation, so the
pipeline can use the database between requests. The process ends when stdin closes.
"""

import json
import os
import sys
import traceback

from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner

PROJECT_PATTERNS = (".sql", ".yml", ".yaml", ".csv", ".md")
RESPONSE_KEY = "echo_dbt_session"


def project_fingerprint(project_dir):
    """Names, sizes and modification times of the files dbt parses: a changed file means parsing again."""
    entries = []
    for root, dirs, files in os.walk(project_dir):
        dirs[:] = sorted(d for d in dirs if d not in ("target", "logs", ".venv", "dbt_packages"))
        for name in sorted(files):
            if name.endswith(PROJECT_PATTERNS):
                path = os.path.join(root, name)
                stat = os.stat(path)
                entries.append((path, stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def option_value(args, name):
    if name in args:
        index = args.index(name)
        if index + 1 < len(args):
            return args[index + 1]
    return None


def parse_arguments(args):
    """The options of a build request that also apply to parsing the project."""
    kept = []
    for name in ("--project-dir", "--profiles-dir", "--target-path", "--log-path"):
        value = option_value(args, name)
        if value is not None:
            kept += [name, value]
    return ["parse", "--quiet"] + kept


def project_arguments(args):
    """The options that say which project and profile are parsed."""
    kept = []
    for name in ("--project-dir", "--profiles-dir"):
        value = option_value(args, name)
        if value is not None:
            kept += [name, value]
    return kept


def release_database():
    """dbt-duckdb keeps its database open for the life of the process (it closes it only at exit); the
    pipeline opens the same file between invocations, and DuckDB lets one process at a time hold it."""
    environment = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if environment is not None:
        environment.close()


def respond(exit_code, error=None):
    sys.stdout.flush()
    sys.stdout.write(json.dumps({RESPONSE_KEY: {"exit_code": exit_code, "error": error}}) + "\n")
    sys.stdout.flush()


def main():
    cached_key = None
    manifest = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            args = [str(arg) for arg in request["args"]]
            env = {str(k): str(v) for k, v in request.get("env", {}).items()}
            os.environ.update(env)
            # The profile names the database relative to the invocation's folder (pipeline/stages/transform.ts).
            cwd = request.get("cwd")
            if cwd is not None:
                os.chdir(str(cwd))
            project_dir = option_value(args, "--project-dir") or "."
            # Where dbt writes (target and log paths) and the folder it runs in do not change what it parses, so
            # one parse serves requests from many state folders: the profile names the database relative to
            # the folder, and the environment is part of the key.
            key = (
                tuple(sorted(env.items())),
                tuple(project_arguments(args)),
                project_fingerprint(project_dir),
            )
            if key != cached_key or manifest is None:
                parsed = dbtRunner().invoke(parse_arguments(args))
                release_database()
                if not parsed.success or parsed.result is None:
                    cached_key, manifest = None, None
                    respond(2, f"dbt could not parse the project: {parsed.exception or 'see the log above'}")
                    continue
                cached_key, manifest = key, parsed.result
            try:
                result = dbtRunner(manifest=manifest).invoke(args)
            finally:
                release_database()
            if result.success:
                respond(0)
            elif result.exception is not None:
                respond(2, str(result.exception))
            else:
                respond(1)
        except Exception:  # noqa: BLE001 - any failure is reported to the caller, which decides
            cached_key, manifest = None, None
            respond(2, traceback.format_exc(limit=5))


if __name__ == "__main__":
    main()
