package embedded

import (
	"context"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// An interned meta caches its index lists. When retention drops the last
// event of a meta while another event using it is being written, the meta
// and its lists go away and the written event interns it again: it must
// land in the lists queries read, not in the dropped ones.
func TestMetaInternedAgainAfterItsListsWereDropped(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	first := sample("first")
	if _, err := s.Append(ctx, []alert.Alert{first}); err != nil {
		t.Fatal(err)
	}
	dropped := false
	s.beforeWrite = func() {
		if dropped {
			return
		}
		dropped = true
		// Retention between the second Append's queueing and its write.
		s.mu.Lock()
		s.dropFront(len(s.evs))
		s.cutIndexes()
		s.mu.Unlock()
	}
	second := sample("second")
	ids, err := s.Append(ctx, []alert.Alert{second})
	if err != nil {
		t.Fatal(err)
	}
	if !dropped {
		t.Fatal("retention did not run during the write")
	}
	for _, f := range []store.Filter{{Rules: []string{second.Rule}}, {Hostnames: []string{second.Hostname}}, {}} {
		p, err := s.Query(ctx, store.Query{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != 1 || p.Events[0].ID != ids[0] {
			t.Errorf("query %+v: got %d events, want only %s", f, len(p.Events), ids[0])
		}
	}
}

// Two alerts whose rule and source run into each other through a NUL
// byte ("r\x00" + "s" and "r" + "\x00s") are two shapes: each is found by
// its own rule. (The metaKey used to join the parts with NUL bytes, so the
// second alert took the first one's interned rule and source.)
func TestShapesWithSeparatorBytesKeptApart(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	a, b := sample("a"), sample("b")
	a.Rule, a.Source = "r\x00", "s"
	b.Rule, b.Source = "r", "\x00s"
	if _, err := s.Append(ctx, []alert.Alert{a, b}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []alert.Alert{a, b} {
		p, err := s.Query(ctx, store.Query{Filter: store.Filter{Rules: []string{want.Rule}}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != 1 || p.Events[0].UUID != want.UUID || p.Events[0].Source != want.Source {
			t.Errorf("rule %q: %+v, want only %s", want.Rule, p.Events, want.UUID)
		}
	}
}
