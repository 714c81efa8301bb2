package k8saudit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// follower runs Follow in the background and hands over its lines.
func follower(t *testing.T, path string, o FollowOptions) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan string, 100)
	done := make(chan error, 1)
	o.Poll = 2 * time.Millisecond
	go func() {
		done <- Follow(ctx, path, o, func(l []byte) error { lines <- string(l); return nil })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Follow: %v", err)
		}
	})
	return lines
}

func expect(t *testing.T, lines <-chan string, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-lines:
			if got != w {
				t.Fatalf("line %q, want %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no line, want %q", w)
		}
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	// The file appears after Follow started.
	lines := follower(t, path, FollowOptions{FromStart: true, MaxLine: 64})
	appendFile(t, path, "{\"a\":1}\n{\"a\":2}\n{\"a\":")
	expect(t, lines, `{"a":1}`, `{"a":2}`)
	// The partial line completes later.
	appendFile(t, path, "3}\r\n\n")
	expect(t, lines, `{"a":3}`)

	// The API server's log backend rotates by renaming and creating a
	// new file; the last lines of the old one are still read.
	appendFile(t, path, "{\"a\":4}")
	if err := os.Rename(path, filepath.Join(dir, "audit-2026-11-30T12-00-00.000.log")); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "{\"b\":1}\n")
	expect(t, lines, `{"a":4}`, `{"b":1}`)

	// copytruncate: the file shrinks and is read from its start. (As
	// for tail -F, new content that outgrows the old size before the
	// next poll cannot be told from appended data.)
	appendFile(t, path, "{\"b\":2,\"pad\":\"................................\"}\n")
	expect(t, lines, `{"b":2,"pad":"................................"}`)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "{\"c\":1}\n")
	expect(t, lines, `{"c":1}`)

	// An oversized line is dropped, the next one still read.
	appendFile(t, path, "{\"x\":\""+string(make([]byte, 100))+"\"}\n{\"c\":2}\n")
	expect(t, lines, `{"c":2}`)
}

func TestFollowFromEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	appendFile(t, path, "{\"old\":1}\n")
	lines := follower(t, path, FollowOptions{})
	// Wait until Follow has reached the end before appending: a line
	// appended now and one appended later must both arrive, the old not.
	deadline := time.Now().Add(10 * time.Second)
	for {
		appendFile(t, path, "{\"new\":1}\n")
		select {
		case got := <-lines:
			if got != `{"new":1}` {
				t.Fatalf("line %q", got)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no line")
		}
	}
}
