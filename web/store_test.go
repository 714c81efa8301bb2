package web

import (
	"testing"

	"github.com/saker-sec/saker/hub/store/embedded"
)

// newTestStore opens a real embedded store in the test's temp dir.
func newTestStore(t testing.TB) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
