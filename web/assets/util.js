// Small DOM and formatting helpers shared by the views.

/** Falco priorities, most severe first. */
export const PRIORITIES = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"];

/** rank orders priorities: higher is more severe (Debug 1 … Emergency 8). */
export function rank(p) {
  const s = String(p || "").toLowerCase();
  const i = PRIORITIES.findIndex((x) => x.toLowerCase() === s || (s === "info" && x === "Informational"));
  return i < 0 ? 0 : PRIORITIES.length - i;
}

/** prioClass is the CSS class carrying a priority's colour. */
export function prioClass(p) {
  const r = rank(p);
  return r ? "p-" + PRIORITIES[PRIORITIES.length - r].toLowerCase() : "p-debug";
}

/**
 * h builds an element: h("td", {class: "x", onclick: f}, child, "text", …).
 * Strings become text nodes, so event data is never parsed as HTML.
 */
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : String(c));
  }
}

/** svg builds an SVG element with attributes. */
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

/** prioBadge renders a priority pill. */
export function prioBadge(p) {
  return h("span", { class: "prio " + prioClass(p) }, p);
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** fmtTime renders a timestamp in local time with milliseconds. */
export function fmtTime(t) {
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** shortTime drops the date for today's times: "09:22:44.889" or "11-22 09:22:44.889". */
export function shortTime(t) {
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  return d.toDateString() === new Date().toDateString() ? time : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** ago renders how long ago a time was ("3 min ago"). */
export function ago(t) {
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** fmtNum groups thousands. */
export function fmtNum(n) {
  return Number(n || 0).toLocaleString("en-US");
}

/** fmtDur renders seconds compactly. */
export function fmtDur(s) {
  s = Number(s || 0);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

let toastTimer;
/** toast shows a short message at the bottom of the page. */
export function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 1800);
}

/** copy puts text on the clipboard, with a fallback for non-secure origins. */
export async function copy(text, what = "Copied") {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h("textarea", {}, text);
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  toast(what);
}

/** jsonView renders pretty JSON text with syntax colours, safely (text nodes only). */
export function jsonView(text) {
  const pre = h("pre", { class: "json" });
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    pre.append(text.slice(last, m.index));
    if (m[1]) {
      pre.append(h("span", { class: m[2] ? "k" : "s" }, m[1]));
      if (m[2]) pre.append(m[2]);
    } else if (m[3]) pre.append(h("span", { class: "b" }, m[3]));
    else pre.append(h("span", { class: "n" }, m[4]));
    last = m.index + m[0].length;
  }
  pre.append(text.slice(last));
  return pre;
}

/** fieldText renders an output field value for display. */
export function fieldText(v) {
  if (v === null || v === undefined) return "<NA>";
  if (typeof v === "object" && typeof v.$num === "string") return v.$num;
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
