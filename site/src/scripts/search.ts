// Client-side search over the advisory index. Data loads after the page: the compact index (ids, states,
// reasons, sources, CVE dates, severity scores, known-exploited marks), and the explanation texts only once a
// query is typed, so a CVE or package search answers before the texts arrive. The query, filters, sort and
// page live in the URL. Submitting an exact package name or CVE id opens that package's or CVE's page.
// Every value is written with textContent: upstream text never becomes markup.
import type { AdvisoryIndex, IndexRow } from "../lib/data-types.ts";
import {
  advisoryHref,
  base,
  cveHref,
  cveNumber,
  cveSortDay,
  dayText,
  element,
  fetchJson,
  link,
  packageHref,
  readPageData,
  severityCell,
  stateCell,
  tableRow,
  versionText,
} from "./common.ts";

export const pageSize = 100;

type SortKey = "id" | "date" | "severity" | "state";
const sortKeys: SortKey[] = ["id", "date", "severity", "state"];

export { advisoryHref };

export function startSearch(): void {
  const data = readPageData();
  const form = document.getElementById("search-form") as HTMLFormElement;
  const query = document.getElementById("search-q") as HTMLInputElement;
  const state = document.getElementById("search-state") as HTMLSelectElement;
  const reason = document.getElementById("search-reason") as HTMLSelectElement;
  const source = document.getElementById("search-source") as HTMLSelectElement;
  const sort = document.getElementById("search-sort") as HTMLSelectElement;
  const status = document.getElementById("search-status") as HTMLElement;
  const body = document.querySelector("#search-results tbody") as HTMLTableSectionElement;
  const pager = document.getElementById("search-pager") as HTMLElement;

  // The form mirrors the URL, so a search is a link and survives a reload.
  const fields = { q: query, state, reason, source, sort } as const;
  const params = new URLSearchParams(location.search);
  for (const [name, field] of Object.entries(fields)) field.value = params.get(name) ?? "";
  if (!sortKeys.includes(sort.value as SortKey)) sort.value = "id";
  let page = Math.max(1, Math.floor(Number(params.get("page") ?? "1")) || 1);

  let index: AdvisoryIndex | undefined;
  let lowerIds: string[] = [];
  let lowerTexts: string[] | undefined;
  let textsRequested = false;
  let stateOrder: number[] = [];

  const writeUrl = () => {
    const next = new URLSearchParams();
    for (const [name, field] of Object.entries(fields)) {
      if (field.value && !(name === "sort" && field.value === "id")) next.set(name, field.value);
    }
    if (page > 1) next.set("page", String(page));
    const search = next.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
  };

  const compare = (key: SortKey, rows: IndexRow[]) => {
    // Newest, most severe first; the state in lifecycle order; ties by id, as the index lists them.
    if (key === "date")
      return (a: number, b: number) =>
        cveSortDay(rows[b]?.[0], rows[b]?.[5]) - cveSortDay(rows[a]?.[0], rows[a]?.[5]) ||
        cveNumber(rows[b]?.[0]) - cveNumber(rows[a]?.[0]) ||
        a - b;
    if (key === "severity")
      return (a: number, b: number) => (rows[b]?.[6] ?? -1) - (rows[a]?.[6] ?? -1) || a - b;
    if (key === "state")
      return (a: number, b: number) =>
        (stateOrder[rows[a]?.[1] ?? 0] ?? 0) - (stateOrder[rows[b]?.[1] ?? 0] ?? 0) || a - b;
    return (a: number, b: number) => a - b;
  };

  const headers = ["Advisory", "State", "Severity", "Known exploited", "Version", "CVE date"];
  const render = () => {
    if (!index) return;
    const loaded = index;
    const tokens = query.value.toLowerCase().split(/\s+/).filter(Boolean);
    const stateIndex = state.value ? loaded.states.indexOf(state.value) : -1;
    const reasonIndex = reason.value ? loaded.reasons.indexOf(reason.value) : -1;
    const sourceBit = source.value ? loaded.sources.indexOf(source.value) : -1;
    const impossible =
      (state.value && stateIndex < 0) || (reason.value && reasonIndex < 0) || (source.value && sourceBit < 0);
    const matches: number[] = [];
    if (!impossible) {
      loaded.rows.forEach((row, position) => {
        if (stateIndex >= 0 && row[1] !== stateIndex) return;
        if (reasonIndex >= 0 && row[2] !== reasonIndex) return;
        if (sourceBit >= 0 && (row[3] & (1 << sourceBit)) === 0) return;
        for (const token of tokens) {
          const inId = (lowerIds[position] as string).includes(token);
          const inVersion = (row[4] ?? "").toLowerCase().includes(token);
          const inText = lowerTexts?.[position]?.includes(token) ?? false;
          if (!inId && !inVersion && !inText) return;
        }
        matches.push(position);
      });
    }
    if ((sort.value as SortKey) !== "id") matches.sort(compare(sort.value as SortKey, loaded.rows));
    const pages = Math.max(1, Math.ceil(matches.length / pageSize));
    if (page > pages) page = pages;
    const first = (page - 1) * pageSize;
    const rows = matches.slice(first, first + pageSize).map((position) => {
      const [id, stateOf, , , fixed, published, score, kev, unaffected] = loaded.rows[position] as IndexRow;
      const stateName = loaded.states[stateOf] as string;
      const row = tableRow(headers, [
        link(id, advisoryHref(id)),
        stateCell(data, stateName),
        severityCell(score),
        kev ? element("span", "Known exploited", { class: "kev-badge" }) : "no",
        versionText(stateName, fixed, unaffected ?? null),
        element("span", dayText(published), { class: "nowrap" }),
      ]);
      row.dataset.advisoryId = id;
      row.className = `state-${stateName}`;
      return row;
    });
    body.replaceChildren(...rows);

    const count = matches.length.toLocaleString("en");
    const noun = matches.length === 1 ? "advisory matches" : "advisories match";
    const shown =
      matches.length > pageSize
        ? `; showing ${(first + 1).toLocaleString("en")}–${(first + rows.length).toLocaleString("en")}`
        : "";
    const pending =
      tokens.length > 0 && textsRequested && !lowerTexts
        ? " (still loading explanations to search their text)"
        : "";
    status.textContent = `${count} ${noun}${shown}${pending}.`;

    const pageButton = (label: string, target: number, disabled: boolean) => {
      const button = element("button", label, { type: "button", "data-page": String(target) });
      button.disabled = disabled;
      return button;
    };
    pager.replaceChildren(
      ...(pages > 1
        ? [
            pageButton("Previous 100", page - 1, page <= 1),
            element("span", `Page ${page} of ${pages.toLocaleString("en")}`),
            pageButton("Next 100", page + 1, page >= pages),
          ]
        : []),
    );
  };

  pager.addEventListener("click", (event) => {
    const target = (event.target as HTMLElement).closest("button");
    if (!target?.dataset.page) return;
    page = Number(target.dataset.page);
    writeUrl();
    render();
    status.scrollIntoView({ block: "nearest" });
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const update = () => {
    page = 1;
    writeUrl();
    clearTimeout(timer);
    timer = setTimeout(render, 60);
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // An exact CVE id or package name opens its page; anything else searches.
    const exact = query.value.trim();
    if (index && exact) {
      const upper = exact.toUpperCase();
      if (/^CVE-\d{4}-\d+$/.test(upper) && index.rows.some((row) => row[0].endsWith(`:${upper}`))) {
        location.assign(cveHref(upper));
        return;
      }
      if (!exact.includes(":") && index.rows.some((row) => row[0].startsWith(`${exact}:`))) {
        location.assign(packageHref(exact));
        return;
      }
    }
    render();
  });

  const fail = (what: string, error: unknown) => {
    status.textContent = `Could not load ${what}: ${error instanceof Error ? error.message : String(error)}.`;
  };
  // The explanations are three times the index (6 MB on the vendor's data): fetched only once someone types
  // a query that is not simply a CVE id or a package name, which the ids answer, so browsing, filtering and
  // the commonest searches never pay for them.
  const answeredByIds = (text: string) => {
    const wanted = text.trim().toLowerCase();
    // Until the index is in, wait: its arrival asks again.
    if (!index || /^cve-\d{4}-\d+$/.test(wanted)) return true;
    return lowerIds.some((id) => id.startsWith(`${wanted}:`));
  };
  const loadTexts = () => {
    if (textsRequested || !query.value.trim() || answeredByIds(query.value)) return;
    textsRequested = true;
    fetchJson<string[]>(`${base}/data/advisory-text.json`)
      .then((loaded) => {
        lowerTexts = loaded.map((text) => text.toLowerCase());
        render();
      })
      .catch((error: unknown) => fail("the explanations", error));
  };
  query.addEventListener("input", () => {
    if (query.value.trim()) loadTexts();
  });
  fetchJson<AdvisoryIndex>(`${base}/data/advisory-index.json`)
    .then((loaded) => {
      index = loaded;
      lowerIds = loaded.rows.map((row) => row[0].toLowerCase());
      const lifecycle = Object.keys(data.states);
      stateOrder = loaded.states.map((name) => {
        const order = lifecycle.indexOf(name);
        return order < 0 ? lifecycle.length : order;
      });
      render();
      if (query.value.trim()) loadTexts();
    })
    .catch((error: unknown) => fail("the advisories", error));
}
