// Talks to the hub: the JSON query API and the live websocket.

/** toLogin sends the user to the login page when the session is gone. */
function toLogin(res) {
  if (res.status !== 401) return;
  location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
  throw new Error("login required");
}

/** getJSON fetches an API path; a missing session sends the user to login. */
export async function getJSON(path, params) {
  const qs = params && [...params].length ? "?" + params.toString() : "";
  const res = await fetch(path + qs, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  toLogin(res);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

/** sendJSON sends a state-changing request (POST, DELETE) and returns its JSON. */
export async function sendJSON(method, path, body) {
  const res = await fetch(path, { method, headers: { Accept: "application/json", "Content-Type": "application/json" }, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined });
  toLogin(res);
  const out = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(out.error || `${res.status} ${res.statusText}`);
  return out;
}

/**
 * getExact fetches JSON keeping its exact text: integers beyond 2^53 (such
 * as Falco's nanosecond evt.time) become {$num: "<digits>"} in the parsed
 * value instead of being rounded, and text is what the hub sent.
 */
export async function getExact(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  toLogin(res);
  const text = await res.text();
  let value;
  try {
    value = JSON.parse(text, (k, v, ctx) => (typeof v === "number" && !Number.isSafeInteger(v) && ctx && ctx.source && /^-?\d+$/.test(ctx.source) ? { $num: ctx.source } : v));
  } catch {
    throw new Error(`${res.status} ${res.statusText}`);
  }
  if (!res.ok) throw new Error(value.error || `${res.status} ${res.statusText}`);
  return { value, text };
}

/** prettyJSON re-indents JSON text without parsing numbers, so nothing is rounded. */
export function prettyJSON(text) {
  let out = "", indent = 0, inStr = false;
  const nl = () => "\n" + "  ".repeat(indent);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      out += c;
      if (c === "\\") out += text[++i];
      else if (c === '"') inStr = false;
      continue;
    }
    switch (c) {
      case '"': inStr = true; out += c; break;
      case "{": case "[": {
        const close = c === "{" ? "}" : "]";
        let j = i + 1;
        while (/\s/.test(text[j] || "")) j++;
        if (text[j] === close) { out += c + close; i = j; break; }
        indent++; out += c + nl(); break;
      }
      case "}": case "]": indent--; out += nl() + c; break;
      case ",": out += "," + nl(); break;
      case ":": out += ": "; break;
      case " ": case "\n": case "\r": case "\t": break;
      default: out += c;
    }
  }
  return out;
}

/**
 * Live keeps a websocket to /api/v1/ws open. It remembers the newest event
 * ID it has seen and sends it when it reconnects, so the hub replays what
 * was missed: no gap across network blips, hub restarts or lag.
 */
export class Live {
  constructor({ onEvents, onStatus, onReset }) {
    this.onEvents = onEvents;
    this.onStatus = onStatus;
    this.onReset = onReset;
    this.last = "";
    this.delay = 500;
    this.ws = null;
    this.stopped = false;
  }

  start() {
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
    this.ws = ws;
    let ready = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", after: this.last, tab: tabID() }));
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      switch (msg.type) {
        case "events":
          if (msg.events.length) {
            this.last = msg.events[msg.events.length - 1].id;
            this.onEvents(msg.events);
          }
          break;
        case "ready":
          ready = true;
          if (msg.last && (!this.last || cmpID(msg.last, this.last) > 0)) this.last = msg.last;
          this.delay = 500;
          this.onStatus("live");
          break;
        case "lagged":
          this.onStatus("lagged");
          break;
        case "reset":
          this.last = "";
          this.onReset();
          break;
      }
    };
    ws.onclose = async (e) => {
      if (this.ws !== ws || this.stopped) return;
      this.onStatus(e.code === 4000 ? "lagged" : "reconnecting");
      if (!ready && e.code === 1006) {
        // The handshake may have been refused for a lost session.
        try { await getJSON("/api/v1/auth"); } catch { return; }
      }
      const wait = e.code === 4000 || e.code === 4001 ? 100 : this.delay;
      this.delay = Math.min(this.delay * 2, 8000);
      setTimeout(() => this.connect(), wait);
    };
  }
}

/** tabID names this browser tab across reloads, so the hub counts tabs. */
function tabID() {
  try {
    let id = sessionStorage.getItem("saker-tab");
    if (!id) { id = crypto.randomUUID(); sessionStorage.setItem("saker-tab", id); }
    return id;
  } catch { return ""; }
}

/** cmpID orders "<ms>-<seq>" event IDs. */
export function cmpID(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am - bm || (as || 0) - (bs || 0);
}
