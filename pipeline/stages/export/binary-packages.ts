import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { PipelineError } from "../../lib/errors.ts";
import { decodeUtf8 } from "../../sources/read-input.ts";
import { debianPackagePattern } from "../../sources/types.ts";

/**
 * The binary packages each source package builds, read from a Debian `Sources` index: the file an apt
 * repository already publishes beside its `Packages` (dists/<suite>/<component>/source/Sources, plain or
 * .gz). It is a deb822 file (Debian Policy 5.1): stanzas separated by blank lines, each a list of
 * `Field: value` lines, a value continued on lines that start with a space or tab. Two fields are read:
 * `Package`, the source package, and `Binary`, the comma-separated binary packages it builds (long lists
 * are folded over several lines). Every other field (Version, Files, Package-List…) may be there and is
 * ignored, so an index is used as the repository publishes it.
 *
 * A source package listed in several stanzas (several versions in one index) builds the union of their
 * binary packages. The names are sorted (byte order) and unique.
 */
export type BinaryPackageMap = ReadonlyMap<string, readonly string[]>;

const formatHint =
  "a Debian Sources index: stanzas of `Package: <source package>` and `Binary: <binary>, <binary>, …`, separated by blank lines";

/** Enough for Debian's whole main archive (about 60 MB uncompressed), far beyond one vendor's. */
const maxUncompressedBytes = 512 * 1024 * 1024;

/** A field's value as written: its first line's text after the colon, then each continuation line. */
interface FieldValue {
  name: string;
  line: number;
  pieces: { text: string; line: number }[];
}

interface Stanza {
  firstLine: number;
  lastLine: number;
  fields: Map<string, FieldValue>;
}

function problem(file: string, line: number, key: string | undefined, message: string): PipelineError {
  return new PipelineError(message, { location: { file, line, ...(key ? { key } : {}) }, hint: formatHint });
}

/** A field line: a name of printable ASCII without space or colon, not starting with # or -, then a colon. */
const fieldLine = /^([!-9;-~]+):(.*)$/;

/** Reads a Sources index's text into a map; the first problem is an error naming file, line and field. */
export function parseSourcesIndex(text: string, file: string): BinaryPackageMap {
  const binaries = new Map<string, Set<string>>();
  let stanza: Stanza | undefined;
  let current: FieldValue | undefined;
  const finish = () => {
    if (stanza) addStanza(stanza, file, binaries);
    stanza = undefined;
    current = undefined;
  };
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index += 1) {
    const line = (lines[index] as string).replace(/\r$/, "");
    const number = index + 1;
    if (/^[ \t]*$/.test(line)) {
      finish();
      continue;
    }
    if (line.startsWith("#")) continue;
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (!current || !stanza) {
        throw problem(
          file,
          number,
          undefined,
          "a continuation line (starting with a space) that continues no field",
        );
      }
      current.pieces.push({ text: line.trim(), line: number });
      stanza.lastLine = number;
      continue;
    }
    const match = fieldLine.exec(line);
    if (!match || line.startsWith("-")) {
      throw problem(
        file,
        number,
        undefined,
        line.startsWith("-----BEGIN PGP")
          ? "the file is signed (an InRelease-style wrapper); give the Sources index itself"
          : `${JSON.stringify(line.slice(0, 60))} is neither a field (Name: value), a continuation line (starting with a space) nor a blank line between stanzas`,
      );
    }
    const name = match[1] as string;
    stanza ??= { firstLine: number, lastLine: number, fields: new Map() };
    const key = name.toLowerCase();
    const earlier = stanza.fields.get(key);
    if (earlier) {
      throw problem(
        file,
        number,
        name,
        `the field ${name} appears twice in one stanza (first on line ${earlier.line})`,
      );
    }
    current = { name, line: number, pieces: [{ text: (match[2] as string).trim(), line: number }] };
    stanza.fields.set(key, current);
    stanza.lastLine = number;
  }
  finish();
  if (binaries.size === 0) throw problem(file, 1, undefined, "the file has no stanza: it is empty");
  return new Map(
    [...binaries]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([source, names]) => [source, [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))]),
  );
}

function addStanza(stanza: Stanza, file: string, binaries: Map<string, Set<string>>): void {
  const where = `the stanza on lines ${stanza.firstLine}–${stanza.lastLine}`;
  const packageField = stanza.fields.get("package");
  if (!packageField) throw problem(file, stanza.firstLine, "Package", `${where} has no Package field`);
  const source = packageField.pieces
    .map((piece) => piece.text)
    .join(" ")
    .trim();
  if (packageField.pieces.length > 1 || !debianPackagePattern.test(source) || source.length > 100) {
    throw problem(
      file,
      packageField.line,
      "Package",
      `${JSON.stringify(source.slice(0, 60))} is not a Debian source package name`,
    );
  }
  const binaryField = stanza.fields.get("binary");
  if (!binaryField) {
    throw problem(
      file,
      stanza.firstLine,
      "Binary",
      `${where} (source package ${source}) has no Binary field`,
    );
  }
  const names = binaries.get(source) ?? new Set<string>();
  // Folded lines are one value: "a, b,\n c" is a, b, c. Each name is checked on the line it is written on.
  // A line of a folded list may end with its comma, and the first may be empty (`Binary:` then the list).
  let count = 0;
  for (const [pieceIndex, piece] of binaryField.pieces.entries()) {
    if (piece.text === "") continue;
    const parts = piece.text.split(",").map((part) => part.trim());
    if (parts.at(-1) === "" && pieceIndex < binaryField.pieces.length - 1) parts.pop();
    for (const name of parts) {
      if (name === "") {
        throw problem(
          file,
          piece.line,
          "Binary",
          `the Binary field of ${source} has an empty entry (two commas in a row, or a comma at its end)`,
        );
      }
      if (!debianPackagePattern.test(name) || name.length > 100) {
        throw problem(
          file,
          piece.line,
          "Binary",
          `${JSON.stringify(name.slice(0, 60))} is not a Debian binary package name (in the Binary field of ${source})`,
        );
      }
      names.add(name);
      count += 1;
    }
  }
  if (count === 0) throw problem(file, binaryField.line, "Binary", `the Binary field of ${source} is empty`);
  binaries.set(source, names);
}

/** Reads a Sources index from a file, plain or gzip-compressed (told by its first bytes, not its name). */
export async function readBinaryPackageMap(path: string): Promise<BinaryPackageMap> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PipelineError(
      code === "ENOENT" ? "file not found" : `cannot read the file (${code ?? error})`,
      { location: { file: path }, hint: "openvex.binary_packages names a Debian Sources index" },
    );
  }
  return parseSourcesIndex(decodeUtf8(uncompressed(bytes, path), path), path);
}

function uncompressed(bytes: Uint8Array, path: string): Uint8Array {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes, { maxOutputLength: maxUncompressedBytes });
    } catch (error) {
      throw new PipelineError(
        `not a readable gzip file: ${error instanceof Error ? error.message : String(error)}`,
        { location: { file: path }, hint: "give the Sources index plain or gzip-compressed (Sources.gz)" },
      );
    }
  }
  if ([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00].every((byte, index) => bytes[index] === byte)) {
    throw new PipelineError("compressed with xz, which is not read", {
      location: { file: path },
      hint: "give the Sources index plain or gzip-compressed (Sources.gz)",
    });
  }
  return bytes;
}
