//go:build linux

package probe

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// TestIOBuffers: read, write, sendto, recvfrom, sendmsg and recvmsg
// records carry the head of the transferred buffer, cut at Falco's default
// snaplen (80 bytes); read and write records name their file, read in the
// kernel at the event.
func TestIOBuffers(t *testing.T) {
	requireBPF(t)
	types := []event.Type{event.TypeRead, event.TypeWrite, event.TypeSendto, event.TypeRecvfrom, event.TypeSendmsg, event.TypeRecvmsg}
	p, err := Open(Options{Types: types})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	long := bytes.Repeat([]byte("0123456789"), 20) // 200 bytes
	path := filepath.Join(t.TempDir(), "io")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(long)
	f.Seek(0, 0)
	f.Read(make([]byte, 300))
	f.Close()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	buf := make([]byte, 64)
	unix.Sendto(pair[0], []byte("sendto payload"), 0, nil)
	unix.Recvfrom(pair[1], buf, 0)
	unix.SendmsgN(pair[0], []byte("sendmsg payload"), nil, nil, 0)
	unix.Recvmsg(pair[1], buf, nil, 0)

	want := map[event.Type]string{
		event.TypeWrite:    string(long[:80]),
		event.TypeRead:     string(long[:80]),
		event.TypeSendto:   "sendto payload",
		event.TypeRecvfrom: "sendto payload",
		event.TypeSendmsg:  "sendmsg payload",
		event.TypeRecvmsg:  "sendmsg payload",
	}
	got := map[event.Type]string{}
	names := map[event.Type]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ev event.Event
	p.Run(ctx, func(r *Record) {
		if int(r.PID) != os.Getpid() || want[r.Type] == "" || got[r.Type] != "" {
			return
		}
		if (r.Type == event.TypeRead || r.Type == event.TypeWrite) && r.Str0 != path {
			return // the runtime's own reads and writes
		}
		r.Fill(&ev)
		got[r.Type] = string(slices.Clone(ev.Data))
		names[r.Type] = ev.FD.Name
		if len(got) == len(want) {
			cancel()
		}
	})
	for typ, w := range want {
		if got[typ] != w {
			t.Errorf("%s: evt.buffer = %q, want %q", typ, got[typ], w)
		}
	}
	for _, typ := range []event.Type{event.TypeRead, event.TypeWrite} {
		if names[typ] != path {
			t.Errorf("%s: fd.name = %q, want %q", typ, names[typ], path)
		}
	}
}
