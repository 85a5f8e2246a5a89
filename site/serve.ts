// `npm run site:serve`: serves a built site over HTTP under its base path (its pages fetch JSON, so opening
// index.html from disk does not work). It is `astro preview` on the site `npm start` builds
// (output/sample/site), or on ECHO_OUTPUT_DIR's site, or on ECHO_SITE_OUT_DIR. The base path is ECHO_SITE_BASE,
// else the one the site was built with (read from its home page). `--print` only says how to open the site:
// `npm start` ends with it. Other arguments go to astro preview (e.g. `-- --port 8080`).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outputDir = resolve(repoRoot, process.env.ECHO_OUTPUT_DIR ?? "output/sample");
const siteDir = resolve(process.env.ECHO_SITE_OUT_DIR ?? join(outputDir, "site"));
const defaultPort = 4321;

/** The base path the site was built with, from its home page's favicon link ("/" when it has none). */
function builtBase(home: string): string {
  const href = /<link rel="icon" href="([^"]*)favicon\.svg"/.exec(readFileSync(home, "utf8"))?.[1];
  return href?.startsWith("/") ? href : "/";
}

const home = join(siteDir, "index.html");
if (!existsSync(home)) {
  console.error(
    `No built site in ${relative(process.cwd(), siteDir) || "."}: run \`npm start\` (the sample) or ` +
      "`ECHO_OUTPUT_DIR=<output folder> npm run site:build` first.",
  );
  process.exit(1);
}
const base = `/${(process.env.ECHO_SITE_BASE ?? builtBase(home)).replace(/^\/+|\/+$/g, "")}/`.replace(
  /^\/\/$/,
  "/",
);
const args = process.argv.slice(2);
const portArgument = args.indexOf("--port");
const port = portArgument >= 0 ? Number(args[portArgument + 1]) : defaultPort;
const url = `http://localhost:${port}${base}`;
const command = process.env.ECHO_OUTPUT_DIR
  ? `ECHO_OUTPUT_DIR=${process.env.ECHO_OUTPUT_DIR} npm run site:serve`
  : "npm run site:serve";

if (args.includes("--print")) {
  console.log(
    `\nThe site is built in ${relative(process.cwd(), siteDir)}/. To open it, run\n\n  ${command}\n\nand open ${url}\n`,
  );
  process.exit(0);
}

console.log(`Serving ${relative(process.cwd(), siteDir)}/ at ${url} (Ctrl-C stops it)`);
const passed =
  portArgument < 0 ? args : args.filter((_, index) => index !== portArgument && index !== portArgument + 1);
const astro = join(repoRoot, "node_modules/.bin/astro");
const result = await execa(astro, ["preview", "--root", repoRoot, "--port", String(port), ...passed], {
  cwd: repoRoot,
  env: {
    ASTRO_TELEMETRY_DISABLED: "1",
    ECHO_OUTPUT_DIR: outputDir,
    ECHO_SITE_OUT_DIR: siteDir,
    ECHO_SITE_BASE: base,
  },
  stdio: "inherit",
  reject: false,
});
process.exitCode = result.exitCode ?? 1;
