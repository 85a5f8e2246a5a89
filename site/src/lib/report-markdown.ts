// Run reports (run_report_<run id>.md) rendered to HTML for the run pages. The pipeline escapes every input
// text it writes into a report (pipeline/lib/markdown.ts); this renderer is the second line: whatever a
// report holds, it shows no raw HTML, no image and no link to anything but http(s) or the site itself.
import MarkdownIt from "markdown-it";

/**
 * Whether a link target may become a link: an http(s) address, or a relative one (a path, a query, a
 * fragment). Anything with another scheme (javascript:, data:, file:, mailto:…) and protocol-relative
 * addresses (//host, which leave the site) stay text.
 */
export function isAllowedReportLink(url: string): boolean {
  const href = url.trim();
  if (/^[\\/]{2}/.test(href) || /^\/\\/.test(href)) return false;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(href);
  return scheme === null || /^https?$/i.test(scheme[1] as string);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (character) =>
    character === "&" ? "&amp;" : character === "<" ? "&lt;" : character === ">" ? "&gt;" : "&quot;",
  );
}

/**
 * Renders a run report. html: false — report cells carry text from the inputs; it must render as text, never
 * as markup. Images are off: `![alt](src)` shows its alt text, nothing is fetched. Links the report makes
 * relative to the site's root (advisory/?id=…) are given the site's base, so they work from any page.
 * headingOffset moves the report's headings down (1: # becomes <h2>).
 */
export function renderReport(markdown: string, base: string, headingOffset = 0): string {
  const renderer = new MarkdownIt({ html: false, linkify: false, typographer: false });
  renderer.validateLink = isAllowedReportLink;
  renderer.renderer.rules.image = (tokens, index, options, env, self) =>
    escapeHtml(self.renderInlineAsText(tokens[index]?.children ?? [], options, env));
  // Embedded under a page's own headings, the report's "# Run report" becomes e.g. an <h3>.
  for (const rule of ["heading_open", "heading_close"] as const) {
    renderer.renderer.rules[rule] = (tokens, index, options, _env, self) => {
      const token = tokens[index];
      if (token && headingOffset > 0) {
        token.tag = `h${Math.min(6, Number(token.tag.slice(1)) + headingOffset)}`;
      }
      return self.renderToken(tokens, index, options);
    };
  }
  const defaultLinkOpen =
    renderer.renderer.rules.link_open ??
    ((tokens, index, options, _env, self) => self.renderToken(tokens, index, options));
  renderer.renderer.rules.link_open = (tokens, index, options, env, self) => {
    const token = tokens[index];
    const href = String(token?.attrGet("href") ?? "");
    if (token && href && !/^([a-z][a-z0-9+.-]*:|\/|#)/i.test(href)) token.attrSet("href", `${base}/${href}`);
    return defaultLinkOpen(tokens, index, options, env, self);
  };
  return renderer.render(markdown);
}
