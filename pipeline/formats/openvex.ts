import { join } from "node:path";
import { z } from "zod";

/**
 * openvex.json as we write it: every advisory as one OpenVEX v0.2.0 statement
 * (https://github.com/openvex/spec/blob/main/OPENVEX-SPEC.md), one statement per line (listed-document.ts).
 * A subset of what the spec allows: the fields we fill, and only them.
 */
export const openVexFileName = "openvex.json";
export const openVexContext = "https://openvex.dev/ns/v0.2.0";
export const openVexAuthor = "echo-advisory";
export const openVexTooling = "echo-advisory";

/**
 * Always 1. The spec asks for the version to be incremented whenever the content of a document changes;
 * the pipeline keeps no state about earlier documents, so instead a document with different content is a
 * different document: its @id carries a hash of its content, and every @id is published in exactly one
 * version.
 */
export const openVexDocumentVersion = 1;

/**
 * Products are named as scanners name the packages of the vendor's images (syft:
 * `pkg:deb/echo/<binary package>@<version>?arch=amd64&distro=echo-1`), unless config `openvex:` says otherwise.
 */
export const defaultPurlNamespace = "echo";
export const defaultPurlQualifiers: Readonly<Record<string, string>> = { distro: "echo-1" };

export const vexStatuses = ["not_affected", "affected", "fixed", "under_investigation"] as const;
export type VexStatus = (typeof vexStatuses)[number];

export const vexJustifications = [
  "component_not_present",
  "vulnerable_code_not_present",
  "vulnerable_code_not_in_execute_path",
  "vulnerable_code_cannot_be_controlled_by_adversary",
  "inline_mitigations_already_exist",
] as const;
export type VexJustification = (typeof vexJustifications)[number];

/** RFC 3339 to the second, in UTC. */
const rfc3339Seconds = z.iso.datetime({ precision: 0 });

export const openVexStatementSchema = z
  .object({
    vulnerability: z
      .object({
        "@id": z.url().optional().describe("The CVE's NVD page; absent for ids without a public record."),
        name: z.string().min(1),
      })
      .strict(),
    timestamp: rfc3339Seconds.describe("When the advisory's current decision was made (decided_at)."),
    products: z
      .array(
        z
          .object({
            "@id": z
              .string()
              .regex(/^pkg:[a-z][a-z0-9.+-]*\/[^\s]+$/, "must be a package URL (purl)")
              .describe(
                "A package URL (purl) as scanners name installed packages: pkg:deb/<namespace>/<package>[@<fixed version>][?<qualifiers>], by default pkg:deb/echo/<package>?distro=echo-1.",
              ),
          })
          .strict(),
      )
      .min(1)
      .describe(
        "With config openvex.binary_packages, every binary package of the advisory's source package, in name order; else the source package.",
      ),
    status: z.enum(vexStatuses),
    justification: z.enum(vexJustifications).optional(),
    impact_statement: z.string().min(1).optional(),
    action_statement: z.string().min(1).optional(),
    status_notes: z.string().min(1).optional(),
  })
  .strict();
export type OpenVexStatement = z.infer<typeof openVexStatementSchema>;

export const openVexDocumentSchema = z
  .object({
    "@context": z.literal(openVexContext),
    "@id": z.url(),
    author: z.string().min(1),
    timestamp: rfc3339Seconds,
    version: z.number().int().min(1),
    tooling: z.string().min(1),
    statements: z.array(openVexStatementSchema).describe("One per advisory, sorted by advisory id."),
  })
  .strict();
export type OpenVexDocument = z.infer<typeof openVexDocumentSchema>;

export function openVexPath(outputDir: string): string {
  return join(outputDir, openVexFileName);
}
