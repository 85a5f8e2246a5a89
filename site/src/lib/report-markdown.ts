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
  // Each table sits in a labelled box that scrolls sideways on its own (named after the section it is in), so a
  // wide table never widens the page.
  renderer.renderer.rules.table_open = (tokens, index, options, _env, self) => {
    let section = "Run report";
    for (let at = index - 1; at >= 0; at -= 1) {
      if (tokens[at]?.type === "heading_open") {
        section = tokens[at + 1]?.content ?? section;
        break;
      }
    }
    const label = escapeHtml(`${section} (table)`);
    return `<div class="table-scroll" role="region" aria-label="${label}" tabindex="0">${self.renderToken(tokens, index, options)}`;
  };
  renderer.renderer.rules.table_close = (tokens, index, options, _env, self) =>
    `${self.renderToken(tokens, index, options)}</div>\n`;
  // Column alignment as a class, not a style attribute: the site's Content-Security-Policy allows no inline style.
  for (const rule of ["th_open", "td_open"] as const) {
    renderer.renderer.rules[rule] = (tokens, index, options, _env, self) => {
      const token = tokens[index];
      const align = /text-align:\s*(\w+)/.exec(String(token?.attrGet("style") ?? ""))?.[1];
      if (token && align) {
        token.attrs = (token.attrs ?? []).filter(([name]) => name !== "style");
        token.attrJoin("class", align === "right" ? "num" : `align-${align}`);
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
