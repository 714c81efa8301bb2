package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/saker-sec/saker/hub/store"
	redisstore "github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/store/redistest"
	"github.com/saker-sec/saker/hub/store/sharded"
)

// Two hubs on a three-master Redis Cluster with REDIS_SHARDS=3, both
// ingesting and forwarding to one webhook: every acknowledged alert is
// stored once, on all three masters between them, read back page by page
// through the dashboard API, seen once and in order by a dashboard's live
// feed, and forwarded once.
func TestClusterTwoHubs(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	s := newSink(t)
	env := func() map[string]string {
		e := forwarding(s, map[string]string{
			"REDIS_ADDRESS": strings.Join(c.Addrs(), ","), "REDIS_SHARDS": "3",
			"SAKER_UI_API_TOKENS": "cluster-test-token",
		})
		// Nothing fails here: a redelivery would be a bug, not a retry.
		e["FORWARDING_MINIDLE"] = "60s"
		return e
	}
	a := startHub(t, "hub-a", env())
	b := startHub(t, "hub-b", env())
	feed := watchFeed(t, a)

	l := newLoader(a.url(), b.url())
	l.start(8)
	l.waitAcked(t, pick(1500, 60000), time.Minute)
	l.stop()
	acked := l.ackedIDs()

	// Stored once, spread over every master.
	st, err := sharded.OpenRedis(context.Background(), redisstore.Options{Addresses: c.Addrs()}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := readAll(t, st, byUUID)
	for _, m := range c.Masters {
		keys := redistest.Keys(t, m.Addr, "*events")
		if len(keys) != 1 {
			t.Fatalf("master %s holds streams %v, want one shard's", m.Addr, keys)
		}
		if n := redistest.Do(t, m.Addr, "XLEN", keys[0]); n < int64(len(acked))/10 {
			t.Errorf("master %s holds %d of %d alerts", m.Addr, n, len(acked))
		}
	}
	// Read back through hub b's API, paging with its cursors.
	api := apiUUIDs(t, b)
	forwardDrain := s.drain(acked, time.Minute)
	seen := feed.waitFor(acked, 30*time.Second)

	report(t, "cluster: two hubs, 3 masters", acked, stored, s.counts(), forwardDrain,
		fmt.Sprintf("feed_seen=%d", len(seen)))
	for name, got := range map[string]map[string]int{"stored": stored, "API": api, "forwarded": s.counts(), "live feed": seen} {
		r := compare(acked, got)
		if r.missing > 0 || r.duplicates > 0 {
			t.Errorf("%s: %d of %d acknowledged alerts missing, %d duplicates", name, r.missing, r.acked, r.duplicates)
		}
	}
	if feed.err() != "" {
		t.Error(feed.err())
	}

	// A browser reconnecting to the other hub with the ID it saw 200
	// events before the end gets exactly the events after it, in order.
	feed.mu.Lock()
	ids := append([]string(nil), feed.ids...)
	feed.mu.Unlock()
	if len(ids) > 200 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		from := len(ids) - 200
		c, replayed := dialFeed(ctx, t, b, ids[from-1])
		c.CloseNow()
		var got []string
		for _, e := range replayed {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, ids[from:]) {
			t.Errorf("resume after %s replayed %d events, want the %d after it in order (first difference at %d)",
				ids[from-1], len(got), len(ids)-from, firstDiff(got, ids[from:]))
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// apiUUIDs pages through /api/v1/events of a hub's dashboard.
func apiUUIDs(t *testing.T, h *hubProc) map[string]int {
	t.Helper()
	out := map[string]int{}
	before := ""
	for pages := 0; pages < 10_000; pages++ {
		u := fmt.Sprintf("http://127.0.0.1:%d/api/v1/events?limit=500", h.uiPort)
		if before != "" {
			u += "&before=" + url.QueryEscape(before)
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer cluster-test-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p store.Page
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
		}
		for _, e := range p.Events {
			out[e.UUID]++
		}
		if p.Next == "" {
			return out
		}
		before = p.Next
	}
	t.Fatal("API paging did not end")
	return nil
}

// feed is a dashboard websocket client recording the live events.
type feed struct {
	mu     sync.Mutex
	ids    []string // in the order received
	got    map[string]int
	last   string
	errMsg string
	more   chan struct{}
}

type wsMsg struct {
	Type   string        `json:"type"`
	Events []store.Event `json:"events"`
}

// dialFeed opens a hub's dashboard websocket with a hello resuming after
// the given ID ("" = live only) and returns the connection once the hub
// says it is live, with the events it replayed.
func dialFeed(ctx context.Context, t *testing.T, h *hubProc, after string) (*websocket.Conn, []store.Event) {
	t.Helper()
	hdr := http.Header{"Authorization": {"Bearer cluster-test-token"}}
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/api/v1/ws", h.uiPort), &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("dashboard websocket: %v", err)
	}
	c.SetReadLimit(64 << 20)
	hello, _ := json.Marshal(map[string]string{"type": "hello", "after": after})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	var replayed []store.Event
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("dashboard websocket: %v", err)
		}
		var m wsMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case "ready":
			return c, replayed
		case "events":
			replayed = append(replayed, m.Events...)
		default:
			t.Fatalf("dashboard websocket sent %q before ready", m.Type)
		}
	}
}

// watchFeed connects to a hub's live feed and returns once it is live.
func watchFeed(t *testing.T, h *hubProc) *feed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, _ := dialFeed(ctx, t, h, "")
	f := &feed{got: map[string]int{}, more: make(chan struct{}, 1)}
	go func() {
		defer c.CloseNow()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var m wsMsg
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			f.mu.Lock()
			if m.Type != "events" {
				f.errMsg = "live feed sent " + m.Type
			}
			for _, e := range m.Events {
				if f.last != "" && store.CompareIDs(f.last, e.ID) >= 0 && f.errMsg == "" {
					f.errMsg = fmt.Sprintf("live feed out of order: %s after %s", e.ID, f.last)
				}
				f.last = e.ID
				f.ids = append(f.ids, e.ID)
				f.got[e.UUID]++
			}
			f.mu.Unlock()
			select {
			case f.more <- struct{}{}:
			default:
			}
		}
	}()
	return f
}

// waitFor waits until the feed has seen every acked uuid (bounded) and
// returns what it saw.
func (f *feed) waitFor(acked map[string]time.Time, within time.Duration) map[string]int {
	deadline := time.After(within)
	for {
		f.mu.Lock()
		missing := 0
		for id := range acked {
			if f.got[id] == 0 {
				missing++
			}
		}
		out := make(map[string]int, len(f.got))
		for k, v := range f.got {
			out[k] = v
		}
		f.mu.Unlock()
		if missing == 0 {
			return out
		}
		select {
		case <-f.more:
		case <-deadline:
			return out
		}
	}
}

func (f *feed) err() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errMsg
}
