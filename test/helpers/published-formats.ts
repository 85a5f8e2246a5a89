import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { expect } from "vitest";
import type { z } from "zod";
import { advisoryCurrentSchema } from "../../pipeline/formats/advisory-current.ts";
import { changesDocumentSchema } from "../../pipeline/formats/changes.ts";
import { cveFactsDocumentSchema } from "../../pipeline/formats/cve-facts.ts";
import { jsonSchemaOf, type PublicSchema, publicSchemas } from "../../pipeline/formats/json-schema.ts";
import { ledgerTransition } from "../../pipeline/formats/ledger-transition.ts";
import { openVexDocumentSchema } from "../../pipeline/formats/openvex.ts";
import { runSummarySchema } from "../../pipeline/formats/run-summary.ts";
import { vendorFeedSchema } from "../../pipeline/formats/vendor-feed.ts";

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

export function publicSchema(name: string): PublicSchema {
  const found = publicSchemas.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no public schema ${name}`);
  return found;
}

/** The JSON Schema the site publishes for `name`, compiled once. */
export function jsonSchemaValidator(name: string): ReturnType<typeof ajv.compile> {
  let validate = compiled.get(name);
  if (!validate) {
    validate = ajv.compile(jsonSchemaOf(publicSchema(name)));
    compiled.set(name, validate);
  }
  return validate;
}

/** A value is what its zod schema and the JSON Schema generated from it both accept (first problems named). */
export function expectValid(name: string, schema: z.ZodType, value: unknown, where: string): void {
  const parsed = schema.safeParse(value);
  expect(parsed.success ? [] : parsed.error.issues.slice(0, 3), where).toEqual([]);
  const validate = jsonSchemaValidator(name);
  validate(value);
  expect(validate.errors?.slice(0, 3) ?? [], where).toEqual([]);
}

const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8")) as unknown;

async function listed(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory)).filter((name) => !name.endsWith(".tmp")).sort();
  } catch {
    return [];
  }
}

/**
 * Every file a run published in `outputDir` checked against its format (pipeline/formats): the feeds, the
 * summary, each run's summary copy, every change file and every line of every ledger file. Returns how many ledger lines it read.
 */
export async function expectPublishedFilesValid(outputDir: string): Promise<number> {
  const at = (name: string) => join(outputDir, name);
  expectValid(
    "advisory_current",
    advisoryCurrentSchema,
    await readJson(at("advisory_current.json")),
    at("advisory_current.json"),
  );
  expectValid("data", vendorFeedSchema, await readJson(at("data.json")), at("data.json"));
  expectValid(
    "cve_facts",
    cveFactsDocumentSchema,
    await readJson(at("cve_facts.json")),
    at("cve_facts.json"),
  );
  expectValid("openvex", openVexDocumentSchema, await readJson(at("openvex.json")), at("openvex.json"));
  expectValid(
    "run_summary",
    runSummarySchema,
    await readJson(at("run_summary.json")),
    at("run_summary.json"),
  );
  for (const name of await listed(at("history/runs"))) {
    const path = at(`history/runs/${name}`);
    expectValid("run_summary", runSummarySchema, await readJson(path), path);
  }
  for (const name of await listed(at("changes"))) {
    const path = at(`changes/${name}`);
    expectValid("changes", changesDocumentSchema, await readJson(path), path);
  }
  let lines = 0;
  for (const name of await listed(at("history/transitions"))) {
    const path = at(`history/transitions/${name}`);
    const text = await readFile(path, "utf8");
    for (const [index, line] of text.trimEnd().split("\n").entries()) {
      expectValid("ledger_line", ledgerTransition, JSON.parse(line), `${path}:${index + 1}`);
      lines += 1;
    }
  }
  return lines;
}
