/**
 * Text from the inputs (CSV cells, data.json keys, upstream details, error messages) written into Markdown
 * (the run reports, GitHub job summaries) must read as the text it is, never as markup: `[Click](…)` must
 * not become a link, `![x](…)` a remote image, `<b>` HTML, `# x` a heading.
 *
 * markdownText escapes, with a backslash (CommonMark: any ASCII punctuation may be escaped), every character
 * that can open markup inside a line, and, for text that starts a line, the block markers:
 * - anywhere: `\` and `` ` `` (escapes, code), `*` (emphasis), `[` `]` (links and images: without an
 *   unescaped `[`, neither `](…)` nor `!` nor `(` `)` can form one), `{` `}`, `~` (strikethrough), `|`
 *   (table cells), `&` (entities); `<` and `>` become `&lt;` `&gt;` (raw HTML, autolinks);
 * - `_` where it can open or close emphasis: everywhere but between two letters or digits
 *   (`not_applicable` stays as written, `_x_` does not);
 * - GitHub's autolinks: `://` and `www.` are broken up, so a bare `https://…` stays text there too;
 * - at the start of a line (lineStart): `#` (heading), `-` `+` `=` (list, setext), `1.` `1)` (ordered list),
 *   and leading spaces (an indented code block), which become `&#32;`;
 * - line breaks become spaces: a value is one line (a table row, a list item).
 */
export function markdownText(value: unknown, options: { lineStart?: boolean } = {}): string {
  let text = String(value ?? "")
    .replace(/\r\n?|\n/g, " ")
    .replace(/[\\`*[\]{}~|&]/g, (character) => `\\${character}`)
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/_/g, (character, offset: number, whole: string) =>
      /[\p{L}\p{N}]/u.test(whole[offset - 1] ?? "") && /[\p{L}\p{N}]/u.test(whole[offset + 1] ?? "")
        ? character
        : `\\${character}`,
    )
    .replace(/:\/\//g, "\\://")
    .replace(/\bwww\./gi, (match) => `${match.slice(0, 3)}\\.`);
  if (options.lineStart) {
    text = text
      .replace(/^[ \t]+/, (spaces) => "&#32;".repeat(spaces.length))
      .replace(/^([#+=-])/, "\\$1")
      .replace(/^(\d{1,9})([.)])/, "$1\\$2");
  }
  return text;
}

/**
 * Text as a code span: shown verbatim in a fixed-width font. The fence is one backtick longer than the
 * longest run inside, padded with a space when the text starts or ends with a backtick. In a table cell a `|`
 * still ends the cell inside code (GFM), so it is escaped there (GFM shows `\|` in a code span as `|`).
 */
export function markdownCode(value: unknown, options: { inTable?: boolean } = {}): string {
  let text = String(value ?? "").replace(/\r\n?|\n/g, " ");
  if (options.inTable) text = text.replace(/\|/g, "\\|");
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((run) => run[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = /^[` ]|[` ]$/.test(text) && text.trim() !== "" ? " " : "";
  return text === "" ? "" : `${fence}${pad}${text}${pad}${fence}`;
}
