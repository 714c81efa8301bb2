package output

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/ingest"
	"github.com/saker-sec/saker/hub/metrics"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/embedded"
)

// TestHTTPToRealHub sends formatted alerts through the HTTP sink to the
// real hub API (embedded store) while it is down for a while, then checks
// every alert arrived once, with Falco's typed output_fields.
func TestHTTPToRealHub(t *testing.T) {
	st, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	enr, err := ingest.NewEnricher(ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{Store: st, Enricher: enr, Metrics: metrics.New(prometheus.NewRegistry()),
		BodyLimit: 1 << 20, BatchBodyLimit: 16 << 20, BatchMaxEvents: 10000}
	h := srv.Handler()
	var down atomic.Bool
	var batches atomic.Int64
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "hub restarting", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == BatchPath {
			batches.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer hub.Close()

	f, err := Compile("Sensitive file opened | file=%fd.name gparent=%proc.aname[2] ggparent=%proc.aname[3] tty=%proc.tty")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewHTTP(HTTPOptions{URL: hub.URL + "/", MemoryBuffer: 10, SpoolDir: t.TempDir(), SegmentAlerts: 25,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	const n = 200
	ev := containerEvent()
	for i := 0; i < n; i++ {
		ev.TS += int64(time.Millisecond)
		a := f.Alert(ev, "Read sensitive file untrusted", alert.PriorityWarning, []string{"filesystem"})
		s.Enqueue(&a)
	}
	waitFor(t, "retries while the hub is down", 5*time.Second, func() bool { return s.Stats().Retries >= 3 })
	down.Store(false)
	waitFor(t, "every alert stored", 10*time.Second, func() bool { return s.Stats().Sent == n })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if batches.Load() == 0 || s.Stats().Single {
		t.Fatalf("the hub was not reached through the batch route")
	}
	var got []store.Event
	for cursor := ""; ; {
		page, err := st.Query(context.Background(), store.Query{Limit: store.MaxLimit, Before: cursor})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Events...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(got) != n {
		t.Fatalf("hub stored %d alerts, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.UUID] {
			t.Fatalf("duplicate %s", e.UUID)
		}
		seen[e.UUID] = true
	}
	e := got[0]
	b, _ := json.Marshal(e.OutputFields)
	if e.Rule != "Read sensitive file untrusted" || e.Source != "syscall" || e.OutputFields["container.id"] != "abcdef012345" ||
		e.OutputFields["proc.aname[3]"] != nil {
		t.Fatalf("stored alert: %+v fields %s", e.Alert, b)
	}
	if tty, ok := e.OutputFields["proc.tty"].(json.Number); !ok || tty.String() != "34816" {
		t.Fatalf("proc.tty not an integer: %#v", e.OutputFields["proc.tty"])
	}
}
