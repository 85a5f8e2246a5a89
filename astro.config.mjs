// The site is a reader of the pipeline's output: pages load the files in output/ at build time and never
// recompute a decision. ECHO_OUTPUT_DIR points it at another run's output (tests use temporary folders).
import mdx from "@astrojs/mdx";
import { defineConfig } from "astro/config";

const outputDir = process.env.ECHO_OUTPUT_DIR ?? "output";

export default defineConfig({
  srcDir: "./site/src",
  publicDir: "./site/public",
  outDir: process.env.ECHO_SITE_OUT_DIR ?? `${outputDir}/site`,
  // A build into another folder (tests, in parallel) keeps its cache beside it instead of sharing one;
  // site/build.ts (npm run site:build) also keeps Astro's intermediate files beside it.
  cacheDir: process.env.ECHO_SITE_OUT_DIR ? `${process.env.ECHO_SITE_OUT_DIR}.cache` : "./.astro-cache",
  // GitHub Pages serves the site under /<repository>/; ECHO_SITE_BASE sets that prefix.
  base: process.env.ECHO_SITE_BASE ?? "/",
  trailingSlash: "ignore",
  integrations: [mdx()],
  // Shiki colours code blocks with style attributes, which the CSP below blocks; the pages have no code
  // blocks to colour.
  markdown: { syntaxHighlight: false },
  // GitHub Pages sets no headers, so the policy travels in each page's <meta http-equiv>. Astro writes it and
  // hashes the scripts and styles it bundles or inlines itself (script-src/style-src: 'self' plus those
  // hashes), so no inline script or style runs unless Astro emitted it. No 'unsafe-inline' for styles either:
  // the pages carry no style attributes (the report renderer turns column alignment into classes) and the
  // charts' SVG comes without Plot's <style> element (its rules are in the layout's stylesheet).
  // JSON data blocks (<script type="application/json">) are not scripts and need nothing.
  security: {
    csp: {
      algorithm: "SHA-256",
      directives: [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
      ],
    },
  },
});
