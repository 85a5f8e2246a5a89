// Build-time facts about the published files for the feeds page: size, SHA-256, the run that published them.
// Nothing here decides anything; every fact is read from the files themselves.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { advisoryCurrentFileName } from "../../../pipeline/formats/advisory-current.ts";
import {
  changeFeedFileName,
  changesDirectory,
  changesDirectoryName,
} from "../../../pipeline/formats/changes.ts";
import { publicSchemas, schemaFileName } from "../../../pipeline/formats/json-schema.ts";
import { runIdFileNamePattern, timeOfRunId } from "../../../pipeline/formats/run-id.ts";
import { outputDir } from "./output.ts";

export interface PublishedFile {
  /** The path under the site's root, e.g. `changes/20260131T070000Z.json`. */
  path: string;
  title: string;
  description: string;
  bytes: number;
  sha256: string;
  /** The run that published the file, and its clock; null when the file does not say (an older file). */
  runId: string | null;
  publishedAt: string | null;
  /** The schema's path under the site's root (schemas/…), or a specification's address. */
  schema: { href: string; label: string } | null;
}

/** The first members of a file in the listed layout (formats/listed-document.ts), read from its first bytes. */
async function headerMembers(path: string): Promise<Record<string, unknown>> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(16 * 1024);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    const members: Record<string, unknown> = {};
    for (const line of buffer.subarray(0, bytesRead).toString("utf8").split("\n").slice(1)) {
      if (!/^"[^"]+": .*,$/.test(line) || line.endsWith("[,")) break;
      try {
        Object.assign(members, JSON.parse(`{${line.slice(0, -1)}}`));
      } catch {
        break;
      }
    }
    return members;
  } finally {
    await file.close();
  }
}

/** SHA-256 of a file, streamed: advisory_current.json passes 1 GB at 25× the vendor's data. */
async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 8 * 1024 * 1024 })) hash.update(chunk);
  return hash.digest("hex");
}

const schemaNames = new Set(publicSchemas.map((entry) => entry.name));
const schemaOf = (name: string) =>
  schemaNames.has(name) ? { href: `schemas/${schemaFileName(name)}`, label: schemaFileName(name) } : null;

/** The newest kept change file's name, if any. */
function latestChangeFile(): string | undefined {
  const directory = changesDirectory(outputDir);
  if (!existsSync(directory)) return undefined;
  const pattern = runIdFileNamePattern("", ".json");
  return readdirSync(directory)
    .filter((name) => pattern.test(name))
    .sort()
    .at(-1);
}

/**
 * The site's public address as the run knew it: advisory_current.json's `$schema` is absolute under
 * site.public_url when that is configured. Undefined otherwise.
 */
export async function publicUrlOfRun(): Promise<string | undefined> {
  const path = join(outputDir, advisoryCurrentFileName);
  if (!existsSync(path)) return undefined;
  const schema = (await headerMembers(path)).$schema;
  const suffix = `schemas/${schemaFileName("advisory_current")}`;
  return typeof schema === "string" && /^https?:\/\//.test(schema) && schema.endsWith(suffix)
    ? schema.slice(0, -suffix.length)
    : undefined;
}

/** Every published feed file present in the output, in the order the feeds page lists them. */
export async function loadPublishedFiles(): Promise<PublishedFile[]> {
  const advisoryPath = join(outputDir, advisoryCurrentFileName);
  // Every file of a release is published by one run: advisory_current.json names it.
  const release = existsSync(advisoryPath) ? await headerMembers(advisoryPath) : {};
  const releaseRun = {
    runId: typeof release.run_id === "string" ? release.run_id : null,
    publishedAt: typeof release.generated_at === "string" ? release.generated_at : null,
  };
  const latestChange = latestChangeFile();
  const candidates: Omit<PublishedFile, "bytes" | "sha256" | "runId" | "publishedAt">[] = [
    {
      path: "data.json",
      title: "data.json (scanner feed)",
      description:
        'The vendor\'s data.json shape, rewritten from the decisions: fixed advisories carry the decided fixed version, not-applicable ones the version from which the package is unaffected ("0" when every version is). Existing scanner integrations read it unchanged.',
      schema: schemaOf("data"),
    },
    {
      path: advisoryCurrentFileName,
      title: "advisory_current.json",
      description:
        "Every advisory with its state, reason code, confidence, explanation, the sources that agree and dissent, the evidence of each source and a link to its history. One advisory per line; it names its schema, format version and run.",
      schema: schemaOf("advisory_current"),
    },
    {
      path: "openvex.json",
      title: "openvex.json (OpenVEX v0.2.0)",
      description:
        "One OpenVEX statement per advisory. Products are package URLs as scanners name the vendor's packages (pkg:deb/echo/<package>?distro=echo-1 by default): every binary package of the source package when the binary package map is configured, otherwise the source package, which a scanner matches only to a binary package of the same name. A fixed statement names the fixed version. Statuses and justifications come from the rule catalogue.",
      schema: schemaOf("openvex"),
    },
    {
      path: "cve_facts.json",
      title: "cve_facts.json",
      description:
        "What the run's sources say about each vulnerability: description, severity, CWE, dates and references, each naming its source.",
      schema: schemaOf("cve_facts"),
    },
    ...(latestChange
      ? [
          {
            path: `${changesDirectoryName}/${latestChange}`,
            title: "The latest change file",
            description:
              "What the latest publishing run changed in advisory_current.json: each advisory added, updated or removed, with its new record. Applied to the previous advisory_current.json (its previous_run_id) it gives the current one. The last 30 runs' files are kept under changes/<run id>.json.",
            schema: schemaOf("changes"),
          },
        ]
      : []),
    {
      path: changeFeedFileName,
      title: "changes.atom (Atom 1.0)",
      description:
        "The last 20 publishing runs, one entry each, titled with its counts and linking its change file and its run page. Subscribe in a feed reader.",
      schema: { href: "https://www.rfc-editor.org/rfc/rfc4287", label: "RFC 4287 (Atom)" },
    },
  ];
  const files: PublishedFile[] = [];
  for (const candidate of candidates) {
    const path = join(outputDir, candidate.path);
    if (!existsSync(path)) continue;
    const own = candidate.path.endsWith(".json") ? await headerMembers(path) : {};
    files.push({
      ...candidate,
      bytes: statSync(path).size,
      sha256: await sha256Of(path),
      runId: typeof own.run_id === "string" ? own.run_id : releaseRun.runId,
      publishedAt:
        typeof own.generated_at === "string"
          ? own.generated_at
          : (releaseRun.publishedAt ?? (releaseRun.runId ? timeOfRunId(releaseRun.runId) : null)),
    });
  }
  return files;
}
