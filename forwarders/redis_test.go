package forwarders_test

import (
	"context"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/store/redistest"
)

func openRedis(t testing.TB, addr string) store.Store {
	t.Helper()
	s, err := redis.New(context.Background(), redis.Options{Addresses: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Two hub replicas (two dispatchers, two store clients) on one Redis share
// a target's consumer group: every alert is delivered once, by one of them.
func TestReplicasShareWorkOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	st1, st2 := openRedis(t, srv.Addr), openRedis(t, srv.Addr)
	p := newHookPeer(t)
	d1, _ := start(t, st1, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, fastOptions("replica-1"))
	d2, _ := start(t, st2, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, fastOptions("replica-2"))
	var uuids []string
	for i := 0; i < 20; i++ {
		st := st1
		if i%2 == 1 {
			st = st2
		}
		uuids = append(uuids, appendAlerts(t, st, 10, "r", alert.PriorityWarning)...)
	}
	eventually(t, 15*time.Second, "200 delivered", func() bool { n, _ := p.delivered(); return n == 200 })
	// Once nothing is pending in the shared group, every alert is
	// acknowledged and none can be delivered again: a duplicate would
	// have been counted by now, with no sleep to guess when.
	var s1, s2 forwarders.Status
	eventually(t, 5*time.Second, "counters", func() bool {
		s1, s2 = d1.Status(context.Background())[0], d2.Status(context.Background())[0]
		return s1.Sent+s2.Sent >= 200 && s1.Pending == 0 && s2.Pending == 0
	})
	assertExactlyOnce(t, p, uuids)
	if s1.Sent+s2.Sent != 200 {
		t.Fatalf("sent %d + %d, want 200", s1.Sent, s2.Sent)
	}
	t.Logf("replica-1 sent %d, replica-2 sent %d", s1.Sent, s2.Sent)
}

// A replica dies holding a batch in flight; the surviving one reclaims it
// after MinIdle and delivers it.
func TestSurvivingReplicaReclaimsOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	st1, st2 := openRedis(t, srv.Addr), openRedis(t, srv.Addr)
	p := newHookPeer(t)
	p.setMode(modeHang)
	opts := fastOptions("replica-1")
	opts.Retry.Timeout = 5 * time.Second
	_, stop1 := start(t, st1, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, opts)
	uuids := appendAlerts(t, st1, 30, "r", alert.PriorityWarning)
	select {
	case <-p.inflight:
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery started")
	}
	stop1() // replica-1 dies with its batch unacknowledged
	p.setMode(modeOK)
	opts = fastOptions("replica-2")
	opts.MinIdle = 500 * time.Millisecond
	start(t, st2, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, opts)
	eventually(t, 10*time.Second, "all 30 delivered by replica-2", func() bool { n, _ := p.delivered(); return n == 30 })
	assertExactlyOnce(t, p, uuids)
}
