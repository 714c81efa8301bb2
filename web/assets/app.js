// Saker dashboard: routing, filters in the URL, and the four views.
import { PRIORITIES, rank, h, prioBadge, prioClass, fmtTime, shortTime, ago, fmtNum, fmtDur, copy, jsonView, fieldText, toast } from "./util.js";
import { getJSON, getExact, prettyJSON, Live } from "./api.js";
import { timeSeries, hbars, donut } from "./charts.js";

const $ = (id) => document.getElementById(id);
const view = $("view");
const PRESETS = ["15m", "1h", "24h", "7d"];
const PAGE = 200;
const MAX_ROWS = 3000; // live rows kept in the table; older ones page back in from the store

// ---------- filters <-> URL ----------

/** readFilters parses the shareable filter state from the URL. */
function readFilters() {
  const p = new URLSearchParams(location.search);
  const since = p.get("since") || "24h";
  return {
    priority: p.get("priority") || "",
    rule: p.get("rule") || "",
    hostname: p.get("hostname") || "",
    source: p.get("source") || "",
    tags: p.get("tags") || "",
    q: p.get("q") || "",
    range: PRESETS.includes(since) ? since : since === "all" ? "" : "custom",
    since: PRESETS.includes(since) || since === "all" ? "" : since,
    until: p.get("until") || "",
  };
}

/** urlQuery is the filter state as a URL query (defaults omitted). */
function urlQuery(f) {
  const p = new URLSearchParams();
  for (const k of ["priority", "rule", "hostname", "source", "tags", "q"]) if (f[k]) p.set(k, f[k]);
  if (f.range === "custom") {
    if (f.since) p.set("since", f.since);
    if (f.until) p.set("until", f.until);
  } else if (f.range === "") p.set("since", "all");
  else if (f.range !== "24h") p.set("since", f.range);
  const s = p.toString();
  return s ? "?" + s : "";
}

/** apiParams is the filter state as query API parameters. */
function apiParams(f) {
  const p = new URLSearchParams();
  for (const k of ["priority", "rule", "hostname", "source", "tags", "q"]) if (f[k]) p.set(k, f[k]);
  if (f.range === "custom") {
    if (f.since) p.set("since", new Date(f.since).toISOString());
    if (f.until) p.set("until", new Date(f.until).toISOString());
  } else if (f.range) p.set("since", f.range === "7d" ? "168h" : f.range);
  return p;
}

/** matches applies the filters to a live event, as the store would. */
function matches(e, f) {
  if (f.priority && rank(e.priority) < rank(f.priority)) return false;
  if (f.rule && e.rule !== f.rule) return false;
  if (f.hostname && e.hostname !== f.hostname) return false;
  if (f.source && e.source !== f.source) return false;
  if (f.tags) {
    const have = new Set(e.tags || []);
    if (!f.tags.split(",").map((t) => t.trim()).filter(Boolean).every((t) => have.has(t))) return false;
  }
  if (f.range === "custom") {
    const ms = Number(e.id.split("-")[0]);
    if (f.since && ms < new Date(f.since).getTime()) return false;
    if (f.until && ms > new Date(f.until).getTime()) return false;
  }
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

/** syncFilterBar shows the filter state in the filter bar. */
function syncFilterBar() {
  const f = state.f;
  $("f-priority").value = f.priority.toLowerCase() === "info" ? "informational" : f.priority.toLowerCase();
  for (const k of ["rule", "hostname", "source", "tags", "q"]) $("f-" + k).value = f[k];
  for (const b of $("f-range").querySelectorAll("button")) b.classList.toggle("on", b.dataset.range === f.range);
  $("custom-range").hidden = f.range !== "custom";
  $("f-since").value = toLocalInput(f.since);
  $("f-until").value = toLocalInput(f.until);
}

/** setFilters changes filters, records them in the URL and re-renders. */
function setFilters(patch, { path, replace } = {}) {
  state.f = { ...state.f, ...patch };
  const url = (path || location.pathname.replace(/^\/events\/.+$/, "/events")) + urlQuery(state.f);
  history[replace ? "replaceState" : "pushState"](null, "", url);
  route();
}

function bindFilterBar() {
  $("f-priority").addEventListener("change", (e) => setFilters({ priority: e.target.value }));
  for (const k of ["rule", "hostname", "source", "tags"]) $("f-" + k).addEventListener("change", (e) => setFilters({ [k]: e.target.value.trim() }));
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
  $("f-clear").addEventListener("click", () => setFilters({ priority: "", rule: "", hostname: "", source: "", tags: "", q: "", range: "24h", since: "", until: "" }));
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
  for (const a of document.querySelectorAll(".tabs a")) a.classList.toggle("active", a.dataset.view === name);
  $("filterbar").classList.toggle("hide", name === "info");
  const key = name + urlQuery(state.f);
  if (!state.current || state.current.key !== key) {
    state.current && state.current.stop && state.current.stop();
    const v = name === "events" ? eventsView() : name === "info" ? infoView() : dashboardView();
    v.key = key;
    state.current = v;
  }
  if (id) openDetail(id);
  else closeDrawer();
  document.title = { dashboard: "Dashboard", events: "Events", info: "Info" }[name] + " · Saker";
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  const keep = a.dataset.view === "info" ? "" : urlQuery(state.f);
  navigate(a.getAttribute("href") + keep);
});
addEventListener("popstate", route);
addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("drawer").hidden) closeDetail();
  if (e.key === "/" && document.activeElement.tagName !== "INPUT") { e.preventDefault(); $("f-q").focus(); }
});

