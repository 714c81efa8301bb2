// Saker dashboard: routing, filters in the URL, and the four views.
import { PRIORITIES, rank, h, prioBadge, prioClass, fmtTime, shortTime, ago, fmtNum, fmtDur, copy, jsonView, fieldText, toast } from "./util.js";
import { getJSON, getExact, sendJSON, prettyJSON, Live } from "./api.js";
import { timeSeries, hbars, donut, donutOf, timeline } from "./charts.js";
import { isResponse, answers, responsesTo, alertOf, respBadge, answeredBadge, responsesList, answeredLink } from "./responses.js";

const $ = (id) => document.getElementById(id);
const view = $("view");
// Time presets (5 minutes to 2 years), as the store's durations.
const PRESETS = ["5m", "15m", "1h", "6h", "24h", "7d", "30d", "90d", "1y", "2y"];
const PRESET_MS = { "5m": 5 * 60e3, "15m": 15 * 60e3, "1h": 3600e3, "6h": 6 * 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, "90d": 90 * 86400e3, "1y": 365 * 86400e3, "2y": 730 * 86400e3 };
const PRESET_API = { "7d": "168h", "30d": "720h", "90d": "2160h", "1y": "8760h", "2y": "17520h" };
// Chart buckets per preset: about 50-150 bars.
const BUCKETS = { "5m": "1m", "15m": "1m", "1h": "1m", "6h": "5m", "24h": "15m", "7d": "2h", "30d": "12h", "90d": "24h", "1y": "168h", "2y": "336h" };
const PAGE_SIZES = [50, 100, 200, 500];
const MULTI = ["rule", "hostname", "source", "tags"]; // multi-value filters
const EXPORT_CAP = 10000;
const MAX_ROWS = 3000; // live rows kept in the table; older ones page back in from the store

// ---------- filters <-> URL ----------

const splitList = (vs) => vs.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);

/** canonPrio is a priority's Falco name ("warning" -> "Warning"), or "". */
const canonPrio = (v) => { const r = rank(v); return r ? PRIORITIES[PRIORITIES.length - r] : ""; };

/** readPriorities is the exact set of priorities the URL selects, most
 *  severe first: priorities=Warning,Error, narrowed by priority=<minimum>,
 *  the form older links carry (priority=warning: Warning and above). All
 *  eight is no filter: []. */
function readPriorities(p) {
  let set = splitList(p.getAll("priorities")).map(canonPrio).filter(Boolean);
  if (!set.length) set = PRIORITIES;
  const min = rank(p.get("priority"));
  const out = PRIORITIES.filter((x) => set.includes(x) && rank(x) >= min);
  return out.length === PRIORITIES.length ? [] : out;
}

/** readFilters parses the shareable filter state from the URL. Rules are
 *  repeated parameters (names may hold commas); priorities, hostnames,
 *  sources and tags are comma lists. */
function readFilters() {
  const p = new URLSearchParams(location.search);
  const since = p.get("since") || "24h";
  const limit = Number(p.get("limit"));
  return {
    priorities: readPriorities(p),
    rule: p.getAll("rule").filter(Boolean),
    hostname: splitList(p.getAll("hostname")),
    source: splitList(p.getAll("source")),
    tags: splitList(p.getAll("tags")),
    q: p.get("q") || "",
    range: PRESETS.includes(since) ? since : since === "all" ? "" : "custom",
    since: PRESETS.includes(since) || since === "all" ? "" : since,
    until: p.get("until") || "",
    limit: PAGE_SIZES.includes(limit) ? limit : 100,
  };
}

/** filterParams writes the multi-value and text filters into p. */
function filterParams(f, p) {
  if (f.priorities.length) p.set("priorities", f.priorities.join(","));
  for (const r of f.rule) p.append("rule", r);
  for (const k of ["hostname", "source", "tags"]) if (f[k].length) p.set(k, f[k].join(","));
  if (f.q) p.set("q", f.q);
  return p;
}

/** urlQuery is the filter state as a URL query (defaults omitted). */
function urlQuery(f) {
  const p = filterParams(f, new URLSearchParams());
  if (f.range === "custom") {
    if (f.since) p.set("since", f.since);
    if (f.until) p.set("until", f.until);
  } else if (f.range === "") p.set("since", "all");
  else if (f.range !== "24h") p.set("since", f.range);
  if (f.limit !== 100) p.set("limit", f.limit);
  const s = p.toString();
  return s ? "?" + s : "";
}

/** apiParams is the filter state as query API parameters. */
function apiParams(f) {
  const p = filterParams(f, new URLSearchParams());
  if (f.range === "custom") {
    if (f.since) p.set("since", new Date(f.since).toISOString());
    if (f.until) p.set("until", new Date(f.until).toISOString());
  } else if (f.range) p.set("since", PRESET_API[f.range] || f.range);
  return p;
}

/** matches applies the filters to a live event, as the store would. */
function matches(e, f) {
  if (f.priorities.length && !f.priorities.includes(canonPrio(e.priority))) return false;
  if (f.rule.length && !f.rule.includes(e.rule)) return false;
  if (f.hostname.length && !f.hostname.includes(e.hostname)) return false;
  if (f.source.length && !f.source.includes(e.source)) return false;
  if (f.tags.length) {
    const have = new Set(e.tags || []);
    if (!f.tags.every((t) => have.has(t))) return false;
  }
  // Time ranges apply to the alert's own time, as in the store: a late
  // alert that happened before the window does not show in it.
  const ms = eventMs(e);
  if (f.range === "custom") {
    if (f.since && ms < new Date(f.since).getTime()) return false;
    if (f.until && ms > new Date(f.until).getTime()) return false;
  } else if (PRESET_MS[f.range] && ms < Date.now() - PRESET_MS[f.range]) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    const hay = [e.output, e.rule, ...Object.values(e.output_fields || {}).map(fieldText)];
    if (!hay.some((s) => String(s || "").toLowerCase().includes(q))) return false;
  }
  return true;
}

const state = { f: readFilters(), paused: false, liveState: "connecting", current: null };

function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const z = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
  return z.toISOString().slice(0, 19);
}

const LABELS = { rule: "rule", hostname: "hostname", source: "source", tags: "tag" };

/** syncFilterBar shows the filter state in the filter bar. */
function syncFilterBar() {
  const f = state.f;
  for (const cb of $("f-priority-menu").querySelectorAll("input[type=checkbox]")) cb.checked = f.priorities.includes(cb.value);
  const label = priorityLabel(f.priorities);
  $("f-priority-label").textContent = label;
  $("f-priority-label").setAttribute("aria-label", "Priorities: " + label);
  $("f-priority").classList.toggle("on", f.priorities.length > 0);
  for (const k of MULTI) {
    $("f-" + k).value = "";
    $("chips-" + k).replaceChildren(...f[k].map((v) => h("button", { class: "chip", type: "button", title: `Remove ${LABELS[k]} ${v}`, "aria-label": `Remove ${LABELS[k]} filter ${v}`,
      onclick: () => setFilters({ [k]: state.f[k].filter((x) => x !== v) }) }, v, h("span", { "aria-hidden": "true" }, " ×"))));
  }
  $("f-q").value = f.q;
  for (const b of $("f-range").querySelectorAll("button")) {
    b.classList.toggle("on", b.dataset.range === f.range);
    b.setAttribute("aria-pressed", String(b.dataset.range === f.range));
  }
  $("custom-range").hidden = f.range !== "custom";
  renderViews();
  $("f-since").value = toLocalInput(f.since);
  $("f-until").value = toLocalInput(f.until);
  const n = (f.priorities.length ? 1 : 0) + MULTI.reduce((a, k) => a + f[k].length, 0) + (f.q ? 1 : 0);
  $("filters-toggle").textContent = n ? `Filters (${n})` : "Filters";
}

