// Plain-text layout for what the CLI and the demo print to a terminal: aligned tables, wrapped prose and
// the "from → to" label of a decision change. One place, so both print the same way.

/** Aligned columns, two spaces apart, indented by two; no trailing spaces. */
export function table(headers: string[], rows: string[][], alignRight: boolean[] = []): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const render = (cells: string[]) =>
    `  ${cells
      .map((cell, column) =>
        alignRight[column] ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join("  ")}`.trimEnd();
  return [render(headers), ...rows.map(render)];
}

/** Word-wraps prose for a terminal; a word longer than the width stays whole. */
export function wrap(prose: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of prose.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** A decision change as people read it: `new → fixed`, `fixed → no longer listed`. */
export function changeLabel(from: string | null, to: string | null): string {
  return `${from ?? "new"} → ${to ?? "no longer listed"}`;
}
