package hub

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store/redistest"
)

func healthz(t *testing.T, h *Hub) (int, string, time.Duration) {
	t.Helper()
	start := time.Now()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + h.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// Redis answering reads but refusing writes (here: min-replicas-to-write
// unmet) makes /healthz 503, so a load balancer stops sending alerts this
// replica cannot store (issue 17 #8).
func TestHealthzReportsRefusedWrites(t *testing.T) {
	srv := redistest.Start(t)
	h := startHub(t, testConfig(t, map[string]string{"REDIS_ADDRESS": srv.Addr}))
	if code, body, _ := healthz(t, h); code != 200 {
		t.Fatalf("healthy Redis: %d %s", code, body)
	}
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rc.Close()
	if err := rc.ConfigSet(context.Background(), "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := healthz(t, h); code != http.StatusServiceUnavailable {
		t.Fatalf("Redis refusing writes: /healthz %d %s, want 503", code, body)
	}
	if err := rc.ConfigSet(context.Background(), "min-replicas-to-write", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := healthz(t, h); code != 200 {
		t.Fatalf("writes accepted again: %d %s", code, body)
	}
}

// /healthz answers within its 2 s limit with Redis frozen (SIGSTOP), where
// the Redis client would wait out its own read timeout (issue 17 #8).
func TestHealthzHonoursItsTimeLimitWithRedisFrozen(t *testing.T) {
	srv := redistest.Start(t)
	h := startHub(t, testConfig(t, map[string]string{"REDIS_ADDRESS": srv.Addr}))
	srv.Freeze(t)
	for i := 0; i < 3; i++ {
		code, body, took := healthz(t, h)
		if code != http.StatusServiceUnavailable || took > 2500*time.Millisecond {
			t.Fatalf("frozen Redis: /healthz %d after %v (%s), want 503 within 2.5s", code, took, body)
		}
	}
	srv.Thaw(t)
}

// The batch route applies POST /'s per-alert limit to each alert
// (issue 17 #9): before, a batch carried alerts of any size up to the
// batch limit.
func TestBatchRouteEnforcesPerAlertLimit(t *testing.T) {
	h := startHub(t, testConfig(t, map[string]string{"SAKER_DATA_DIR": t.TempDir(), "BODYLIMIT": "2048"}))
	big := fmt.Sprintf(`{"output":"%s","priority":"Warning","rule":"r","time":"2024-01-01T00:00:00Z"}`, strings.Repeat("x", 4096))
	small := `{"output":"ok","priority":"Warning","rule":"r","time":"2024-01-01T00:00:00Z"}`
	for _, c := range []struct {
		path, body string
	}{{"/", big}, {"/api/v1/events", "[" + small + "," + big + "]"}} {
		resp, err := http.Post("http://"+h.Addr()+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with a 4 KiB alert over BODYLIMIT=2048: %d %s, want 413", c.path, resp.StatusCode, b)
		}
	}
}
