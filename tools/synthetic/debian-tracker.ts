import type { TextSink } from "./sinks.ts";

/**
 * The Debian Security Tracker's whole-dataset JSON (`{ package: { id: { description, releases: { codename:
 * release } } } }`), compact as the tracker serves it: the release entries in the tracker's own field
 * names, and a writer that streams the document package by package.
 */

/** A tracker release entry, in the tracker's own field names. */
export interface TrackerRelease {
  status: "resolved" | "open" | "undetermined";
  repositories: Record<string, string>;
  fixed_version?: string;
  urgency: string;
  nodsa?: string;
  nodsa_reason?: string;
}

/** One tracker entry: what Debian says about a CVE (or TEMP id) in one package. */
export interface TrackerEntry {
  scope?: "remote" | "local";
  debianbug?: number;
  description?: string;
  /** Releases by codename; the tracker writes `[]` for an entry without any. */
  releases: Record<string, TrackerRelease> | [];
}

/** An entry with the tracker's key order, leaving out the fields not given. */
export function trackerEntry(
  fields: Omit<TrackerEntry, "releases">,
  releases: TrackerEntry["releases"],
): TrackerEntry {
  return {
    ...(fields.scope !== undefined ? { scope: fields.scope } : {}),
    ...(fields.debianbug !== undefined ? { debianbug: fields.debianbug } : {}),
    ...(fields.description !== undefined ? { description: fields.description } : {}),
    releases,
  };
}

/** What Debian says about one release, before it is put in the tracker's words. */
export type ReleaseState =
  | { kind: "fixed"; version: string }
  | { kind: "not_affected" }
  | { kind: "open"; urgency?: string; nodsa?: string; reason?: string }
  | { kind: "undetermined" };

/** A release entry: `current` is the version in the suite when the state does not name one. */
export function trackerRelease(
  codename: string,
  state: ReleaseState,
  urgency: string,
  current: string,
): TrackerRelease {
  switch (state.kind) {
    case "fixed":
      return {
        status: "resolved",
        repositories: { [codename]: state.version },
        fixed_version: state.version,
        urgency: urgency === "unimportant" ? "low" : urgency,
      };
    case "not_affected":
      return {
        status: "resolved",
        repositories: { [codename]: current },
        fixed_version: "0",
        urgency: "unimportant",
      };
    case "undetermined":
      return { status: "undetermined", repositories: { [codename]: current }, urgency: "not yet assigned" };
    case "open":
      return {
        status: "open",
        repositories: { [codename]: current },
        urgency: state.urgency ?? urgency,
        ...(state.nodsa !== undefined ? { nodsa: state.nodsa } : {}),
        ...(state.reason !== undefined ? { nodsa_reason: state.reason } : {}),
      };
  }
}

export const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The document, one package at a time in name order; counts what it wrote. */
export class TrackerJsonWriter {
  private readonly sink: TextSink;
  packages = 0;
  entries = 0;
  releaseEntries = 0;

  constructor(sink: TextSink) {
    this.sink = sink;
    sink.write("{");
  }

  /** A package's entries (an entry is `{ …, releases }`; `releases` may be `[]`, as the tracker has it). */
  package(name: string, entries: [id: string, entry: TrackerEntry][]): void {
    if (entries.length === 0) return;
    entries.sort((a, b) => byCodeUnits(a[0], b[0]));
    for (const [, entry] of entries) {
      this.entries += 1;
      if (!Array.isArray(entry.releases)) this.releaseEntries += Object.keys(entry.releases).length;
    }
    this.sink.write(
      `${this.packages > 0 ? "," : ""}${JSON.stringify(name)}:${JSON.stringify(Object.fromEntries(entries))}`,
    );
    this.packages += 1;
  }

  close(): void {
    this.sink.write("}\n");
  }
}
