// Hand-made SVG charts: a time series stacked by priority and ranked bars.
import { PRIORITIES, h, svg, fmtNum, prioClass } from "./util.js";

let tip;
function tooltip(show, x, y, content) {
  if (!tip) {
    tip = h("div", { class: "tooltip", hidden: true });
    document.body.append(tip);
  }
  if (!show) { tip.hidden = true; return; }
  tip.replaceChildren(...content);
  tip.hidden = false;
  const r = tip.getBoundingClientRect();
  tip.style.left = Math.min(x + 14, innerWidth - r.width - 8) + "px";
  tip.style.top = Math.max(8, y - r.height - 10) + "px";
}

/** niceMax rounds a maximum up to a readable axis bound. */
function niceMax(v) {
  if (v <= 4) return 4;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function label(t, spanMs) {
  const d = new Date(t);
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  return spanMs > 2 * 86400e3 ? `${d.getMonth() + 1}/${d.getDate()} ${hm}` : hm;
}

/**
 * fill adds empty buckets so the time axis is continuous over [from, to]
 * (stores may leave empty buckets out), capped at 240 buckets.
 */
function fill(series, bucketMs, from, to) {
  const byStart = new Map(series.map((b) => [new Date(b.start).getTime(), b]));
  const first = new Date(series[0].start).getTime(), last = new Date(series[series.length - 1].start).getTime();
  let start = from ? Math.floor(from / bucketMs) * bucketMs : first;
  const end = to ? Math.floor(to / bucketMs) * bucketMs : last;
  start = Math.min(start, first);
  const stop = Math.max(end, last);
  // Too fine for the window: merge k buckets into one, at most ~120 bars.
  const k = Math.max(1, Math.ceil((stop - start) / bucketMs / 120));
  const size = k * bucketMs;
  start = Math.floor(start / size) * size;
  const out = [];
  for (let t = start; t <= stop; t += size) {
    const counts = {};
    for (let j = 0; j < k; j++) {
      const b = byStart.get(t + j * bucketMs);
      if (b) for (const [p, n] of Object.entries(b.counts || {})) counts[p] = (counts[p] || 0) + n;
    }
    out.push({ start: new Date(t).toISOString(), counts });
  }
  return { series: out, bucketMs: size };
}

/**
 * timeSeries draws stats.series as bars stacked by priority (most severe on
 * top). onPick(start, end) is called when a bar is clicked.
 */
export function timeSeries(series, bucketMs, onPick, from, to) {
  const W = 1000, H = 240, L = 44, R = 10, T = 10, B = 26;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "Alerts over time by priority" });
  if (!series || !series.length) return h("div", { class: "empty" }, "No alerts in this time range");
  ({ series, bucketMs } = fill(series, bucketMs, from, to));
  const totals = series.map((b) => Object.values(b.counts || {}).reduce((a, c) => a + c, 0));
  const max = niceMax(Math.max(...totals));
  const iw = W - L - R, ih = H - T - B;
  const bw = iw / series.length;
  for (let i = 0; i <= 4; i++) {
    const y = T + ih - (ih * i) / 4;
    root.append(svg("line", { class: i ? "gridline" : "axis", x1: L, x2: W - R, y1: y, y2: y }));
    root.append(svg("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, document.createTextNode(fmtNum((max * i) / 4))));
  }
  const t0 = new Date(series[0].start).getTime();
  const span = new Date(series[series.length - 1].start).getTime() - t0 + bucketMs;
  const every = Math.max(1, Math.ceil(series.length / 8));
  series.forEach((b, i) => {
    const x = L + i * bw;
    const g = svg("g", { class: "col", tabindex: 0, role: "button" });
    g.append(svg("rect", { class: "hit", x, y: T, width: bw, height: ih, fill: "transparent" }));
    let y = T + ih;
    for (const p of [...PRIORITIES].reverse()) {
      const n = (b.counts || {})[p] || 0;
      if (!n) continue;
      const bh = (n / max) * ih;
      y -= bh;
      g.append(svg("rect", { class: "bar " + prioClass(p), x: x + Math.min(1, bw * 0.1), y, width: Math.max(1, bw - Math.min(2, bw * 0.2)), height: bh, fill: "var(--pc)", rx: bw > 6 ? 1.5 : 0 }));
    }
    const start = new Date(b.start).getTime();
    g.addEventListener("mousemove", (e) => {
      const rows = PRIORITIES.filter((p) => (b.counts || {})[p]).map((p) =>
        h("div", { class: "row" }, h("span", { class: "prio " + prioClass(p) }, p), h("b", {}, fmtNum(b.counts[p]))));
      tooltip(true, e.clientX, e.clientY, [h("div", { class: "muted" }, `${label(start, 0)} – ${label(start + bucketMs, 0)}`), ...rows, h("div", { class: "row" }, h("span", {}, "Total"), h("b", {}, fmtNum(totals[i])))]);
    });
    g.setAttribute("aria-label", `${label(start, span)}: ${totals[i]} alerts; show them`);
    g.addEventListener("mouseleave", () => tooltip(false));
    g.addEventListener("click", () => { tooltip(false); onPick && onPick(new Date(start), new Date(start + bucketMs)); });
    root.append(g);
    if (i % every === 0) root.append(svg("text", { x: x + bw / 2, y: H - 8, "text-anchor": "middle" }, document.createTextNode(label(start, span))));
  });
  const legend = h("div", { class: "legend" }, PRIORITIES.map((p) => h("span", { class: prioClass(p) }, h("i"), p)));
  return h("div", { dataset: { bucketMs } }, root, legend);
}

/** hbars renders a ranked list [{key,count}] as clickable bars. */
export function hbars(list, onPick, emptyText = "Nothing yet") {
  if (!list || !list.length) return h("div", { class: "empty" }, emptyText);
  const max = Math.max(...list.map((c) => c.count)) || 1;
  return h("div", { class: "hbars" }, list.map((c) =>
    h("div", { class: "hbar", title: c.key, tabindex: 0, role: "button", "aria-label": `${c.key || "(empty)"}: ${c.count}; filter`, onclick: () => onPick(c.key), dataset: { key: c.key } },
      h("span", { class: "k" }, c.key || "(empty)"), h("span", { class: "n" }, fmtNum(c.count)),
      h("div", { class: "track" }, h("div", { class: "fill", style: `width:${(100 * c.count) / max}%` })))));
}

/** donut draws counts by priority as a ring with the total in the middle. */
export function donut(byPriority, onPick) {
  const total = PRIORITIES.reduce((a, p) => a + ((byPriority || {})[p] || 0), 0);
  const S = 160, r = 62, c = 2 * Math.PI * r;
  const root = svg("svg", { class: "chart donut", viewBox: `0 0 ${S} ${S}`, width: S, height: S });
  root.append(svg("circle", { cx: S / 2, cy: S / 2, r, fill: "none", stroke: "var(--line)", "stroke-width": 18 }));
  let off = 0;
  for (const p of PRIORITIES) {
    const n = (byPriority || {})[p] || 0;
    if (!n) continue;
    const len = (n / total) * c;
    const seg = svg("circle", { class: "bar " + prioClass(p), cx: S / 2, cy: S / 2, r, fill: "none", stroke: "var(--pc)", "stroke-width": 18,
      "stroke-dasharray": `${len} ${c - len}`, "stroke-dashoffset": -off, transform: `rotate(-90 ${S / 2} ${S / 2})` });
    seg.setAttribute("tabindex", 0);
    seg.setAttribute("role", "button");
    seg.setAttribute("aria-label", `${p}: ${n}; filter`);
    seg.addEventListener("click", () => onPick(p));
    seg.addEventListener("mousemove", (e) => tooltip(true, e.clientX, e.clientY, [h("div", { class: "row" }, h("span", { class: "prio " + prioClass(p) }, p), h("b", {}, fmtNum(n)))]));
    seg.addEventListener("mouseleave", () => tooltip(false));
    root.append(seg);
    off += len;
  }
  root.append(svg("text", { x: S / 2, y: S / 2 + 2, "text-anchor": "middle", style: "font-size:22px;font-weight:700;fill:var(--fg)" }, document.createTextNode(fmtNum(total))));
  root.append(svg("text", { x: S / 2, y: S / 2 + 20, "text-anchor": "middle" }, document.createTextNode("alerts")));
  return root;
}

/** PALETTE colours categories (sources, tags) in donuts and timelines. */
const PALETTE = ["#f97316", "#4c9dff", "#34c77b", "#f5c518", "#c084fc", "#f0646d", "#22d3ee", "#a3e635", "#fb7185", "#94a3b8"];

/**
 * donutOf draws a ranked list [{key,count}] as a ring with a legend; the
 * remainder up to total is "other". onPick(key) filters.
 */
export function donutOf(list, total, onPick, emptyText = "Nothing yet") {
  list = (list || []).filter((c) => c.count > 0).slice(0, 8);
  if (!list.length) return h("div", { class: "empty" }, emptyText);
  const sum = list.reduce((a, c) => a + c.count, 0);
  const all = Math.max(total || 0, sum);
  const S = 150, r = 56, c = 2 * Math.PI * r;
  const root = svg("svg", { class: "chart donut", viewBox: `0 0 ${S} ${S}`, width: S, height: S });
  root.append(svg("circle", { cx: S / 2, cy: S / 2, r, fill: "none", stroke: "var(--line)", "stroke-width": 18 }));
  let off = 0;
  list.forEach((item, i) => {
    const len = (item.count / all) * c;
    const seg = svg("circle", { class: "bar", cx: S / 2, cy: S / 2, r, fill: "none", stroke: PALETTE[i % PALETTE.length], "stroke-width": 18,
      "stroke-dasharray": `${len} ${c - len}`, "stroke-dashoffset": -off, transform: `rotate(-90 ${S / 2} ${S / 2})`,
      tabindex: 0, role: "button", "aria-label": `${item.key}: ${item.count}; filter` });
    seg.addEventListener("click", () => onPick(item.key));
    seg.addEventListener("mousemove", (e) => tooltip(true, e.clientX, e.clientY, [h("div", { class: "row" }, h("span", {}, item.key), h("b", {}, fmtNum(item.count)))]));
    seg.addEventListener("mouseleave", () => tooltip(false));
    root.append(seg);
    off += len;
  });
  root.append(svg("text", { x: S / 2, y: S / 2 + 6, "text-anchor": "middle", style: "font-size:20px;font-weight:700;fill:var(--fg)" }, document.createTextNode(fmtNum(sum))));
  const legend = h("div", { class: "legend legend-col" }, list.map((item, i) =>
    h("span", { class: "pick", tabindex: 0, role: "button", title: item.key, onclick: () => onPick(item.key) },
      h("i", { style: `background:${PALETTE[i % PALETTE.length]}` }), h("span", { class: "lk" }, item.key), h("b", {}, fmtNum(item.count)))));
  return h("div", { class: "donut-wrap" }, root, legend);
}

/**
 * timeline draws one line per key over time: lines [{key, series}] where
 * series is the stats API's [{start, counts}] for that key alone.
 */
export function timeline(lines, bucketMs, from, to) {
  lines = (lines || []).filter((l) => l.series && l.series.length);
  if (!lines.length) return h("div", { class: "empty" }, "No alerts in this time range");
  const W = 1000, H = 200, L = 44, R = 10, T = 10, B = 26;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "Alerts over time by source" });
  let lo = Infinity, hi = -Infinity;
  for (const l of lines) for (const b of l.series) { const t = new Date(b.start).getTime(); lo = Math.min(lo, t); hi = Math.max(hi, t); }
  if (from) lo = Math.min(lo, Math.floor(from / bucketMs) * bucketMs);
  if (to) hi = Math.max(hi, Math.floor(to / bucketMs) * bucketMs);
  const k = Math.max(1, Math.ceil((hi - lo) / bucketMs / 120));
  const size = k * bucketMs;
  lo = Math.floor(lo / size) * size;
  const n = Math.floor((hi - lo) / size) + 1;
  const data = lines.map((l) => {
    const v = new Array(n).fill(0);
    for (const b of l.series) {
      const i = Math.floor((new Date(b.start).getTime() - lo) / size);
      if (i >= 0 && i < n) v[i] += Object.values(b.counts || {}).reduce((a, c) => a + c, 0);
    }
    return v;
  });
  const max = niceMax(Math.max(1, ...data.flat()));
  const iw = W - L - R, ih = H - T - B;
  for (let i = 0; i <= 4; i++) {
    const y = T + ih - (ih * i) / 4;
    root.append(svg("line", { class: i ? "gridline" : "axis", x1: L, x2: W - R, y1: y, y2: y }));
    root.append(svg("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, document.createTextNode(fmtNum((max * i) / 4))));
  }
  const x = (i) => L + (n === 1 ? iw / 2 : (i * iw) / (n - 1));
  data.forEach((v, li) => {
    const pts = v.map((c, i) => `${x(i).toFixed(1)},${(T + ih - (c / max) * ih).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { points: pts, fill: "none", stroke: PALETTE[li % PALETTE.length], "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
    // Few buckets (or one): mark the points, which a line alone would not show.
    if (n <= 40) v.forEach((c, i) => { if (c) root.append(svg("circle", { cx: x(i), cy: T + ih - (c / max) * ih, r: 3.5, fill: PALETTE[li % PALETTE.length] })); });
  });
  const every = Math.max(1, Math.ceil(n / 8));
  for (let i = 0; i < n; i += every) root.append(svg("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, document.createTextNode(label(lo + i * size, hi - lo))));
  const legend = h("div", { class: "legend" }, lines.map((l, i) => h("span", {}, h("i", { style: `background:${PALETTE[i % PALETTE.length]}` }), l.key)));
  return h("div", { class: "timeline" }, root, legend);
}
