package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
)

// backend is what the browser test runs against: a store and the
// ingestion URL that alerts are POSTed to.
type backend struct {
	store     Store
	ingestURL string
}

// startBackend serves a minimal ingestion endpoint over the test store.
func startBackend(t *testing.T) backend {
	st := newMemStore()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a alert.Alert
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&a); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if _, err := st.Append(r.Context(), []alert.Alert{a}); err != nil {
			http.Error(w, err.Error(), 500)
		}
	}))
	t.Cleanup(hs.Close)
	return backend{store: st, ingestURL: hs.URL + "/"}
}
