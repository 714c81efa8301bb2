// Package api is the hub's HTTP API: falcosidekick-compatible ingestion on
// :2801 (Server.Handler) and the read-only query routes the dashboard mounts
// behind its login (QueryRoutes).
//
// # Ingestion (:2801)
//
//	POST /                 one Falco JSON alert (also any path no route matches,
//	                       like sidekick). 200 with an empty body once the alert
//	                       is durably stored; 400 {"error": "..."} for bad input;
//	                       413 when the body exceeds BODYLIMIT (1 MiB); 503 when
//	                       the store failed (nothing stored; retry).
//	POST /api/v1/events    a batch: JSON array or NDJSON of alerts, all stored or
//	                       none. 200 {"count": n, "ids": [...]}; 400 naming the
//	                       first bad item ("event 3: missing rule"); 413 over
//	                       BATCH_BODYLIMIT (32 MiB); 400 over BATCH_MAXEVENTS.
//	POST /test             stores sidekick's test alert (rule "Test rule",
//	                       priority Debug, source internal, tags example,test);
//	                       200 {"id": ..., "uuid": ...}.
//	POST /k8s-audit        a Kubernetes API server's audit webhook batch
//	                       (audit.k8s.io/v1 EventList, or one Event), evaluated
//	                       against the k8s_audit rules; the alerts (source
//	                       k8s_audit) are stored before 200 {"events": n,
//	                       "alerts": m}; 400 for a malformed batch (nothing
//	                       stored), 413 over K8SAUDIT_BODYLIMIT (32 MiB), 503
//	                       when the store failed (the API server retries).
//	                       Absent with K8SAUDIT_ENABLED=false.
//	GET  /ping             "pong\n"
//	GET  /healthz          {"status": "ok", "store": {...}}; 503 with status
//	                       "error" when the store is unusable.
//	GET  /metrics          Prometheus: saker_hub_inputs_total{source,status},
//	                       saker_hub_alerts_total{priority,source},
//	                       saker_hub_outputs_total{destination,status}, latency
//	                       histograms for requests, store appends and outputs.
//
// Bodies may be gzip-compressed (Content-Encoding: gzip); the size limits
// apply to the compressed and the decompressed size. Other encodings get 415.
//
// A non-POST request to / or an unmatched path gets 400 "please send with
// post http method", as in sidekick.
//
// Validation: rule, priority (case-insensitive Falco name, "info" accepted)
// and time (RFC 3339) are required; output, hostname, source, tags, uuid and
// output_fields are optional but must have the right JSON type. Trailing data
// after the object is rejected. A valid incoming uuid is kept (retries are
// idempotent for consumers), otherwise one is generated. source defaults to
// "syscall". Integers in output_fields keep full precision.
//
// # Query (/api/v1, also on the dashboard behind its login)
//
//	GET /api/v1/events       {"events": [...], "next": "<cursor>"} newest
//	                         event time first (the alert's "time"; then ID);
//	                         each event is {"id", "received", "cursor",
//	                         Falco's fields}; "cursor" is the before that
//	                         pages on from just after the event
//	GET /api/v1/events/{id}  one event; 404 when unknown
//	GET /api/v1/stats        {"total", "by_priority", "rules", "hostnames",
//	                         "sources", "tags", "containers", "images",
//	                         "bucket_ns", "series": [{"start", "counts"}]}
//
// Filter parameters (events and stats):
//
//	since, until  RFC 3339 time or a duration back from now: 15m, 24h, 7d;
//	              bounds on the alert's own time (store.EventMs: "received"
//	              when the time is missing or over 5 minutes ahead of it)
//	priority      minimum priority: warning = Warning and more severe
//	priorities    exact priorities, comma-separated or repeated: warning,error
//	              (an event's priority must be one of them; with priority, both apply)
//	rule          exact rule name; repeat for several (rule=A&rule=B)
//	source        comma-separated or repeated
//	hostname      comma-separated or repeated
//	tags          comma-separated or repeated; an event must carry all
//	q             case-insensitive text in output, rule or field values
//	field         name=value, an output field with exactly this value (as
//	              text); repeated, any value of one name and every name.
//	              Not indexed: pair it with an indexed filter, e.g.
//	              source=response&field=response.alert_id=<uuid>
//	uuid          alert uuids, comma-separated or repeated (not indexed)
//
// events also takes limit (1-1000, default 100) and before (the previous
// page's next cursor); stats takes bucket (whole minutes: 1m, 5m, 1h) and
// top (length of ranked lists, default 10). Every error is
// {"error": "..."} with status 400, 404 or 503.
package api