/** priorityLabel sums up a priority selection for the filter bar. */
function priorityLabel(set) {
  if (!set.length) return "Any priority";
  const min = set[set.length - 1];
  if (set.length > 1 && set.length === PRIORITIES.indexOf(min) + 1) return "≥ " + min;
  return set.length <= 2 ? set.join(", ") : `${set.length} priorities`;
}

/** setFilters changes filters, records them in the URL and re-renders. */
function setFilters(patch, { path, replace } = {}) {
  state.f = { ...state.f, ...patch };
  const url = (path || location.pathname.replace(/^\/events\/.+$/, "/events")) + urlQuery(state.f);
  history[replace ? "replaceState" : "pushState"](null, "", url);
  route();
}

/** addFilter adds one value to a multi-value filter. */
function addFilter(k, v) {
  v = String(v).trim();
  if (!v || state.f[k].includes(v)) return;
  setFilters({ [k]: [...state.f[k], v] }, { path: "/events" === location.pathname.slice(0, 7) ? undefined : location.pathname });
}

function bindFilterBar() {
  // Priorities: a checkbox each, plus "and above" to pick a minimum at once.
  const menu = $("f-priority-menu");
  menu.replaceChildren(
    ...PRIORITIES.map((pr) => h("div", { class: "prio-opt" },
      h("label", {}, h("input", { type: "checkbox", value: pr, "aria-label": pr }), prioBadge(pr)),
      pr === "Debug" ? null : h("button", { type: "button", class: "btn btn-ghost btn-sm atleast", dataset: { min: pr }, title: `${pr} and more severe`, "aria-label": `${pr} and more severe` }, "and above"))),
    h("button", { type: "button", class: "btn btn-sm", id: "f-priority-any", dataset: { min: "" } }, "Any priority"));
  menu.addEventListener("change", () => {
    const on = PRIORITIES.filter((x) => menu.querySelector(`input[value="${x}"]`).checked);
    setFilters({ priorities: on.length === PRIORITIES.length ? [] : on });
  });
  menu.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-min]");
    if (!b) return;
    const min = b.dataset.min;
    setFilters({ priorities: min ? PRIORITIES.slice(0, PRIORITIES.indexOf(min) + 1) : [] });
  });
  // The menu folds away on a click elsewhere or Escape, as a select does.
  document.addEventListener("click", (e) => {
    for (const d of document.querySelectorAll("details.dropdown")) if (!d.contains(e.target)) d.open = false;
  });
  for (const d of document.querySelectorAll("details.dropdown")) d.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && d.open) { e.stopPropagation(); d.open = false; d.querySelector("summary").focus(); }
  });
  for (const k of MULTI) {
    const inp = $("f-" + k);
    // A datalist pick fires change; Enter adds what was typed, commas
    // separate several values (not for rules, whose names hold commas).
    const add = () => {
      const vals = k === "rule" ? [inp.value] : inp.value.split(",");
      const next = [...state.f[k]];
      for (let v of vals) if ((v = v.trim()) && !next.includes(v)) next.push(v);
      inp.value = "";
      if (next.length !== state.f[k].length) setFilters({ [k]: next });
    };
    inp.addEventListener("change", add);
    inp.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); add(); }
      if (e.key === "Backspace" && !inp.value && state.f[k].length) setFilters({ [k]: state.f[k].slice(0, -1) });
    });
  }
  let t;
  $("f-q").addEventListener("input", (e) => {
    clearTimeout(t);
    t = setTimeout(() => setFilters({ q: e.target.value.trim() }, { replace: true }), 300);
  });
  $("f-range").addEventListener("click", (e) => {
    const r = e.target.dataset.range;
    if (r === undefined) return;
    if (r === "custom") {
      const until = new Date(), since = new Date(until.getTime() - 3600e3);
      setFilters({ range: "custom", since: state.f.since || since.toISOString(), until: state.f.until || "" });
    } else setFilters({ range: r, since: "", until: "" });
  });
  const custom = () => setFilters({ range: "custom", since: $("f-since").value ? new Date($("f-since").value).toISOString() : "", until: $("f-until").value ? new Date($("f-until").value).toISOString() : "" });
  $("f-since").addEventListener("change", custom);
  $("f-until").addEventListener("change", custom);
  bindViews();
  $("f-clear").addEventListener("click", () => setFilters({ priorities: [], rule: [], hostname: [], source: [], tags: [], q: "", range: "24h", since: "", until: "" }));
  // Phone: the filters fold away behind a button.
  $("filters-toggle").addEventListener("click", () => {
    const open = !$("filterbar").classList.contains("open");
    $("filterbar").classList.toggle("open", open);
    $("filters-toggle").setAttribute("aria-expanded", String(open));
  });
}

// ---------- saved views ----------

// Saved views are named filter sets (the URL's query), kept in this
// browser's local storage; they apply to Events and Dashboard alike.
const VIEWS_KEY = "saker-views";

function loadViews() {
  try {
    const v = JSON.parse(localStorage.getItem(VIEWS_KEY) || "[]");
    return Array.isArray(v) ? v.filter((x) => x && typeof x.name === "string" && typeof x.query === "string") : [];
  } catch { return []; }
}

function storeViews(views) {
  try { localStorage.setItem(VIEWS_KEY, JSON.stringify(views)); } catch (err) { toast("Could not save: " + err.message); }
}

/** renderViews lists the saved views, the current one marked. */
function renderViews() {
  const views = loadViews();
  const here = urlQuery(state.f);
  const current = views.find((v) => v.query === here);
  $("views-label").textContent = current ? "View: " + current.name : views.length ? `Views (${views.length})` : "Views";
  const name = h("input", { id: "view-name", type: "text", placeholder: "Name these filters", "aria-label": "Name for a new saved view", maxlength: 60, autocomplete: "off" });
  const save = () => {
    const n = name.value.trim();
    if (!n) { name.focus(); return; }
    storeViews([...loadViews().filter((v) => v.name !== n), { name: n, query: here }].sort((a, b) => a.name.localeCompare(b.name)));
    toast(`Saved view "${n}"`);
    renderViews();
  };
  name.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); save(); } });
  $("views-menu").replaceChildren(
    views.length ? h("ul", { class: "views-list", id: "views-list" }, views.map((v) => h("li", { class: v === current ? "on" : "" },
      h("button", { type: "button", class: "btn btn-ghost btn-sm view-open", title: v.query || "(no filters)", onclick: () => {
        $("views").open = false;
        const path = location.pathname.startsWith("/dashboard") ? "/dashboard" : "/events";
        navigate(path + v.query);
      } }, v.name),
      h("button", { type: "button", class: "btn btn-ghost btn-sm view-drop", "aria-label": `Delete view ${v.name}`, title: "Delete", onclick: () => {
        storeViews(loadViews().filter((x) => x.name !== v.name));
        renderViews();
      } }, "×"))))
      : h("div", { class: "muted" }, "No saved views yet."),
    h("div", { class: "views-save" }, name, h("button", { type: "button", class: "btn btn-sm", id: "view-save", onclick: save }, "Save")));
}

