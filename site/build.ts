// `npm run site:build`: runs `astro build` so that builds into different folders never share files.
// Astro puts its intermediate build in <cwd>/.astro whenever the output folder is outside the working
// directory, so two builds into temporary folders (parallel tests, a benchmark) would overwrite each
// other's chunks. Each such build runs from its own folder under .astro-builds/, inside the repository so
// that the intermediate chunks still resolve their packages from node_modules, and removed afterwards.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { completeInterruptedPublish } from "../pipeline/formats/release-journal.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// Paths the pages read are fixed now, before the working directory changes.
const absolute = (name: string, fallback: string) => resolve(process.env[name] ?? join(repoRoot, fallback));
const outputDir = absolute("ECHO_OUTPUT_DIR", "output");
const outDir = resolve(process.env.ECHO_SITE_OUT_DIR ?? join(outputDir, "site"));
// A pipeline killed while renaming its release into place leaves the publish journal: the site is built
// from the completed release, never from a mix of two.
const completed = await completeInterruptedPublish(outputDir);
if (completed > 0) console.warn(`completed the interrupted publish of ${completed} files in ${outputDir}`);
const buildsDir = join(repoRoot, ".astro-builds");
await mkdir(buildsDir, { recursive: true });
const workingDir = outDir.startsWith(`${repoRoot}/`) ? repoRoot : await mkdtemp(join(buildsDir, "build-"));

// Vite-style variables set by a caller (vitest sets BASE_URL, MODE and NODE_ENV in its workers) would
// override the site's own base path and mode, so they are not passed on.
const inherited = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) =>
      !["BASE_URL", "MODE", "DEV", "PROD", "SSR", "NODE_ENV", "ASSETS_PREFIX", "SITE"].includes(name),
  ),
);
const env = {
  ...inherited,
  ASTRO_TELEMETRY_DISABLED: "1",
  ECHO_OUTPUT_DIR: outputDir,
  ECHO_SEEDS_DIR: absolute("ECHO_SEEDS_DIR", "dbt_project/seeds"),
  ECHO_SITE_OUT_DIR: outDir,
  ...(process.env.ECHO_HISTORY_DIR ? { ECHO_HISTORY_DIR: resolve(process.env.ECHO_HISTORY_DIR) } : {}),
};
const astro = join(repoRoot, "node_modules/.bin/astro");
const result = await execa(astro, ["build", "--root", repoRoot, ...process.argv.slice(2)], {
  cwd: workingDir,
  env,
  extendEnv: false,
  stdio: "inherit",
  reject: false,
});
if (workingDir !== repoRoot) await rm(workingDir, { recursive: true, force: true });
process.exitCode = result.exitCode ?? 1;