// ---------- events view ----------

function eventsView() {
  const f = state.f;
  const ids = new Set();
  let next = "", done = false, loading = false, gen = 0, pending = [], buffered = [], rafPending = false;
  const tbody = h("div", { class: "evbody", role: "rowgroup" });
  const count = h("span", { class: "count" }, "Loading…");
  const newBadge = h("button", { class: "newbadge", hidden: true, onclick: () => setPaused(false) });
  const sentinel = h("div", { class: "loadmore" }, "");
  view.replaceChildren(
    h("div", { class: "toolbar" }, count, newBadge),
    // Rows are grid-laid divs with content-visibility: auto, so the browser
    // lays out and paints only the rows on screen however many are loaded.
    h("div", { class: "table-wrap" },
      h("div", { class: "events", id: "events-table", role: "table" },
        h("div", { class: "evhead", role: "row" }, ["Time", "Priority", "Rule", "Hostname", "Source", "Tags", "Output"].map((t) => h("div", { role: "columnheader" }, t))),
        tbody),
      sentinel));

  function row(e, fresh) {
    ids.add(e.id);
    return h("div", { class: "ev" + (fresh ? " fresh" : ""), role: "row", dataset: { id: e.id, priority: e.priority }, onclick: () => navigate("/events/" + encodeURIComponent(e.id) + urlQuery(state.f)) },
      h("div", { class: "c time", title: fmtTime(e.time) + " · " + ago(e.time) }, shortTime(e.time)),
      h("div", { class: "c" }, prioBadge(e.priority)),
      h("div", { class: "c rule", title: e.rule }, e.rule),
      h("div", { class: "c host", title: e.hostname || "" }, e.hostname || ""),
      h("div", { class: "c src" }, e.source || ""),
      h("div", { class: "c tags" }, (e.tags || []).map((t) => h("span", { class: "tag", title: "Filter by tag " + t, onclick: (ev) => { ev.stopPropagation(); setFilters({ tags: t }, { path: "/events" }); } }, t))),
      h("div", { class: "c out", title: e.output || "" }, e.output || ""));
  }

  function updateCount() {
    const n = tbody.children.length;
    count.textContent = n ? `${fmtNum(n)} events shown${done ? "" : " · scroll for more"}` : done ? "No events match these filters" : "Loading…";
    sentinel.textContent = done ? (n ? "End of results" : "") : "Loading more…";
    newBadge.hidden = !buffered.length;
    newBadge.textContent = `${fmtNum(buffered.length)} new · resume`;
  }

  async function loadPage() {
    if (loading || done) return;
    loading = true;
    const my = gen;
    const p = apiParams(f);
    p.set("limit", PAGE);
    if (next) p.set("before", next);
    try {
      const page = await getJSON("/api/v1/events", p);
      if (my !== gen) return;
      const frag = document.createDocumentFragment();
      for (const e of page.events || []) if (!ids.has(e.id)) frag.append(row(e));
      tbody.append(frag);
      next = page.next || "";
      done = !next;
    } catch (err) {
      if (my === gen) { sentinel.textContent = "Failed to load: " + err.message; done = true; }
    } finally {
      if (my === gen) { loading = false; updateCount(); if (!done && sentinel.getBoundingClientRect().top < innerHeight + 400) loadPage(); }
    }
  }

  const io = new IntersectionObserver((es) => { if (es.some((x) => x.isIntersecting)) loadPage(); }, { rootMargin: "600px" });
  io.observe(sentinel);

  function flush() {
    rafPending = false;
    if (!pending.length) return;
    const frag = document.createDocumentFragment();
    // The batch is oldest-first; the table is newest-first.
    for (let i = pending.length - 1; i >= 0; i--) if (!ids.has(pending[i].id)) frag.append(row(pending[i], true));
    pending = [];
    tbody.prepend(frag);
    while (tbody.children.length > MAX_ROWS) {
      const last = tbody.lastElementChild;
      ids.delete(last.dataset.id);
      last.remove();
      next = tbody.lastElementChild.dataset.id;
      done = false;
    }
    updateCount();
  }

  function onEvents(evs) {
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
    next = ""; done = false; loading = false; buffered = []; pending = [];
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
  d.replaceChildren(
    h("div", { class: "head" }, prioBadge(e.priority), h("span", { class: "muted" }, fmtTime(e.time), " · ", ago(e.time)),
      h("button", { class: "btn btn-ghost close", title: "Close (Esc)", onclick: closeDetail }, "✕")),
    h("h1", { id: "detail-rule" }, e.rule),
    h("div", { class: "meta" },
      h("span", {}, h("b", {}, "Host"), e.hostname || "—"), h("span", {}, h("b", {}, "Source"), e.source || "—"),
      h("span", {}, h("b", {}, "ID"), e.id), e.uuid ? h("span", {}, h("b", {}, "UUID"), e.uuid) : null),
    h("div", { class: "chips" },
      filterBtn("Filter rule", { rule: e.rule }),
      e.hostname ? filterBtn("Filter host", { hostname: e.hostname }) : null,
      e.source ? filterBtn("Filter source", { source: e.source }) : null,
      filterBtn("≥ " + e.priority, { priority: e.priority.toLowerCase() }),
      (e.tags || []).map((t) => h("span", { class: "tag", onclick: () => setFilters({ tags: t }, { path: "/events" }) }, t)),
      h("button", { class: "btn btn-sm", onclick: () => copy(location.href, "Link copied") }, "Copy link")),
    h("h3", {}, "Output", h("button", { class: "btn btn-sm", id: "copy-output", onclick: () => copy(e.output || "", "Output copied") }, "Copy")),
    h("pre", { id: "detail-output" }, e.output || ""),
    h("h3", {}, `Output fields (${fields.length})`, h("button", { class: "btn btn-sm", onclick: () => copy(JSON.stringify(Object.fromEntries(fields.map(([k, v]) => [k, fieldText(v)])), null, 2), "Fields copied") }, "Copy all")),
    fields.length ? h("table", { class: "kv", id: "detail-fields" }, h("tbody", {}, fields.map(([k, v]) =>
      h("tr", {}, h("td", { class: "k" }, k), h("td", { class: "v" }, fieldText(v)),
        h("td", { class: "a" }, h("button", { class: "btn btn-ghost btn-sm copy", title: "Copy value", onclick: () => copy(fieldText(v), k + " copied") }, "Copy")))))) : h("div", { class: "muted" }, "No output fields"),
    h("h3", {}, "Raw JSON", h("button", { class: "btn btn-sm", id: "copy-json", onclick: () => copy(raw, "JSON copied") }, "Copy JSON")),
    jsonView(raw));
}

function closeDrawer() {
  const d = $("drawer");
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
  const dur = { "15m": 15 * 60e3, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 }[f.range];
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
    const bucket = { "15m": "1m", "1h": "1m", "24h": "15m", "7d": "2h" }[f.range];
    if (bucket) p.set("bucket", bucket);
    let st;
    try {
      st = await getJSON("/api/v1/stats", p);
    } catch (err) {
      if (my === gen) view.replaceChildren(h("div", { class: "empty" }, "Failed to load statistics: " + err.message));
      return;
    }
    if (my !== gen) return;
    const bp = st.by_priority || {};
    const bucketMs = (st.bucket_ns || 60e9) / 1e6;
    const panel = (title, body, extra) => h("section", { class: "panel" }, h("h2", {}, title, extra ? h("span", { class: "right muted" }, extra) : null), body);
    const y = window.scrollY;
    const chart = timeSeries(st.series, bucketMs, (a, b) => go({ range: "custom", since: a.toISOString(), until: b.toISOString() }), ...windowOf(f));
    const per = Number(chart.dataset.bucketMs || bucketMs);
    view.replaceChildren(
      h("div", { class: "cards", id: "priority-cards" },
        h("div", { class: "card total" + (st.total ? "" : " zero"), onclick: () => go({ priority: "" }) }, h("div", { class: "label" }, "Total"), h("div", { class: "value", id: "count-total" }, fmtNum(st.total))),
        PRIORITIES.map((pr) => h("div", { class: "card " + prioClass(pr) + (bp[pr] ? "" : " zero"), dataset: { priority: pr }, title: `Show ${pr} and more severe`, onclick: () => go({ priority: pr.toLowerCase() }) },
          h("div", { class: "label" }, pr), h("div", { class: "value" }, fmtNum(bp[pr] || 0))))),
      h("div", { class: "grid", style: "grid-template-columns: minmax(0,3fr) minmax(240px,1fr); margin-bottom:16px" },
        panel("Alerts over time", chart, `per ${per >= 3600e3 ? per / 3600e3 + " h" : per / 60e3 + " min"}`),
        panel("By priority", h("div", { style: "display:flex;justify-content:center;padding-top:10px" }, donut(bp, (pr) => go({ priority: pr.toLowerCase() }))))),
      h("div", { class: "grid cols-3" },
        panel("Top rules", hbars(st.rules, (k) => go({ rule: k }))),
        panel("Top hostnames", hbars(st.hostnames, (k) => go({ hostname: k }))),
        panel("Tags", hbars(st.tags, (k) => go({ tags: k }))),
        panel("Sources", hbars(st.sources, (k) => go({ source: k }))),
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
      if (my === gen) view.replaceChildren(h("div", { class: "empty" }, "Failed to load: " + err.message));
      return;
    }
    if (my !== gen) return;
    const s = info.store || {};
    const pill = (ok, yes = "healthy", no = "down") => h("span", { class: "pill " + (ok ? "ok" : "bad") }, ok ? yes : no);
    const fw = info.forwarders || [];
    view.replaceChildren(
      h("div", { class: "grid cols-3", style: "margin-bottom:16px" },
        h("section", { class: "panel" }, h("h2", {}, "Saker"), h("dl", { class: "kvlist" },
          h("dt", {}, "Version"), h("dd", { id: "info-version" }, info.version),
          h("dt", {}, "Server time"), h("dd", {}, fmtTime(info.time)),
          h("dt", {}, "Login"), h("dd", {}, info.auth ? "enabled" : "disabled"),
          h("dt", {}, "Live browsers"), h("dd", {}, fmtNum(info.live_clients)),
          Object.entries(info.info || {}).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
        h("section", { class: "panel" }, h("h2", {}, "Store", h("span", { class: "right" }, pill(s.ok))), h("dl", { class: "kvlist" },
          h("dt", {}, "Kind"), h("dd", { id: "info-store-kind" }, s.kind || "—"),
          h("dt", {}, "Detail"), h("dd", {}, s.detail || "—"),
          h("dt", {}, "Events retained"), h("dd", {}, fmtNum(s.events)),
          s.error ? [h("dt", {}, "Error"), h("dd", { class: "p-error", style: "color:var(--pc)" }, s.error)] : null)),
        h("section", { class: "panel" }, h("h2", {}, "Live feed"), h("dl", { class: "kvlist" },
          h("dt", {}, "Connection"), h("dd", {}, state.liveState),
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
            h("td", { class: "num", title: (x.dead_letters || []).map((d) => `${d.rule}: ${d.reason}`).join("\n") }, fmtNum(x.dead_lettered)),
            h("td", { class: "muted" }, x.last_success_at ? ago(x.last_success_at) : "—"),
            h("td", { class: "muted", title: x.last_error ? `${x.last_error} (${fmtTime(x.last_error_at)})` : "" }, x.last_error || "—")))))
          : h("div", { class: "empty" }, "No forwarders configured (set SLACK_WEBHOOKURL, ELASTICSEARCH_HOSTPORT, LOKI_HOSTPORT or WEBHOOK_ADDRESS)")));
  }
  load();
  const tick = setInterval(load, 5000);
  return { stop: () => { clearInterval(tick); gen++; } };
}

// ---------- live feed, theme, user ----------

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
  const st = state.paused ? "paused" : state.liveState;
  el.dataset.state = st;
  el.querySelector("span").textContent = { live: "Live", paused: "Paused", reconnecting: "Reconnecting…", lagged: "Resyncing…", connecting: "Connecting…" }[st] || st;
  $("live-toggle").textContent = state.paused ? "Resume" : "Pause";
}

function setPaused(p) {
  state.paused = p;
  showLive();
  if (!p && state.current && state.current.onResume) state.current.onResume();
}

const live = new Live({
  onEvents: (evs) => state.current && state.current.onEvents && state.current.onEvents(evs),
  onStatus: (s) => { state.liveState = s; showLive(); },
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
  route();
  loadSuggestions();
  window.saker = { state, live }; // for debugging and the browser test
}

init();
