package actions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/actions"
	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/embedded"
	redisstore "github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/store/redistest"
	"github.com/saker-sec/saker/sensor/response"
	"github.com/saker-sec/saker/sensor/response/k8spod"
	"github.com/saker-sec/saker/sensor/response/k8spod/k8spodtest"
)

func TestLoadFileRejectsNodeLocalActions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.yaml")
	doc := `actions:
- {match: {rule: A}, action: pod_label, labels: {q: "1"}}
- {match: {rule: B}, action: kill}

- match: {rule: C}
  action: block_network
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := actions.LoadFile(path)
	if err == nil {
		t.Fatal("a hub actions file with kill and block_network loaded")
	}
	for _, want := range []string{path + ":3: actions[1]: kill runs on the node", path + ":5: actions[2]: block_network"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "pod_label runs") {
		t.Errorf("pod_label refused: %v", err)
	}
	if err := os.WriteFile(path, []byte(doc[:strings.Index(doc, "- {match: {rule: B}")]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := actions.LoadFile(path); err != nil {
		t.Fatal(err)
	}
}

// opener opens (again) one store: the same data each time.
type opener func(t testing.TB) store.Store

// forEachStore runs test over a fresh embedded store and a fresh Redis
// (skipped without redis-server unless SAKER_REQUIRE_REDIS=1).
func forEachStore(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("embedded", func(t *testing.T) {
		test(t, embeddedIn(t.TempDir()))
	})
	t.Run("redis", func(t *testing.T) {
		addr := redistest.Addr(t)
		test(t, func(t testing.TB) store.Store {
			st, err := redisstore.New(context.Background(), redisstore.Options{Addresses: []string{addr}})
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
}

// rig is a runner over a store, with pods reached through the loopback
// API server.
type rig struct {
	t       testing.TB
	api     *k8spodtest.Server
	st      store.Store
	handled chan string
	cancel  context.CancelFunc
	done    chan error
}

func newRig(t testing.TB, api *k8spodtest.Server, open opener) *rig {
	t.Helper()
	r := &rig{t: t, api: api, st: open(t), handled: make(chan string, 100)}
	t.Cleanup(r.stop)
	return r
}

// start runs a runner of doc with consumer name consumer (min idle
// minIdle, 0 for the default) until stop.
func (r *rig) start(doc, consumer string, minIdle time.Duration) {
	r.t.Helper()
	cfg, err := response.Parse([]byte(doc))
	if err != nil {
		r.t.Fatal(err)
	}
	pods, err := k8spod.New(k8spod.Config{Kubeconfig: r.api.Kubeconfig})
	if err != nil {
		r.t.Fatal(err)
	}
	run, err := actions.New(cfg, r.st, actions.Options{Pods: pods, Consumer: consumer, MinIdle: minIdle,
		Block: 50 * time.Millisecond, Handled: func(id string) { r.handled <- id }})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := run.Prepare(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- run.Run(ctx) }()
}

// stop stops the runner (if running) and closes the store.
func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		if err := <-r.done; err != nil {
			r.t.Errorf("runner: %v", err)
		}
		r.cancel = nil
	}
	if r.st != nil {
		r.st.Close()
		r.st = nil
	}
}

// store appends a Falco alert of rule raised in pod ns/name ("" for none).
func (r *rig) store(rule, ns, pod string) (id string, a alert.Alert) {
	r.t.Helper()
	a = alert.Alert{UUID: uuid.NewString(), Rule: rule, Priority: alert.PriorityWarning, Source: "syscall",
		Time: time.Now(), Output: "shell", Hostname: "node-1", OutputFields: map[string]any{"proc.name": "bash"}}
	if ns != "" {
		a.OutputFields["k8s.ns.name"], a.OutputFields["k8s.pod.name"] = ns, pod
	}
	ids, err := r.st.Append(context.Background(), []alert.Alert{a})
	if err != nil {
		r.t.Fatal(err)
	}
	return ids[0], a
}

// waitHandled waits until the runner acknowledged the event id.
func (r *rig) waitHandled(id string) {
	r.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-r.handled:
			if got == id {
				return
			}
		case <-timeout:
			r.t.Fatalf("event %s never handled", id)
		}
	}
}

// records returns the action records of the alert uuid.
func (r *rig) records(uuid string) []store.Event {
	r.t.Helper()
	p, err := r.st.Query(context.Background(), store.Query{Filter: store.Filter{Sources: []string{response.Source},
		Fields: map[string][]string{"response.alert_id": {uuid}}}})
	if err != nil {
		r.t.Fatal(err)
	}
	return p.Events
}

// noMoreCalls fails on any API call not yet read.
func (r *rig) noMoreCalls() {
	r.t.Helper()
	select {
	case c := <-r.api.Calls:
		r.t.Fatalf("unexpected API call %s %s", c.Method, c.Path)
	default:
	}
}

const podActions = `matching: all
actions:
- {match: {rule: Terminal shell in container}, action: pod_label, labels: {saker.dev/quarantine: "true"}}
- {match: {rule: Terminal shell in container}, action: pod_delete, grace_period: 0}
`

func embeddedIn(dir string) opener {
	return func(t testing.TB) store.Store {
		st, err := embedded.Open(embedded.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

func TestPodActionsOnStoredAlerts(t *testing.T) {
	api := k8spodtest.New(t, "shop/web-1", "kube-system/coredns-1")
	r := newRig(t, api, embeddedIn(t.TempDir()))
	r.start(podActions, "hub-1", 0)

	id, a := r.store("Terminal shell in container", "shop", "web-1")
	r.waitHandled(id)
	label, del := <-api.Calls, <-api.Calls
	if label.Method != "PATCH" || label.Path != "/api/v1/namespaces/shop/pods/web-1" || label.ContentType != "application/merge-patch+json" ||
		string(label.Body) != `{"metadata":{"labels":{"saker.dev/quarantine":"true"}}}` {
		t.Fatalf("label call %+v %s", label, label.Body)
	}
	if del.Method != "DELETE" || del.Path != "/api/v1/namespaces/shop/pods/web-1" || !strings.Contains(string(del.Body), `"gracePeriodSeconds":0`) {
		t.Fatalf("delete call %+v %s", del, del.Body)
	}
	recs := r.records(a.UUID)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, e := range recs {
		f := e.OutputFields
		if f["response.result"] != response.ResultDone || f["response.runner"] != actions.RunnerName || f["k8s.pod.name"] != "web-1" || e.Hostname != "node-1" {
			t.Fatalf("record %+v", e.Alert)
		}
	}

	// Refused, each with its record: kube-system (protected by default),
	// an alert naming no pod; not matched: another rule, and the records
	// themselves (source response).
	idSys, sys := r.store("Terminal shell in container", "kube-system", "coredns-1")
	idNone, none := r.store("Terminal shell in container", "", "")
	idOther, other := r.store("Other rule", "shop", "web-1")
	for _, id := range []string{idSys, idNone, idOther} {
		r.waitHandled(id)
	}
	r.noMoreCalls()
	for uuid, want := range map[string]string{sys.UUID: "namespace kube-system is allowlisted", none.UUID: "names no pod"} {
		recs := r.records(uuid)
		if len(recs) != 2 || recs[0].OutputFields["response.result"] != response.ResultSkipped || !strings.Contains(recs[0].OutputFields["response.detail"].(string), want) {
			t.Fatalf("records of a refused alert: %+v, want 2 skipped: %s", recs, want)
		}
	}
	if recs := r.records(other.UUID); len(recs) != 0 {
		t.Fatalf("records for an unmatched alert: %+v", recs)
	}
	// Every alert is acknowledged (the records too, once handed out).
	dl, err := r.st.Deliveries(context.Background(), actions.Group)
	if err != nil {
		t.Fatal(err)
	}
	if pending, _, err := dl.Lag(context.Background()); err != nil || pending > 6 {
		t.Fatalf("lag %d (%v): want at most the 6 records not yet handed out", pending, err)
	}
}

func TestDryRunOnlyRecords(t *testing.T) {
	api := k8spodtest.New(t, "shop/web-1")
	r := newRig(t, api, embeddedIn(t.TempDir()))
	r.start("dry_run: true\n"+strings.TrimPrefix(podActions, "matching: all\n"), "hub-1", 0)
	id, a := r.store("Terminal shell in container", "shop", "web-1")
	r.waitHandled(id)
	r.noMoreCalls()
	recs := r.records(a.UUID)
	if len(recs) != 1 || recs[0].OutputFields["response.result"] != response.ResultDryRun ||
		recs[0].OutputFields["response.detail"] != "would label pod shop/web-1 saker.dev/quarantine=true" {
		t.Fatalf("dry-run records %+v", recs)
	}
}

// An alert stored while no runner runs (the hub stopped after storing it)
// is acted on by the next one, once: a third start does not act again.
func TestOnceAcrossRestarts(t *testing.T) { forEachStore(t, testOnceAcrossRestarts) }

func testOnceAcrossRestarts(t *testing.T, open opener) {
	api := k8spodtest.New(t, "shop/web-1", "shop/web-2")
	r := newRig(t, api, open)
	r.start(podActions, "hub-1", 0)
	r.stop() // the group exists; nothing was stored yet
	r = newRig(t, api, open)
	_, a := r.store("Terminal shell in container", "shop", "web-1")
	r.stop()

	r = newRig(t, api, open)
	r.start(podActions, "hub-2", 0)
	first := <-api.Calls
	<-api.Calls
	if first.Path != "/api/v1/namespaces/shop/pods/web-1" {
		t.Fatalf("call %+v", first)
	}
	// Settled: a new alert behind it is handled after it.
	id2, _ := r.store("Terminal shell in container", "shop", "web-2")
	r.waitHandled(id2)
	<-api.Calls
	<-api.Calls
	r.stop()

	r = newRig(t, api, open)
	r.start(podActions, "hub-3", time.Millisecond) // anything unacknowledged is taken over at once
	id3, _ := r.store("Other rule", "shop", "web-1")
	r.waitHandled(id3)
	r.noMoreCalls()
	if recs := r.records(a.UUID); len(recs) != 2 {
		t.Fatalf("%d records for the first alert, want 2", len(recs))
	}
}

// A runner that crashed holding an alert: its actions run again on the
// next runner, except those it had already recorded.
func TestCrashedRunnerAlertTakenOver(t *testing.T) { forEachStore(t, testCrashedRunnerAlertTakenOver) }

func testCrashedRunnerAlertTakenOver(t *testing.T, open opener) {
	api := k8spodtest.New(t, "shop/web-1", "shop/web-2")
	r := newRig(t, api, open)
	dl, err := r.st.Deliveries(context.Background(), actions.Group)
	if err != nil {
		t.Fatal(err)
	}
	idRecorded, recorded := r.store("Terminal shell in container", "shop", "web-1")
	idBare, bare := r.store("Terminal shell in container", "shop", "web-2")
	ds, err := dl.Claim(context.Background(), "crashed", 10, time.Hour, 0)
	if err != nil || len(ds) != 2 {
		t.Fatalf("claim: %d, %v", len(ds), err)
	}
	// The crashed runner had run and recorded the label (entry 0) of the
	// first alert before it died.
	cfg, err := response.Parse([]byte(podActions))
	if err != nil {
		t.Fatal(err)
	}
	rec := response.NewRecord(&cfg.Actions[0], &recorded, response.ResultDone, "label pod shop/web-1", 0,
		map[string]any{"response.runner": actions.RunnerName, "response.entry": "0"})
	if _, err := r.st.Append(context.Background(), []alert.Alert{rec}); err != nil {
		t.Fatal(err)
	}

	r.start(podActions, "hub-2", time.Millisecond) // takes over at once
	got := map[string]int{}
	for range 3 {
		c := <-api.Calls
		got[c.Method+" "+c.Path]++
	}
	r.waitHandled(idRecorded)
	r.waitHandled(idBare)
	r.noMoreCalls()
	want := map[string]int{
		"DELETE /api/v1/namespaces/shop/pods/web-1": 1, // the label was recorded: not again
		"PATCH /api/v1/namespaces/shop/pods/web-2":  1,
		"DELETE /api/v1/namespaces/shop/pods/web-2": 1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("calls %v, want %v", got, want)
		}
	}
	if n := len(r.records(recorded.UUID)); n != 2 {
		t.Fatalf("%d records for the first alert, want 2 (the crashed runner's and the delete)", n)
	}
	if n := len(r.records(bare.UUID)); n != 2 {
		t.Fatalf("%d records for the second alert, want 2", n)
	}
}

func TestNewRefusesWhatTheHubCannotRun(t *testing.T) {
	st, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for doc, want := range map[string]string{
		"- {match: {rule: x}, action: container_pause}\n": "container_pause runs on the node",
		"- {match: {rule: x}, action: pod_delete}\n":      "needs a Kubernetes client",
	} {
		cfg, err := response.Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := actions.New(cfg, st, actions.Options{Consumer: "c"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%q) = %v, want %q", doc, err, want)
		}
	}
}

// Script and webhook run on the hub too; a failure is recorded with its
// reason, and the alert is still acknowledged (not retried: the record
// says it failed).
func TestScriptAndFailingWebhook(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer hook.Close()
	out := filepath.Join(t.TempDir(), "out")
	r := newRig(t, k8spodtest.New(t), embeddedIn(t.TempDir()))
	r.start(`matching: all
actions:
- {match: {rule: R}, action: script, command: [sh, -c, 'cat > `+out+`; echo "$SAKER_ALERT_ID $SAKER_K8S_NAMESPACE/$SAKER_K8S_POD" >> `+out+`']}
- {match: {rule: R}, action: webhook, url: "`+hook.URL+`"}
`, "hub-1", 0)
	id, a := r.store("R", "shop", "web-1")
	r.waitHandled(id)
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), `"rule":"R"`) || !strings.HasSuffix(string(b), a.UUID+" shop/web-1\n") {
		t.Fatalf("script wrote %q (%v)", b, err)
	}
	got := map[string]string{}
	for _, e := range r.records(a.UUID) {
		got[e.OutputFields["response.action"].(string)] = e.OutputFields["response.result"].(string) + ": " + e.OutputFields["response.detail"].(string)
	}
	if !strings.HasPrefix(got["script"], "done") || got["webhook"] != "failed: webhook: 502 Bad Gateway" {
		t.Fatalf("records %v", got)
	}
}