function bindViews() {
  // The menu is rendered with the filter bar (syncFilterBar), not when
  // it opens: re-rendering then would drop what is being typed in it.
  // Another tab saved or deleted one:
  addEventListener("storage", (e) => { if (e.key === VIEWS_KEY) renderViews(); });
}

// ---------- routing ----------

function navigate(path) {
  history.pushState(null, "", path);
  route();
}

function route() {
  state.f = readFilters();
  syncFilterBar();
  const path = location.pathname;
  let name = "dashboard", id = null;
  if (path.startsWith("/events")) {
    name = "events";
    const m = path.match(/^\/events\/(.+)$/);
    if (m) id = decodeURIComponent(m[1]);
  } else if (path === "/info") name = "info";
  else if (path === "/api") name = "api";
  for (const a of document.querySelectorAll(".tabs a")) a.classList.toggle("active", a.dataset.view === name);
  $("filterbar").classList.toggle("hide", name === "info" || name === "api");
  $("filters-toggle").classList.toggle("hide", name === "info" || name === "api");
  const key = name + urlQuery(state.f);
  if (!state.current || state.current.key !== key) {
    state.current && state.current.stop && state.current.stop();
    const v = name === "events" ? eventsView() : name === "info" ? infoView() : name === "api" ? apiView() : dashboardView();
    v.key = key;
    state.current = v;
  }
  if (id) openDetail(id);
  else closeDrawer();
  document.title = { dashboard: "Dashboard", events: "Events", info: "Info", api: "API" }[name] + " · Saker";
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  const keep = a.dataset.view === "info" || a.dataset.view === "api" ? "" : urlQuery(state.f);
  navigate(a.getAttribute("href") + keep);
});
addEventListener("popstate", route);
// Keyboard: Enter or Space activates rows, cards, chart bars and other
// focusable non-button controls, as a click does.
addEventListener("keydown", (e) => {
  if (e.key !== "Enter" && e.key !== " ") return;
  const t = e.target;
  if (!(t instanceof Element) || /^(BUTTON|A|INPUT|SELECT|TEXTAREA|SUMMARY)$/.test(t.tagName)) return;
  if (!t.matches('[role="button"], [role="row"][tabindex]')) return;
  e.preventDefault();
  t.dispatchEvent(new MouseEvent("click", { bubbles: true }));
});
addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("drawer").hidden) closeDetail();
  if (e.key === "/" && document.activeElement.tagName !== "INPUT") { e.preventDefault(); $("f-q").focus(); }
});

// ---------- events view ----------

