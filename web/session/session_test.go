package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store/redistest"
)

// replicas returns two Stores that must see each other's writes, as two
// hub processes do.
type replicas func(t *testing.T) (Store, Store)

func TestStores(t *testing.T) {
	for name, open := range map[string]replicas{
		"memory": func(t *testing.T) (Store, Store) { m := &Memory{}; return m, m },
		"file": func(t *testing.T) (Store, Store) {
			p := filepath.Join(t.TempDir(), "sub", "sessions.json")
			a, err := OpenFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := OpenFile(p)
			if err != nil {
				t.Fatal(err)
			}
			return a, b
		},
		"redis": func(t *testing.T) (Store, Store) {
			addr := redistest.Addr(t)
			ca := redis.NewClient(&redis.Options{Addr: addr})
			cb := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { ca.Close(); cb.Close() })
			return NewRedis(ca, "t:"), NewRedis(cb, "t:")
		},
	} {
		t.Run(name, func(t *testing.T) { testReplicas(t, open) })
	}
}

func testReplicas(t *testing.T, open replicas) {
	ctx := context.Background()
	a, b := open(t)
	live := Session{User: "alice", Gen: "g1", Expires: time.Now().Add(time.Hour).Truncate(time.Millisecond)}
	if _, err := b.Get(ctx, "k1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	if err := a.Put(ctx, "k1", live); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, "k2", Session{User: "bob", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "k1")
	if err != nil || got.User != live.User || got.Gen != live.Gen || !got.Expires.Equal(live.Expires) {
		t.Fatalf("other replica reads %+v, %v; want %+v", got, err, live)
	}
	// Logout on one replica ends the session on the other.
	if err := b.Delete(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "k1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked session still found: %v", err)
	}
	if _, err := a.Get(ctx, "k2"); err != nil {
		t.Fatalf("other session lost: %v", err)
	}
	if err := b.Delete(ctx, "never"); err != nil {
		t.Fatalf("delete unknown: %v", err)
	}
	// Expired sessions are gone.
	if err := a.Put(ctx, "old", Session{User: "x", Expires: time.Now().Add(-time.Second)}); err == nil {
		if _, err := b.Get(ctx, "old"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session found: %v", err)
		}
	}
}

func TestFileCorrupt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	f, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Put(context.Background(), "k", Session{User: "u", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(p, "{not json"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(context.Background(), "k"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("corrupt file: %v, want a read error", err)
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }
