// Response actions beside the alerts they answered. The sensor records
// every action taken or skipped as an alert-like record: source
// "response", rule "Response action", and output fields response.action,
// .result, .detail, .alert_id (the uuid of the alert answered), .rule,
// .dry_run and .delay_us.
import { h, prioBadge, fmtTime, fieldText } from "./util.js";
import { getJSON } from "./api.js";

export const RESPONSE_SOURCE = "response";

const f = (e, k) => (e.output_fields || {})["response." + k];

/** isResponse reports whether an event is a response record. */
export const isResponse = (e) => e.source === RESPONSE_SOURCE;

/** answers is the uuid of the alert a response record answered, or "". */
export const answers = (e) => (isResponse(e) && f(e, "alert_id") != null ? String(fieldText(f(e, "alert_id"))) : "");

/** responsesTo fetches the response records answering the given alert
 *  uuids (at most 1,000), oldest first. */
export async function responsesTo(uuids) {
  if (!uuids.length) return [];
  const p = new URLSearchParams([["source", RESPONSE_SOURCE], ["limit", "1000"]]);
  for (const u of uuids) p.append("field", "response.alert_id=" + u);
  const page = await getJSON("/api/v1/events", p);
  return (page.events || []).reverse();
}

/** alertOf finds the alert a response record answered, or null. The
 *  answered rule, when known, narrows the search to its index. */
export async function alertOf(rec) {
  const p = new URLSearchParams([["uuid", answers(rec)], ["limit", "1"]]);
  const rule = f(rec, "rule");
  if (rule) p.set("rule", String(rule));
  const page = await getJSON("/api/v1/events", p);
  return (page.events || [])[0] || null;
}

/** result of a record: done, dry-run, skipped or failed. */
const resultOf = (rec) => String(fieldText(f(rec, "result") ?? "")) || "unknown";

/** respBadge is a small pill naming a record's action and result. */
export function respBadge(rec) {
  const action = String(fieldText(f(rec, "action") ?? "action"));
  const result = resultOf(rec);
  return h("span", { class: "resp r-" + result.replace(/[^a-z-]/g, ""), title: `Response: ${action} ${result}${f(rec, "detail") ? " — " + fieldText(f(rec, "detail")) : ""}` },
    h("span", { "aria-hidden": "true" }, "⚡ "), `${action} ${result}`);
}

/** answeredBadge sums up the responses to one alert for its row: the
 *  latest record's action and result, and how many there were. */
export function answeredBadge(recs) {
  const b = respBadge(recs[recs.length - 1]);
  b.classList.add("answered");
  if (recs.length > 1) b.append(` +${recs.length - 1}`);
  b.title = recs.map((r) => `${fieldText(f(r, "action"))} ${resultOf(r)}`).join(", ") + " — this alert was answered";
  return b;
}

const delay = (rec) => {
  const us = Number(fieldText(f(rec, "delay_us") ?? ""));
  if (!Number.isFinite(us) || us <= 0) return "—";
  return us < 1000 ? `${us} µs` : us < 1e6 ? `${(us / 1000).toFixed(1)} ms` : `${(us / 1e6).toFixed(2)} s`;
};

/** responsesList lists the records answering an alert, one card each
 *  (it wraps on a phone); each links to its own detail. */
export function responsesList(recs, href) {
  return h("ul", { class: "responses", id: "detail-responses-list" }, recs.map((r) =>
    h("li", { dataset: { id: r.id } },
      h("div", { class: "resp-head" },
        respBadge(r),
        h("span", { class: "muted" }, fmtTime(r.time)),
        h("span", { class: "muted", title: "Delay from the event to the action" }, "after " + delay(r)),
        h("a", { href: href(r), "data-nav": "", class: "btn btn-ghost btn-sm", "aria-label": "Open the response record" }, "Record")),
      h("div", { class: "resp-detail" }, String(fieldText(f(r, "detail") ?? "")), f(r, "dry_run") === true ? h("span", { class: "muted" }, " (dry run)") : null))));
}

/** answeredLink shows, in a response record's detail, the alert it
 *  answered: a link to it, or why there is none. */
export function answeredLink(rec, alert, href) {
  const id = answers(rec);
  if (!id) return h("div", { class: "muted" }, "This record names no alert.");
  if (!alert) return h("div", { class: "muted", id: "detail-answers" }, `Alert ${id} is not in the store: not received (yet), or past retention.`);
  return h("a", { href: href(alert), "data-nav": "", class: "answers-link", id: "detail-answers" },
    prioBadge(alert.priority), h("b", {}, alert.rule), h("span", { class: "muted" }, `${alert.hostname || ""} · ${fmtTime(alert.time)}`));
}