function eventsView() {
  const f = state.f;
  const ids = new Set();
  let next = "", done = false, loading = false, gen = 0, pending = [], buffered = [], rafPending = false, failed = null;
  const tbody = h("div", { class: "evbody", role: "rowgroup" });
  const count = h("span", { class: "count", id: "events-count", "aria-live": "polite" }, "Loading…");
  let total = null; // events matching the filter in the store
  const newBadge = h("button", { class: "newbadge", hidden: true, onclick: () => setPaused(false) });
  const sentinel = h("div", { class: "loadmore" }, "");
  const exportHref = (fmt) => "/api/v1/export?" + new URLSearchParams([...apiParams(f), ["format", fmt]]).toString();
  const pageSize = h("select", { id: "page-size", "aria-label": "Events per page", onchange: (e) => setFilters({ limit: Number(e.target.value) }) },
    PAGE_SIZES.map((n) => h("option", { value: n, selected: n === f.limit }, `${n} per page`)));
  view.replaceChildren(
    h("div", { class: "toolbar" }, count, newBadge,
      h("span", { class: "toolbar-right" }, pageSize,
        h("a", { class: "btn btn-sm", id: "export-csv", href: exportHref("csv"), download: "", title: `Download the events matching these filters as CSV (first ${fmtNum(EXPORT_CAP)})` }, "Export CSV"),
        h("a", { class: "btn btn-sm", id: "export-json", href: exportHref("json"), download: "", title: `Download the events matching these filters as JSON (first ${fmtNum(EXPORT_CAP)})` }, "Export JSON"))),
    // Rows are grid-laid divs with content-visibility: auto, so the browser
    // lays out and paints only the rows on screen however many are loaded.
    h("div", { class: "table-wrap" },
      h("div", { class: "events", id: "events-table", role: "table", "aria-label": "Events" },
        h("div", { class: "evhead", role: "row" }, ["Time", "Priority", "Rule", "Hostname", "Source", "Tags", "Output and fields"].map((t) => h("div", { role: "columnheader" }, t))),
        tbody),
      sentinel));

  // The store's count for the filter, beside the rows shown.
  getJSON("/api/v1/stats", new URLSearchParams([...apiParams(f), ["top", "1"]])).then((st) => { total = st.total; updateCount(); }).catch(() => {});

  const open = (e) => navigate("/events/" + encodeURIComponent(e.id) + urlQuery(state.f));
  // Response records by the uuid of the alert they answered, for the
  // rows shown: looked up a page at a time, kept current from the feed.
  const answered = new Map();
  function showAnswered(uuid) {
    const recs = answered.get(uuid);
    for (const r of tbody.querySelectorAll(`.ev[data-uuid="${CSS.escape(uuid)}"]`)) {
      r.querySelector(".resp.answered")?.remove();
      r.querySelector(".c.rule").prepend(answeredBadge(recs));
      r.classList.add("is-answered");
    }
  }
  function addResponses(recs) {
    const touched = new Set();
    for (const rec of recs) {
      const id = answers(rec);
      if (!id) continue;
      const list = answered.get(id) || [];
      if (list.some((x) => x.id === rec.id)) continue;
      list.push(rec);
      answered.set(id, list);
      touched.add(id);
    }
    for (const id of touched) showAnswered(id);
  }
  async function lookUpResponses(evs) {
    const uuids = evs.filter((e) => e.uuid && !isResponse(e) && !answered.has(e.uuid)).map((e) => e.uuid);
    if (!uuids.length) return;
    try { addResponses(await responsesTo(uuids)); } catch { /* the marks are extra; the rows are shown regardless */ }
  }
  function row(e, fresh) {
    ids.add(e.id);
    const fields = Object.entries(e.output_fields || {}).filter(([, v]) => v != null && v !== "" && typeof v !== "object").slice(0, 6);
    return h("div", { class: "ev" + (fresh ? " fresh" : ""), role: "row", tabindex: 0, "aria-label": `${e.priority} ${e.rule} on ${e.hostname || "unknown host"}`, dataset: { id: e.id, priority: e.priority, uuid: e.uuid || "", ms: eventMs(e), cursor: e.cursor || "" }, onclick: () => open(e) },
      h("div", { class: "c time" + (lateBy(e) ? " late" : ""), title: `Alert time ${fmtTime(e.time)} · received ${fmtTime(receivedOf(e))}${lateBy(e) ? ` (${fmtDur(lateBy(e))} later)` : ""}` }, shortTime(e.time)),
      h("div", { class: "c prio-c" }, prioBadge(e.priority)),
      h("div", { class: "c rule", title: e.rule }, isResponse(e) ? respBadge(e) : answered.has(e.uuid) ? answeredBadge(answered.get(e.uuid)) : null, e.rule),
      h("div", { class: "c host", title: e.hostname || "" }, e.hostname || ""),
      h("div", { class: "c src" }, e.source || ""),
      h("div", { class: "c tags" }, (e.tags || []).map((t) => h("button", { class: "tag", type: "button", title: "Filter by tag " + t, onclick: (ev) => { ev.stopPropagation(); addFilter("tags", t); } }, t))),
      h("div", { class: "c out" }, h("div", { class: "out-text", title: e.output || "" }, e.output || ""),
        fields.length ? h("div", { class: "fields" }, fields.map(([k, v]) => h("button", { class: "field", type: "button", title: `Search for ${k}=${fieldText(v)}`,
          onclick: (ev) => { ev.stopPropagation(); setFilters({ q: fieldText(v) }, { path: "/events" }); } }, h("span", { class: "fk" }, k), "=", fieldText(v)))) : null));
  }

  function updateCount() {
    const n = tbody.children.length;
    const of = total != null ? ` of ${fmtNum(Math.max(total, n))}` : "";
    count.textContent = failed ? (n ? `${fmtNum(n)}${of} events shown · could not load more` : "Could not load events") : n ? `${fmtNum(n)}${of} events shown${done ? "" : " · scroll for more"}` : done ? "No events match these filters" : "Loading…";
    if (failed) sentinel.replaceChildren(outage("events", failed));
    else sentinel.textContent = done ? (n ? "End of results" : "") : "Loading more…";
    newBadge.hidden = !buffered.length;
    newBadge.textContent = `${fmtNum(buffered.length)} new · resume`;
  }

  async function loadPage() {
    if (loading || done) return;
    loading = true;
    const my = gen;
    const p = apiParams(f);
    p.set("limit", f.limit);
    if (next) p.set("before", next);
    try {
      const page = await getJSON("/api/v1/events", p);
      if (my !== gen) return;
      const frag = document.createDocumentFragment();
      for (const e of page.events || []) if (!ids.has(e.id)) frag.append(row(e));
      tbody.append(frag);
      lookUpResponses(page.events || []);
      next = page.next || "";
      done = !next;
      failed = null;
    } catch (err) {
      if (my === gen) { failed = err; done = true; }
    } finally {
      if (my === gen) { loading = false; updateCount(); if (!done && sentinel.getBoundingClientRect().top < innerHeight + 400) loadPage(); }
    }
  }

  const io = new IntersectionObserver((es) => { if (es.some((x) => x.isIntersecting)) loadPage(); }, { rootMargin: "600px" });
  io.observe(sentinel);

  function flush() {
    rafPending = false;
    if (!pending.length) return;
    // The table is in the store's order, newest event time first. Live
    // events arrive in arrival order: most go on top; a late one goes
    // where its time puts it, or, below the rows loaded so far, is left
    // to the paging that reaches it.
    const frag = document.createDocumentFragment();
    const top = tbody.firstElementChild ? Number(tbody.firstElementChild.dataset.ms) : -Infinity;
    const late = [];
    for (let i = pending.length - 1; i >= 0; i--) {
      const e = pending[i];
      if (ids.has(e.id)) continue;
      if (eventMs(e) >= top) frag.append(row(e, true));
      else late.push(e);
    }
    pending = [];
    tbody.prepend(frag);
    for (const e of late) {
      const ms = eventMs(e);
      const before = [...tbody.children].find((r) => Number(r.dataset.ms) < ms);
      if (before) tbody.insertBefore(row(e, true), before);
      else if (done) tbody.append(row(e, true));
    }
    while (tbody.children.length > MAX_ROWS) {
      const last = tbody.lastElementChild;
      ids.delete(last.dataset.id);
      last.remove();
      // The hub hands out each event's cursor (the before that pages on
      // from just after it); the store's cursor form is its own.
      next = tbody.lastElementChild.dataset.cursor;
      done = !next;
    }
    updateCount();
  }

  function onEvents(evs) {
    // A response record marks its alert's row whether or not the filter
    // shows records themselves.
    addResponses(evs.filter(isResponse));
    const mine = evs.filter((e) => matches(e, f));
    if (!mine.length) return;
    if (state.paused) {
      buffered.push(...mine);
      if (buffered.length > 20000) buffered = buffered.slice(-20000);
      updateCount();
      return;
    }
    pending.push(...mine);
    if (!rafPending) { rafPending = true; requestAnimationFrame(flush); }
  }

  function onResume() {
    if (!buffered.length) return;
    pending.push(...buffered);
    buffered = [];
    flush();
  }

  function reload() {
    gen++;
    ids.clear();
    tbody.replaceChildren();
    next = ""; done = false; loading = false; buffered = []; pending = []; failed = null;
    loadPage();
  }

  loadPage();
  return { onEvents, onResume, onReset: reload, stop: () => io.disconnect() };
}

// ---------- event detail ----------

