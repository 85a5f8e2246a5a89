// The import rules `npm test` enforces (npm run check:imports): the layout stays the architecture.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment: "Modules form layers; a cycle means two of them are one module split in the wrong place.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "site-reads-published-formats-only",
      comment:
        "The site is built from what a run published: it may import pipeline/formats and nothing else of the pipeline.",
      severity: "error",
      from: { path: "^site/" },
      to: { path: "^pipeline/", pathNot: "^pipeline/formats/" },
    },
    {
      name: "formats-stand-alone",
      comment:
        "The published formats are read by the site and by other tools: they depend on no stage, source or history module.",
      severity: "error",
      from: { path: "^pipeline/formats/" },
      to: { path: "^pipeline/", pathNot: "^pipeline/(formats|lib)/" },
    },
    {
      name: "production-without-dev-tools",
      comment: "What runs in production (pipeline/, site/) never imports development tools or tests.",
      severity: "error",
      from: { path: "^(pipeline|site)/" },
      to: { path: "^(tools|test)/" },
    },
    {
      name: "stages-do-not-import-the-orchestrator",
      comment: "Stages are sequenced by pipeline/run.ts; none of them reaches back into it.",
      severity: "error",
      from: { path: "^pipeline/(stages|history|sources|formats|lib)/" },
      to: { path: "^pipeline/(run|cli)\\.ts$" },
    },
  ],
  options: {
    // Type-only imports count: a cycle through types still ties two modules together.
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|\\.state|output|dist|dbt_project/\\.venv)/" },
    tsConfig: { fileName: "tsconfig.json" },
  },
};
