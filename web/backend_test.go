package web

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/ingest"
)

// backend is what the browser test runs against: a real embedded store
// behind the hub's real ingestion API (POST / as falcosidekick serves it).
type backend struct {
	store     Store
	ingestURL string // POST / (one alert, as Falco and falcosidekick send)
	batchURL  string // POST /api/v1/events (a JSON array, as Saker's sensor sends)
}

func startBackend(t *testing.T) backend { return startBackendTB(t) }

func startBackendTB(t testing.TB) backend {
	st := newTestStore(t)
	enr, err := ingest.NewEnricher(ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{Store: st, Enricher: enr, Log: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20, BatchBodyLimit: 16 << 20, BatchMaxEvents: 10000}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return backend{store: st, ingestURL: hs.URL + "/", batchURL: hs.URL + "/api/v1/events"}
}