let detailGen = 0;
async function openDetail(id) {
  const d = $("drawer");
  const my = ++detailGen;
  for (const tr of document.querySelectorAll(".ev.sel")) tr.classList.remove("sel");
  const tr = document.querySelector(`.ev[data-id="${CSS.escape(id)}"]`);
  if (tr) tr.classList.add("sel");
  if (d.dataset.id === id && !d.hidden) return;
  detailLive = null;
  d.hidden = false;
  d.dataset.id = id;
  d.replaceChildren(h("div", { class: "empty" }, "Loading…"));
  let e, text;
  try {
    ({ value: e, text } = await getExact("/api/v1/events/" + encodeURIComponent(id)));
  } catch (err) {
    if (my === detailGen) d.replaceChildren(h("div", { class: "head" }, h("button", { class: "btn btn-ghost close", onclick: closeDetail }, "✕")), h("div", { class: "empty" }, "Event not found: " + err.message));
    return;
  }
  if (my !== detailGen) return;
  // The raw JSON is the hub's exact text (no rounding of 64-bit integers).
  const raw = prettyJSON(text);
  const fields = Object.entries(e.output_fields || {}).sort(([a], [b]) => a.localeCompare(b));
  const filterBtn = (label, patch) => h("button", { class: "btn btn-sm", onclick: () => setFilters(patch, { path: "/events" }) }, label);
  // The responses to this alert, or the alert a response record answered.
  const responsesBox = h("section", { id: "detail-responses", hidden: true });
  if (isResponse(e)) showAnswers(e, responsesBox, my);
  else if (e.uuid) {
    detailLive = { uuid: e.uuid, refresh: () => showResponses(e, responsesBox, my) };
    showResponses(e, responsesBox, my);
  }
  d.replaceChildren(
    h("div", { class: "head" }, prioBadge(e.priority), h("span", { class: "muted" }, fmtTime(e.time), " · ", ago(e.time)),
      h("button", { class: "btn btn-ghost close", id: "detail-close", title: "Close (Esc)", "aria-label": "Close the event", onclick: closeDetail }, "✕")),
    h("h1", { id: "detail-rule" }, e.rule),
    h("div", { class: "meta" },
      h("span", {}, h("b", {}, "Host"), e.hostname || "—"), h("span", {}, h("b", {}, "Source"), e.source || "—"),
      h("span", {}, h("b", {}, "Alert time"), fmtTime(e.time)),
      h("span", { id: "detail-received", class: lateBy(e) ? "late" : "" }, h("b", {}, "Received"), fmtTime(receivedOf(e)), lateBy(e) ? ` (${fmtDur(lateBy(e))} after the alert)` : ""),
      h("span", {}, h("b", {}, "ID"), e.id), e.uuid ? h("span", {}, h("b", {}, "UUID"), e.uuid) : null),
    h("div", { class: "chips" },
      filterBtn("Filter rule", { rule: [e.rule] }),
      e.hostname ? filterBtn("Filter host", { hostname: [e.hostname] }) : null,
      e.source ? filterBtn("Filter source", { source: [e.source] }) : null,
      filterBtn("Filter priority", { priorities: [canonPrio(e.priority)].filter(Boolean) }),
      (e.tags || []).map((t) => h("button", { class: "tag", type: "button", onclick: () => setFilters({ tags: [t] }, { path: "/events" }) }, t)),
      h("button", { class: "btn btn-sm", onclick: () => copy(location.href, "Link copied") }, "Copy link")),
    responsesBox,
    h("h3", {}, "Output", h("button", { class: "btn btn-sm", id: "copy-output", onclick: () => copy(e.output || "", "Output copied") }, "Copy")),
    h("pre", { id: "detail-output" }, e.output || ""),
    h("h3", {}, `Output fields (${fields.length})`, h("button", { class: "btn btn-sm", onclick: () => copy(JSON.stringify(Object.fromEntries(fields.map(([k, v]) => [k, fieldText(v)])), null, 2), "Fields copied") }, "Copy all")),
    fields.length ? h("table", { class: "kv", id: "detail-fields" }, h("tbody", {}, fields.map(([k, v]) =>
      h("tr", {}, h("td", { class: "k" }, k), h("td", { class: "v" }, fieldText(v)),
        h("td", { class: "a" }, h("button", { class: "btn btn-ghost btn-sm copy", title: "Copy value", onclick: () => copy(fieldText(v), k + " copied") }, "Copy")))))) : h("div", { class: "muted" }, "No output fields"),
    h("h3", {}, "Raw JSON", h("button", { class: "btn btn-sm", id: "copy-json", onclick: () => copy(raw, "JSON copied") }, "Copy JSON")),
    jsonView(raw));
  d.setAttribute("role", "dialog");
  d.setAttribute("aria-label", "Event " + e.rule);
  // Keyboard users land in the detail, on its close button.
  $("detail-close").focus({ preventScroll: true });
}

const eventHref = (e) => "/events/" + encodeURIComponent(e.id);

/** detailLive is the alert the open detail shows, refreshed when a
 *  response to it arrives on the live feed. */
let detailLive = null;

async function showResponses(e, box, my) {
  let recs;
  try { recs = await responsesTo([e.uuid]); } catch (err) {
    if (my !== detailGen) return;
    box.replaceChildren(h("h3", {}, "Response actions"), h("div", { class: "muted" }, "Could not load the responses: " + err.message));
    box.hidden = false;
    return;
  }
  if (my !== detailGen || !recs.length) return;
  box.hidden = false;
  box.replaceChildren(h("h3", {}, `Response actions (${recs.length})`), responsesList(recs, eventHref));
}

async function showAnswers(rec, box, my) {
  let alert = null, failed = null;
  if (answers(rec)) {
    try { alert = await alertOf(rec); } catch (err) { failed = err; }
  }
  if (my !== detailGen) return;
  box.hidden = false;
  box.replaceChildren(h("h3", {}, "Answers the alert"),
    failed ? h("div", { class: "muted" }, "Could not look the alert up: " + failed.message) : answeredLink(rec, alert, eventHref));
}

function closeDrawer() {
  const d = $("drawer");
  detailLive = null;
  d.hidden = true;
  d.dataset.id = "";
  detailGen++;
  for (const tr of document.querySelectorAll(".ev.sel")) tr.classList.remove("sel");
}

function closeDetail() {
  navigate("/events" + urlQuery(state.f));
}

// ---------- dashboard view ----------

/** windowOf is the [from, to] of the time range in ms (undefined when open). */
function windowOf(f) {
  const now = Date.now();
  const dur = PRESET_MS[f.range];
  if (dur) return [now - dur, now];
  if (f.range === "custom") return [f.since ? new Date(f.since).getTime() : undefined, f.until ? new Date(f.until).getTime() : now];
  return [undefined, now];
}

