//go:build linux

package sensor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/probe"
	"github.com/saker-sec/saker/sensor/state"
)

// TestRelativeOpenResolvedAtTheEvent: an open relative to a directory fd
// is reported under the directory the fd named when the syscall ran, even
// when the fd number names another directory by the time the record is
// read. Resolving late from /proc/PID/fd produced a false "Read ssh
// information" once the number was reused.
func TestRelativeOpenResolvedAtTheEvent(t *testing.T) {
	if err := probe.Check(); err != nil {
		if os.Getenv("SAKER_REQUIRE_BPF") == "1" {
			t.Fatalf("SAKER_REQUIRE_BPF=1 but the probe cannot load: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	root := t.TempDir()
	first, second := filepath.Join(root, "first"), filepath.Join(root, ".ssh")
	for _, d := range []string{first, second} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "id_rsa"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := probe.Open(probe.Options{Types: []event.Type{event.TypeOpenat, event.TypeOpenat2}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// Both opens happen before a single record is read: the reader then
	// meets the fd number as it is afterwards, naming the second directory.
	dirfd, err := unix.Open(first, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Openat(dirfd, "id_rsa", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	fd, err = unix.Openat2(dirfd, "id_rsa", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC})
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	other, err := unix.Open(second, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(other, dirfd, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	unix.Close(other)
	defer unix.Close(dirfd)
	// The same for the working directory, changed before the read.
	t.Chdir(first)
	fd, err = unix.Open("id_rsa", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if err := os.Chdir(second); err != nil {
		t.Fatal(err)
	}

	table := state.NewTable(state.Options{})
	want := filepath.Join(first, "id_rsa")
	// The records are in the ring already: the deadline only bounds a
	// failure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]string{}
	var ev event.Event
	p.Run(ctx, func(rec *probe.Record) {
		if int(rec.PID) != os.Getpid() || rec.Str0 != "id_rsa" {
			return
		}
		dfd := rec.Fill(&ev)
		table.Apply(rec, &ev, dfd)
		how := rec.Type.String() + " relative to a directory fd"
		if dfd == probe.AtFDCWD {
			how = rec.Type.String() + " relative to the working directory"
		}
		seen[how] = ev.FD.Name
		if len(seen) == 3 {
			cancel()
		}
	})
	for _, how := range []string{"openat relative to a directory fd", "openat2 relative to a directory fd", "openat relative to the working directory"} {
		if seen[how] != want {
			t.Errorf("%s: fd.name = %q, want %q", how, seen[how], want)
		}
	}
}
