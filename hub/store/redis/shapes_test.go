package redis

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/redistest"
)

// The shape memo hands every alert the index keys, rule sets and counter
// field built from that alert itself: alerts differing in any one part of
// their shape (priority, rule, host, source, a tag, their order, an empty
// tag, the container or image field, present or not) never get another's.
func TestShapeMemoMatchesEachAlert(t *testing.T) {
	base := sample(1)
	vary := []func(a *alert.Alert){
		func(a *alert.Alert) {},
		func(a *alert.Alert) { a.Priority = alert.Priorities[(int(a.Priority)+1)%len(alert.Priorities)] },
		func(a *alert.Alert) { a.Rule += "x" },
		func(a *alert.Alert) { a.Hostname += "x" },
		func(a *alert.Alert) { a.Source += "x" },
		func(a *alert.Alert) { a.Tags = []string{"t"} },
		func(a *alert.Alert) { a.Tags = []string{"t1", "t"} },
		func(a *alert.Alert) { a.Tags = append(a.Tags, "") },
		func(a *alert.Alert) { a.Tags = nil },
		func(a *alert.Alert) { a.OutputFields = map[string]any{"container.name": "c9"} },
		func(a *alert.Alert) { a.OutputFields = map[string]any{"container.name": "host"} },
		func(a *alert.Alert) { a.OutputFields = map[string]any{} },
		func(a *alert.Alert) { a.OutputFields["container.image.repository"] = "nginx" },
		func(a *alert.Alert) { a.OutputFields["container.image.repository"] = "" },
		// parts running into each other
		func(a *alert.Alert) { a.Rule, a.Hostname = a.Rule+a.Hostname[:1], a.Hostname[1:] },
	}
	variant := func(i int) alert.Alert {
		a := base
		a.Tags = append([]string(nil), base.Tags...)
		a.OutputFields = map[string]any{"container.name": base.OutputFields["container.name"]}
		vary[i](&a)
		return a
	}
	memo := newShapeMemo()
	// round 0 builds the shapes, round 1 finds them in the memo.
	for round := 0; round < 2; round++ {
		for i := range vary {
			a := variant(i)
			sh := memo.of(&a)
			want := &shape{key: counterKey(&a), sets: ruleSets(&a), ruleArg: a.Rule, prioArg: prioritySet(&a)}
			for _, k := range indexSuffixes(&a) {
				want.idx = append(want.idx, k)
			}
			if sh.key != want.key || !reflect.DeepEqual(sh.sets, want.sets) || !reflect.DeepEqual(sh.idx, want.idx) ||
				sh.ruleArg != want.ruleArg || sh.prioArg != want.prioArg || sh.keyArg != any(want.key) {
				t.Errorf("round %d, variant %d: shape %q %v %v %v %v; want %q %v %v %v %v", round, i,
					sh.key, sh.sets, sh.idx, sh.ruleArg, sh.prioArg, want.key, want.sets, want.idx, want.ruleArg, want.prioArg)
			}
		}
	}
}

// One Append of alerts of many shapes (more than request numbers without a
// map) stores each under its own rule, hostname, tag and counter.
func TestAppendManyShapes(t *testing.T) {
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}})
	ctx := context.Background()
	var batch []alert.Alert
	for i := 0; i < 30; i++ {
		a := sample(i)
		a.Rule = fmt.Sprintf("rule-%d", i%15)
		a.Tags = []string{fmt.Sprintf("tag-%d", i%15)}
		batch = append(batch, a)
	}
	ids, err := s.Append(ctx, batch)
	if err != nil || len(ids) != len(batch) {
		t.Fatalf("Append: %d ids, %v", len(ids), err)
	}
	for i, a := range batch {
		for _, f := range []store.Filter{{Rules: []string{a.Rule}}, {Tags: a.Tags}, {Hostnames: []string{a.Hostname}, Rules: []string{a.Rule}}} {
			p, err := s.Query(ctx, store.Query{Filter: f, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range p.Events {
				if e.ID == ids[i] {
					found = e.Rule == a.Rule && e.Hostname == a.Hostname && e.UUID == a.UUID
				}
			}
			if !found {
				t.Errorf("alert %d (%s, %s) not found by %+v", i, a.Rule, a.Hostname, f)
			}
		}
	}
	st, err := s.Stats(ctx, store.StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != int64(len(batch)) {
		t.Errorf("Stats total %d, want %d", st.Total, len(batch))
	}
}