function dashboardView() {
  const f = state.f;
  let gen = 0, timer = null, dirty = false, last = 0;
  view.replaceChildren(h("div", { class: "empty" }, "Loading…"));
  const go = (patch) => setFilters(patch, { path: "/events" });

  async function load() {
    const my = ++gen;
    last = Date.now();
    dirty = false;
    const p = apiParams(f);
    p.set("top", "10");
    const bucket = BUCKETS[f.range];
    if (bucket) p.set("bucket", bucket);
    let st;
    try {
      st = await getJSON("/api/v1/stats", p);
    } catch (err) {
      if (my === gen) view.replaceChildren(outage("statistics", err));
      return;
    }
    if (my !== gen) return;
    const bp = st.by_priority || {};
    const bucketMs = (st.bucket_ns || 60e9) / 1e6;
    const panel = (title, body, extra) => h("section", { class: "panel" }, h("h2", {}, title, extra ? h("span", { class: "right muted" }, extra) : null), body);
    const y = window.scrollY;
    const chart = timeSeries(st.series, bucketMs, (a, b) => go({ range: "custom", since: a.toISOString(), until: b.toISOString() }), ...windowOf(f));
    const per = Number(chart.dataset.bucketMs || bucketMs);
    // One line per top source: the store's series for each source alone.
    const bySource = h("div", { id: "source-timeline" }, h("div", { class: "empty" }, "Loading…"));
    const srcs = (st.sources || []).slice(0, 5).map((c) => c.key);
    Promise.all(srcs.map((src) => {
      const q = apiParams({ ...f, source: [src] });
      q.set("top", "1");
      if (bucket) q.set("bucket", bucket);
      return getJSON("/api/v1/stats", q).then((x) => ({ key: src, series: x.series || [] }));
    })).then((lines) => { if (my === gen) bySource.replaceChildren(timeline(lines, bucketMs, ...windowOf(f))); })
      .catch((err) => { if (my === gen) bySource.replaceChildren(h("div", { class: "empty" }, "Could not load: " + err.message)); });
    view.replaceChildren(
      h("div", { class: "cards", id: "priority-cards" },
        h("div", { class: "card total" + (st.total ? "" : " zero"), tabindex: 0, role: "button", "aria-label": `Total ${st.total}; show all priorities`, onclick: () => go({ priorities: [] }) }, h("div", { class: "label" }, "Total"), h("div", { class: "value", id: "count-total" }, fmtNum(st.total))),
        PRIORITIES.map((pr) => h("div", { class: "card " + prioClass(pr) + (bp[pr] ? "" : " zero"), dataset: { priority: pr }, tabindex: 0, role: "button", "aria-label": `${pr}: ${bp[pr] || 0}; show ${pr} alerts`, title: `Show ${pr} alerts only`, onclick: () => go({ priorities: [pr] }) },
          h("div", { class: "label" }, pr), h("div", { class: "value" }, fmtNum(bp[pr] || 0))))),
      h("div", { class: "grid main-charts" },
        panel("Alerts over time", chart, `by alert time, per ${per >= 3600e3 ? per / 3600e3 + " h" : per / 60e3 + " min"}`),
        panel("By priority", h("div", { style: "display:flex;justify-content:center;padding-top:10px" }, donut(bp, (pr) => go({ priorities: [pr] }))))),
      h("div", { class: "grid main-charts" },
        panel("By source over time", bySource, `per ${per >= 3600e3 ? per / 3600e3 + " h" : per / 60e3 + " min"}`),
        panel("Sources", donutOf(st.sources, st.total, (k) => go({ source: [k] })))),
      h("div", { class: "grid cols-3" },
        panel("Tags", donutOf(st.tags, 0, (k) => go({ tags: [k] }))),
        panel("Top rules", hbars(st.rules, (k) => go({ rule: [k] }))),
        panel("Top hostnames", hbars(st.hostnames, (k) => go({ hostname: [k] }))),
        panel("Top containers", hbars(st.containers, (k) => go({ q: k }), "No container alerts")),
        panel("Top images", hbars(st.images, (k) => go({ q: k }), "No container alerts"))));
    window.scrollTo(0, y);
  }

  function onEvents(evs) {
    if (!evs.some((e) => matches(e, f))) return;
    dirty = true;
    if (timer || state.paused) return;
    const wait = Math.max(0, 1500 - (Date.now() - last));
    timer = setTimeout(() => { timer = null; if (dirty) load(); }, wait);
  }
  const tick = setInterval(() => { if (!state.paused) load(); }, 30000);
  load();
  return { onEvents, onResume: () => dirty && load(), onReset: load, stop: () => { clearInterval(tick); clearTimeout(timer); gen++; } };
}

// ---------- info view ----------

