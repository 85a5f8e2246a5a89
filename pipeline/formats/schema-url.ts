/**
 * Where the site publishes a public file's JSON Schema (json-schema.ts generates it): schemas/<name>.schema.json
 * at the site's root. A published file names its schema in `$schema`: absolute under site.public_url when the
 * site's address is configured, else relative (it resolves against the file's own address: both sit at the root).
 */
export function schemaFileName(name: string): string {
  return `${name}.schema.json`;
}

export function publishedSchemaUrl(name: string, publicUrl?: string): string {
  const path = `schemas/${schemaFileName(name)}`;
  return publicUrl ? `${publicUrl.replace(/\/+$/, "")}/${path}` : path;
}
