package redis

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/redistest"
)

// BenchmarkQueryManyRules prices the dashboard's reads on a store of
// 1,000,000 alerts spread over a day, fired by 100 or 500 distinct rules (a
// rule has one priority, as in Falco) on 50 hosts: the first page of the
// unfiltered list (the dashboard's default view), a page 20 pages deep, an
// hour's window, priority filters (common and rare), and the stats of the
// last 24 hours (time-only: the per-minute counters) and of one priority
// (the matching events aggregated through the indexes). Unfiltered and
// priority queries walk one index per rule that carried the priority, so
// their cost grows with the rules seen. Alerts are small (a short output,
// no fields): the bodies read for a page do not depend on the layout.
func BenchmarkQueryManyRules(b *testing.B) {
	const alerts = 1_000_000
	for _, rules := range []int{100, 500} {
		b.Run(fmt.Sprintf("rules-%d", rules), func(b *testing.B) {
			ctx := context.Background()
			srv := redistest.Start(b)
			s, err := New(ctx, Options{Addresses: []string{srv.Addr}, MaxAge: -1, MaxEvents: 2 * alerts, TrimInterval: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			end := time.Now().Add(-time.Minute)
			start := end.Add(-24 * time.Hour)
			step := end.Sub(start) / alerts
			batch := make([]alert.Alert, 0, 1000)
			for i := range alerts {
				r := i % rules
				batch = append(batch, alert.Alert{
					UUID: "q" + strconv.Itoa(i), UUIDGenerated: true, Output: "event " + strconv.Itoa(i),
					Priority: alert.Priorities[r%len(alert.Priorities)], Rule: "rule " + strconv.Itoa(r),
					Source: "syscall", Hostname: "node-" + strconv.Itoa(i%50), Time: start.Add(time.Duration(i) * step),
				})
				if len(batch) == cap(batch) {
					if _, err := s.Append(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			deep := ""
			for range 20 {
				p, err := s.Query(ctx, store.Query{Limit: 50, Before: deep})
				if err != nil || p.Next == "" {
					b.Fatalf("page: %v (next %q)", err, p.Next)
				}
				deep = p.Next
			}
			hour := store.Filter{Since: start.Add(6 * time.Hour), Until: start.Add(7 * time.Hour)}
			queries := []struct {
				name string
				q    store.Query
			}{
				{"unfiltered-first-page", store.Query{Limit: 50}},
				{"unfiltered-page-21", store.Query{Limit: 50, Before: deep}},
				{"since-until-hour", store.Query{Filter: hour, Limit: 50}},
				{"min-priority-warning", store.Query{Filter: store.Filter{MinPriority: alert.PriorityWarning}, Limit: 50}},
				{"priority-emergency-hour", store.Query{Filter: store.Filter{Priorities: []alert.Priority{alert.PriorityEmergency}, Since: hour.Since, Until: hour.Until}, Limit: 50}},
				{"hostname", store.Query{Filter: store.Filter{Hostnames: []string{"node-7"}}, Limit: 50}},
			}
			for _, q := range queries {
				b.Run(q.name, func(b *testing.B) {
					for b.Loop() {
						p, err := s.Query(ctx, q.q)
						if err != nil || len(p.Events) == 0 {
							b.Fatalf("%d events, %v", len(p.Events), err)
						}
					}
				})
			}
			stats := []struct {
				name string
				q    store.StatsQuery
			}{
				{"stats-24h", store.StatsQuery{Filter: store.Filter{Since: end.Add(-24 * time.Hour)}}},
				{"stats-hour-priority-emergency", store.StatsQuery{Filter: store.Filter{Priorities: []alert.Priority{alert.PriorityEmergency}, Since: hour.Since, Until: hour.Until}}},
			}
			for _, q := range stats {
				b.Run(q.name, func(b *testing.B) {
					for b.Loop() {
						st, err := s.Stats(ctx, q.q)
						if err != nil || st.Total == 0 {
							b.Fatalf("total %d, %v", st.Total, err)
						}
					}
				})
			}
		})
	}
}
