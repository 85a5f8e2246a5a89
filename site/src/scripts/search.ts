// Client-side search over the advisory index. Data loads after the page: the compact index (ids, states,
// reasons, sources), and the explanation texts only once a query is typed, so a CVE or package search
// answers before the texts arrive. Every value is written with textContent: upstream text never becomes markup.
interface AdvisoryIndex {
  generated_at: string | null;
  states: string[];
  reasons: string[];
  sources: string[];
  rows: [string, number, number, number, string | null][];
}

const resultLimit = 100;
const base = import.meta.env.BASE_URL.replace(/\/$/, "");

export function advisoryHref(advisoryId: string): string {
  return `${base}/advisory/?id=${encodeURIComponent(advisoryId)}`;
}

export function startSearch(): void {
  const form = document.getElementById("search-form") as HTMLFormElement;
  const query = document.getElementById("search-q") as HTMLInputElement;
  const state = document.getElementById("search-state") as HTMLSelectElement;
  const reason = document.getElementById("search-reason") as HTMLSelectElement;
  const source = document.getElementById("search-source") as HTMLSelectElement;
  const status = document.getElementById("search-status") as HTMLElement;
  const body = document.querySelector("#search-results tbody") as HTMLTableSectionElement;
  const labels = JSON.parse(document.getElementById("search-labels")?.textContent ?? "{}") as {
    states: Record<string, string>;
  };

  // The form mirrors the URL, so a search is a link and survives a reload.
  const fields = { q: query, state, reason, source } as const;
  const params = new URLSearchParams(location.search);
  for (const [name, field] of Object.entries(fields)) field.value = params.get(name) ?? "";

  let index: AdvisoryIndex | undefined;
  let lowerIds: string[] = [];
  let lowerTexts: string[] | undefined;

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
    const rows = matches.slice(0, resultLimit).map((position) => {
      const [id, stateOf, reasonOf, , fixed] = loaded.rows[position] as AdvisoryIndex["rows"][number];
      const stateName = loaded.states[stateOf] as string;
      const tr = document.createElement("tr");
      tr.dataset.advisoryId = id;
      tr.className = `state-${stateName}`;
      const link = document.createElement("a");
      link.href = advisoryHref(id);
      link.textContent = id;
      const cells = [
        link,
        labels.states[stateName] ?? stateName,
        loaded.reasons[reasonOf] ?? "",
        fixed ?? "—",
      ];
      for (const cell of cells) {
        const td = document.createElement("td");
        if (typeof cell === "string") td.textContent = cell;
        else td.append(cell);
        tr.append(td);
      }
      return tr;
    });
    body.replaceChildren(...rows);
    const count = matches.length.toLocaleString("en");
    const noun = matches.length === 1 ? "advisory matches" : "advisories match";
    const shown = matches.length > resultLimit ? `; showing the first ${resultLimit}` : "";
    const pending =
      tokens.length > 0 && !lowerTexts ? " (still loading explanations to search their text)" : "";
    status.textContent = `${count} ${noun}${shown}${pending}.`;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const update = () => {
    const next = new URLSearchParams();
    for (const [name, field] of Object.entries(fields)) if (field.value) next.set(name, field.value);
    const search = next.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
    clearTimeout(timer);
    timer = setTimeout(render, 60);
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    render();
  });

  const fail = (what: string, error: unknown) => {
    status.textContent = `Could not load ${what}: ${error instanceof Error ? error.message : String(error)}.`;
  };
  // The explanations are three times the index: fetched only once someone types a query, so browsing
  // and filtering never pay for them.
  let textsRequested = false;
  const loadTexts = () => {
    if (textsRequested) return;
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
      render();
      if (query.value.trim()) loadTexts();
    })
    .catch((error: unknown) => fail("the advisories", error));
}

async function fetchJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()) as T;
}