function infoView() {
  let gen = 0;
  view.replaceChildren(h("div", { class: "empty" }, "Loading…"));
  async function load() {
    const my = ++gen;
    let info;
    try { info = await getJSON("/api/v1/info"); } catch (err) {
      if (my === gen) view.replaceChildren(outage("hub information", err));
      return;
    }
    if (my !== gen) return;
    const s = info.store || {};
    const pill = (ok, yes = "healthy", no = "down") => h("span", { class: "pill " + (ok ? "ok" : "bad") }, ok ? yes : no);
    const fw = info.forwarders || [];
    const typing = document.activeElement && document.activeElement.id === "config-filter";
    view.replaceChildren(
      h("div", { class: "grid cols-3", style: "margin-bottom:16px" },
        h("section", { class: "panel" }, h("h2", {}, "Saker"), h("dl", { class: "kvlist" },
          h("dt", {}, "Version"), h("dd", { id: "info-version" }, info.version),
          h("dt", {}, "Server time"), h("dd", {}, fmtTime(info.time)),
          h("dt", {}, "Login"), h("dd", {}, info.auth ? "enabled" : "disabled"),
          h("dt", {}, "Live browser tabs"), h("dd", { id: "info-live-clients" }, fmtNum(info.live_clients)),
          Object.entries(info.info || {}).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
        h("section", { class: "panel" }, h("h2", {}, "Store", h("span", { class: "right" }, pill(s.ok))), h("dl", { class: "kvlist" },
          h("dt", {}, "Kind"), h("dd", { id: "info-store-kind" }, s.kind || "—"),
          h("dt", {}, "Detail"), h("dd", {}, s.detail || "—"),
          h("dt", {}, "Events retained"), h("dd", {}, fmtNum(s.events)),
          s.error ? [h("dt", {}, "Error"), h("dd", { class: "p-error", style: "color:var(--pc)" }, s.error)] : null)),
        h("section", { class: "panel" }, h("h2", {}, "Live feed"), h("dl", { class: "kvlist" },
          h("dt", {}, "Connection"), h("dd", { id: "info-live" }, { live: "live", reconnecting: "reconnecting", lagged: "resyncing", connecting: "connecting" }[state.liveState] || state.liveState),
          h("dt", {}, "Paused"), h("dd", {}, state.paused ? "yes" : "no"),
          h("dt", {}, "Last event ID"), h("dd", {}, live.last || "—")))),
      h("section", { class: "panel" }, h("h2", {}, "Forwarders", h("span", { class: "right muted" }, `${fw.length} configured`)),
        fw.length ? h("table", { class: "plain", id: "forwarders" },
          h("thead", {}, h("tr", {}, ["Name", "Status", "Min priority", "Sent", "Pending", "Lag", "Failed", "Retried", "Dead letters", "Last success", "Last error"].map((t) => h("th", {}, t)))),
          h("tbody", {}, fw.map((x) => h("tr", {},
            h("td", { title: x.endpoint || "" }, h("b", {}, x.name), x.endpoint ? h("div", { class: "muted mono" }, x.endpoint) : null),
            h("td", {}, pill(x.healthy)),
            h("td", {}, x.minimum_priority ? prioBadge(x.minimum_priority) : h("span", { class: "muted" }, "all")),
            h("td", { class: "num" }, fmtNum(x.sent)), h("td", { class: "num" }, fmtNum(x.pending)),
            h("td", { class: "num" }, x.pending ? fmtDur(x.lag_seconds) : "—"),
            h("td", { class: "num" }, fmtNum(x.failed)), h("td", { class: "num" }, fmtNum(x.retried)),
            h("td", { class: "num" }, x.dead_lettered ? h("button", { class: "btn btn-sm", dataset: { target: x.name }, title: "Inspect, replay or drop " + x.name + "'s dead letters",
              onclick: () => { openDL = x.name; showDeadLetters(); } }, fmtNum(x.dead_lettered)) : "0"),
            h("td", { class: "muted" }, x.last_success_at ? ago(x.last_success_at) : "—"),
            h("td", { class: "muted", title: x.last_error ? `${x.last_error} (${fmtTime(x.last_error_at)})` : "" }, x.last_error || "—")))))
          : h("div", { class: "empty" }, "No forwarders configured (set SLACK_WEBHOOKURL, ELASTICSEARCH_HOSTPORT, LOKI_HOSTPORT or WEBHOOK_ADDRESS)")),
      dlBox,
      configPanel(info.config));
    if (typing) {
      const inp = document.getElementById("config-filter");
      inp.focus();
      inp.setSelectionRange(inp.value.length, inp.value.length);
    }
    if (openDL && !dlBox.childElementCount) showDeadLetters();
  }

  // The effective configuration (secrets masked), filterable by key.
  let cfgFilter = "";
  function configPanel(cfg) {
    if (!cfg) return null;
    const match = (x) => !cfgFilter || x.key.toLowerCase().includes(cfgFilter) || String(x.value).toLowerCase().includes(cfgFilter);
    const rows = (cfg.settings || []).map((x) => {
      const tr = h("tr", { hidden: !match(x) }, h("td", { class: "mono" }, x.key), h("td", { class: "mono" + (x.secret ? " muted" : "") }, x.value), h("td", { class: "muted" }, x.origin));
      tr.setting = x;
      return tr;
    });
    const input = h("input", { type: "text", id: "config-filter", placeholder: "Filter settings…", "aria-label": "Filter settings", value: cfgFilter, autocomplete: "off",
      oninput: (e) => { cfgFilter = e.target.value.toLowerCase(); for (const tr of rows) tr.hidden = !match(tr.setting); } });
    return h("section", { class: "panel", id: "config-panel", style: "margin-top:16px" },
      h("h2", {}, "Configuration", h("span", { class: "right muted" }, `${(cfg.settings || []).length} settings · secrets masked`)),
      (cfg.warnings || []).length ? h("ul", { class: "cfg-warnings" }, cfg.warnings.map((w) => h("li", {}, w))) : null,
      input,
      h("div", { class: "table-scroll" }, h("table", { class: "plain", id: "config-table" },
        h("thead", {}, h("tr", {}, ["Setting", "Value", "From"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))));
  }

  // Dead letters of one forwarder: alerts it gave up on, to replay or drop.
  let openDL = "";
  const dlBox = h("div", { id: "dead-letters" });
  async function showDeadLetters() {
    const target = openDL;
    const base = "/api/v1/forwarders/" + encodeURIComponent(target) + "/deadletters";
    dlBox.replaceChildren(h("section", { class: "panel" }, h("div", { class: "empty" }, "Loading dead letters…")));
    let list;
    try { list = await getJSON(base, new URLSearchParams({ limit: "200" })); } catch (err) {
      dlBox.replaceChildren(h("section", { class: "panel" }, h("div", { class: "empty" }, "Could not load dead letters: " + err.message)));
      return;
    }
    const act = async (what, fn) => {
      try { const r = await fn(); toast(`${what}: ${r.replayed != null ? r.replayed + " replayed" + (r.failed && r.failed.length ? `, ${r.failed.length} refused again` : "") : r.dropped + " dropped"}`); }
      catch (err) { toast(`${what} failed: ${err.message}`); }
      showDeadLetters();
      load();
    };
    const close = h("button", { class: "btn btn-ghost btn-sm", "aria-label": "Close dead letters", onclick: () => { openDL = ""; dlBox.replaceChildren(); } }, "✕");
    dlBox.replaceChildren(h("section", { class: "panel", style: "margin-top:16px" },
      h("h2", {}, `Dead letters · ${target}`, h("span", { class: "right" },
        list.length ? h("button", { class: "btn btn-sm", id: "dl-replay-all", onclick: () => act("Replay all", () => sendJSON("POST", base + "/replay")) }, "Replay all") : null, " ",
        list.length ? h("button", { class: "btn btn-sm", id: "dl-drop-all", onclick: () => confirm(`Drop all ${list.length} dead letters of ${target}?`) && act("Drop all", () => sendJSON("DELETE", base)) }, "Drop all") : null, " ", close)),
      list.length ? h("table", { class: "plain", id: "dead-letter-list" },
        h("thead", {}, h("tr", {}, ["Event", "Priority", "Rule", "Reason", "Attempts", "Given up", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, list.map((d) => h("tr", {},
          h("td", {}, h("a", { href: "/events/" + encodeURIComponent(d.id), "data-nav": "" }, d.id)),
          h("td", {}, prioBadge(d.priority)), h("td", {}, d.rule), h("td", { class: "muted" }, d.reason),
          h("td", { class: "num" }, fmtNum(d.attempts)), h("td", { class: "muted" }, ago(d.at)),
          h("td", {}, h("button", { class: "btn btn-sm", onclick: () => act("Replay", () => sendJSON("POST", base + "/" + encodeURIComponent(d.id) + "/replay")) }, "Replay"), " ",
            h("button", { class: "btn btn-sm", onclick: () => act("Drop", () => sendJSON("DELETE", base + "/" + encodeURIComponent(d.id))) }, "Drop"))))))
        : h("div", { class: "empty" }, "No dead letters")));
  }
  load();
  const tick = setInterval(load, 5000);
  return { onStatus: load, onReset: load, stop: () => { clearInterval(tick); gen++; } };
}

// ---------- API docs ----------

/** receivedOf is when the hub stored an event ("received"; before the
 *  store kept it, the milliseconds of the ID). */
function receivedOf(e) {
  return e.received ? new Date(e.received) : new Date(Number(String(e.id).split("-")[0]));
}

// An alert is filed under its own time, unless that is missing, before
// 1970 or more than MAX_SKEW ahead of its arrival (a fast sender clock):
// then under its arrival, as the store does (hub/store/order.go EventMs).
const MAX_SKEW = 5 * 60e3;

/** eventMs is the time, in ms, the store files an event under. */
function eventMs(e) {
  const rec = receivedOf(e).getTime();
  const t = new Date(e.time).getTime();
  return !Number.isFinite(t) || t < 0 || t > rec + MAX_SKEW ? rec : t;
}

/** lateBy is how long after the alert's own time the hub received it, in
 *  seconds (0 when on time: within a few seconds). */
function lateBy(e) {
  const t = new Date(e.time).getTime();
  if (!Number.isFinite(t) || t < 0) return 0;
  const d = (receivedOf(e).getTime() - t) / 1000;
  return Number.isFinite(d) && d >= 5 ? d : 0;
}

const API_DOCS = [
  ["GET", "/api/v1/events", "A page of events, newest first.", [
    ["since, until", "RFC 3339 time or a duration back from now (15m, 24h, 7d)"],
    ["priorities", "exact priorities, comma-separated: warning,error"],
    ["priority", "minimum priority: warning = warning and more severe (with priorities, both apply)"],
    ["rule", "exact rule name; repeat for several"],
    ["hostname, source", "comma-separated or repeated; any of them"],
    ["tags", "comma-separated; all must be present"],
    ["q", "case-insensitive text in output, rule or field values"],
    ["field", "name=value: an output field with exactly this value; repeat for several (not indexed: add e.g. source=response)"],
    ["uuid", "alert uuids, comma-separated (not indexed)"],
    ["limit", "page size, 1-1000 (default 100)"],
    ["before", "the previous page's next cursor, or an event's cursor (the events after it)"]], "events?since=24h&priorities=critical,error&limit=50"],
  ["GET", "/api/v1/events/{id}", "One event, exactly as stored (64-bit integers intact).", [], null],
  ["GET", "/api/v1/stats", "Counts by priority, top rules, hostnames, sources, tags, containers and images, and a time series.", [
    ["(filters)", "the same filters as /events"], ["bucket", "series bucket, whole minutes (1m, 15m, 2h)"], ["top", "list length, 1-1000"]], "stats?since=1h&bucket=5m&top=10"],
  ["GET", "/api/v1/export", "Every event the filters select, streamed as a file, newest first; stops at limit and says so (JSON: truncated, CSV: a last '# truncated' row).", [
    ["(filters)", "the same filters as /events"], ["format", "json or csv"], ["limit", `events at most, default ${fmtNum(EXPORT_CAP)}, max 100,000`]], "export?format=csv&since=7d&priority=error"],
  ["GET", "/api/v1/ws", "Websocket of new events: send {\"type\":\"hello\",\"after\":\"<last id>\"}; the hub replays the gap, then pushes live.", [], null],
  ["GET", "/api/v1/info", "Version, store and forwarder health (the Info page).", [], null],
  ["GET", "/api/v1/health", "Store health.", [], null],
];

function apiView() {
  const base = location.origin;
  const curl = (path) => `curl -H "Authorization: Bearer $SAKER_TOKEN" '${base}/api/v1/${path}'`;
  view.replaceChildren(h("div", { class: "docs" },
    h("section", { class: "panel" }, h("h2", {}, "Query API"),
      h("p", {}, "Everything below answers JSON on this port (the dashboard's), never on the ingestion port. Scripts authenticate with a token from SAKER_UI_API_TOKENS (",
        h("code", {}, "Authorization: Bearer …"), ") or basic auth with the dashboard login; browsers use the session cookie. Failed basic-auth attempts count towards the login lock-out."),
      h("p", {}, "Ingestion (port 2801, falcosidekick-compatible): ", h("code", {}, "POST /"), " one Falco alert, ", h("code", {}, "POST /api/v1/events"), " a JSON array or NDJSON batch, ",
        h("code", {}, "POST /test"), ", ", h("code", {}, "GET /ping"), ", ", h("code", {}, "GET /healthz"), ", ", h("code", {}, "GET /metrics"), ".")),
    API_DOCS.map(([method, path, what, params, example]) => h("section", { class: "panel api-ep" },
      h("h2", {}, h("span", { class: "method" }, method), h("code", {}, path)),
      h("p", {}, what),
      params.length ? h("table", { class: "plain" }, h("tbody", {}, params.map(([k, v]) => h("tr", {}, h("td", {}, h("code", {}, k)), h("td", {}, v))))) : null,
      example ? h("pre", { class: "mono" }, curl(example)) : null))));
  return {};
}

// ---------- live feed, theme, user ----------

// ---------- store health: one outage state for every view ----------

const health = { ok: true, since: null, error: "" };
let healthTimer = null;

/** checkHealth polls the store's health (sooner while it is down) and
 *  shows an outage, then its recovery, in the banner, header and views. */
async function checkHealth() {
  clearTimeout(healthTimer);
  let st;
  try { st = (await getJSON("/api/v1/health")).store || {}; } catch (err) { st = { ok: false, error: "hub unreachable (" + err.message + ")" }; }
  if (!st.ok) {
    if (health.ok) health.since = new Date();
    health.ok = false;
    health.error = st.error || "unavailable";
    setBanner("store", "error", `Alert store unavailable since ${shortTime(health.since)}: ${health.error}. Events and charts cannot be loaded and the hub refuses new alerts (senders retry). Retrying every 5 s…`);
  } else if (!health.ok) {
    const down = (Date.now() - health.since.getTime()) / 1000;
    health.ok = true;
    setBanner("store", "ok", `Alert store recovered at ${shortTime(new Date())} after ${fmtDur(down)} down; views reloaded.`);
    setTimeout(() => { if (health.ok) setBanner("store", null); }, 20000);
    if (state.current && state.current.onReset) state.current.onReset();
  }
  document.body.classList.toggle("store-down", !health.ok);
  showLive();
  healthTimer = setTimeout(checkHealth, health.ok ? 15000 : 5000);
}

/** outage renders a failed load: the store outage when there is one. */
function outage(what, err) {
  if (health.ok) checkHealth();
  return h("div", { class: "empty outage", role: "alert" }, h("b", {}, `Could not load ${what}.`), " ", err.message,
    h("div", { class: "muted" }, "Retrying when the store answers again."));
}

/** setBanner shows (text) or removes (null) a page-wide banner by key. */
function setBanner(key, kind, text) {
  const box = $("banners");
  let el = box.querySelector(`[data-key="${key}"]`);
  if (!text) { if (el) el.remove(); return; }
  if (!el) { el = h("div", { class: "banner banner-" + kind, "data-key": key }); box.append(el); }
  el.className = "banner banner-" + kind;
  el.textContent = text;
}

function showLive() {
  const el = $("live-status");
  const st = !health.ok ? "store-down" : state.paused ? "paused" : state.liveState;
  el.dataset.state = st;
  el.querySelector("span").textContent = { live: "Live", paused: "Paused", reconnecting: "Reconnecting…", lagged: "Resyncing…", connecting: "Connecting…", "store-down": "Store down" }[st] || st;
  $("live-toggle").textContent = state.paused ? "Resume" : "Pause";
}

function setPaused(p) {
  state.paused = p;
  showLive();
  if (!p && state.current && state.current.onResume) state.current.onResume();
}

const live = new Live({
  onEvents: (evs) => {
    if (detailLive && evs.some((e) => answers(e) === detailLive.uuid)) detailLive.refresh();
    state.current && state.current.onEvents && state.current.onEvents(evs);
  },
  onStatus: (s) => { state.liveState = s; showLive(); state.current && state.current.onStatus && state.current.onStatus(); },
  onReset: () => state.current && state.current.onReset && state.current.onReset(),
});

async function loadSuggestions() {
  try {
    const st = await getJSON("/api/v1/stats", new URLSearchParams({ since: "168h", top: "50" }));
    for (const [id, list] of [["dl-rules", st.rules], ["dl-hostnames", st.hostnames], ["dl-sources", st.sources], ["dl-tags", st.tags]])
      $(id).replaceChildren(...(list || []).map((c) => h("option", { value: c.key })));
  } catch { /* suggestions are optional */ }
}

function init() {
  $("theme-toggle").addEventListener("click", () => {
    const t = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = t;
    try { localStorage.setItem("saker-theme", t); } catch { /* ignore */ }
  });
  $("live-toggle").addEventListener("click", () => setPaused(!state.paused));
  getJSON("/api/v1/auth").then((a) => {
    $("user").textContent = a.auth ? a.user : "";
    $("logout-form").hidden = !a.auth;
    if (a.default_credentials)
      setBanner("default-creds", "warn", "This dashboard uses the default login admin:admin. Anyone who reaches it reads every alert: set SAKER_UI_USER=user:password and restart the hub.");
    if (a.auth_disabled)
      setBanner("no-auth", "warn", "Login is disabled (SAKER_UI_DISABLEAUTH): anyone who reaches this port reads every alert.");
  }).catch(() => {});
  bindFilterBar();
  if (location.pathname === "/") history.replaceState(null, "", "/dashboard" + location.search);
  live.start();
  checkHealth();
  route();
  loadSuggestions();
  window.saker = { state, live }; // for debugging and the browser test
}

init();
