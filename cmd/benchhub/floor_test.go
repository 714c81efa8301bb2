package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store/redistest"
)

// TestMain serves a floor when startFloor re-executes the test binary.
func TestMain(m *testing.M) {
	if kind := os.Getenv(floorEnv); kind != "" {
		if err := serveFloor(kind); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestFloorRedisStoresEachAlert: floor-redis answers 200 only with every
// alert of the request in Redis, so its figures are a true floor.
func TestFloorRedisStoresEachAlert(t *testing.T) {
	addr := redistest.Start(t).Addr
	ft, err := startFloor("redis", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ft.stop()
	for _, req := range []struct{ path, body string }{
		{"/", `{"rule":"one"}`},
		{"/api/v1/events", "{\"rule\":\"two\"}\n{\"rule\":\"three\"}\n"},
	} {
		resp, err := http.Post(ft.url+req.path, "application/json", strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: status %d", req.path, resp.StatusCode)
		}
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, DB: floorDB})
	defer c.Close()
	entries, err := c.XRange(context.Background(), "floor", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Values["b"].(string))
	}
	if want := `{"rule":"one"} {"rule":"two"} {"rule":"three"}`; strings.Join(got, " ") != want {
		t.Fatalf("stream holds %q, want %s", got, want)
	}

	// Concurrent requests share pipelines: each still answers only once
	// its alert is stored.
	const senders = 50
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(ft.url+"/", "application/json", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := c.XLen(context.Background(), "floor").Result(); err != nil || n != 3+senders {
		t.Fatalf("stream holds %d entries (%v), want %d", n, err, 3+senders)
	}
}
