/**
 * Where the site publishes a public file's JSON Schema (json-schema.ts generates it): schemas/<name>.schema.json
 * at the site's root. A published file names its schema in `$schema`: absolute under site.public_url when the
 * site's address is configured, else relative (resolved against the file's own address).
 */
export function schemaFileName(name: string): string {
  return `${name}.schema.json`;
}

/** `fromFolder`: the published file's folder under the site's root ("changes" for changes/<run id>.json). */
export function publishedSchemaUrl(name: string, publicUrl?: string, fromFolder?: string): string {
  const path = `schemas/${schemaFileName(name)}`;
  if (publicUrl) return `${publicUrl.replace(/\/+$/, "")}/${path}`;
  return fromFolder ? `${"../".repeat(fromFolder.split("/").length)}${path}` : path;
}
