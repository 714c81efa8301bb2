package probe

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// record builds a raw sample the way the probe lays it out.
func record(typ event.Type, res int64, segs ...[]byte) []byte {
	b := make([]byte, headerSize)
	le := binary.LittleEndian
	le.PutUint16(b[offType:], uint16(typ))
	le.PutUint64(b[offRes:], uint64(res))
	le.PutUint32(b[offPID:], 42)
	copy(b[offComm:], "cat\x00")
	for i, s := range segs {
		le.PutUint16(b[offLen+2*i:], uint16(len(s)))
		b = append(b, s...)
	}
	return b
}

// execRecord is a successful exec: seg1 holds argv then envp, Args[0]
// argv's length.
func execRecord() []byte {
	argv := "ls\x00-l\x00\x00"
	b := record(event.TypeExecve, 0, []byte("/bin/ls\x00"), []byte(argv+"HOME=/root\x00A=b c\x00"), []byte("docker-abc.scope\x00"))
	binary.LittleEndian.PutUint64(b[offArgs:], uint64(len(argv)))
	return b
}

func TestDecode(t *testing.T) {
	sa := []byte{2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name  string
		raw   []byte
		check func(t *testing.T, r *Record, ev *event.Event)
	}{
		{"openat", record(event.TypeOpenat, 3, []byte("/etc/shadow\x00")), func(t *testing.T, r *Record, ev *event.Event) {
			if r.Str0 != "/etc/shadow" || r.PID != 42 || r.Comm != "cat" || ev.FD.Num != 3 || ev.FD.Name != "/etc/shadow" {
				t.Errorf("got %+v / %+v", r, ev.FD)
			}
		}},
		{"execve argv env", execRecord(), func(t *testing.T, r *Record, ev *event.Event) {
			if !slices.Equal(r.Argv, []string{"ls", "-l", ""}) || ev.Path != "/bin/ls" || cstring(r.Seg2) != "docker-abc.scope" {
				t.Errorf("argv %q path %q seg2 %q", r.Argv, ev.Path, r.Seg2)
			}
			if !slices.Equal(r.Env, []string{"HOME=/root", "A=b c"}) {
				t.Errorf("env %q", r.Env)
			}
		}},
		{"connect sockaddr", record(event.TypeConnect, 0, nil, nil, sa), func(t *testing.T, r *Record, ev *event.Event) {
			if ev.FD.ServerIP != netip.MustParseAddr("127.0.0.1") || ev.FD.ServerPort != 8080 || ev.FD.Type != event.FDIPv4 {
				t.Errorf("fd %+v", ev.FD)
			}
		}},
		{"unix connect", record(event.TypeConnect, 0, nil, nil, []byte("\x01\x00/run/x.sock\x00")), func(t *testing.T, r *Record, ev *event.Event) {
			if ev.FD.Type != event.FDUnix || ev.FD.Name != "/run/x.sock" {
				t.Errorf("fd %+v", ev.FD)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := Decode(tt.raw, &r); err != nil {
				t.Fatal(err)
			}
			var ev event.Event
			r.Fill(&ev)
			tt.check(t, &r, &ev)
		})
	}
	var r Record
	if err := Decode(make([]byte, headerSize-1), &r); err == nil {
		t.Error("short header accepted")
	}
	bad := record(event.TypeOpenat, 0, []byte("abc"))
	bad = bad[:len(bad)-1]
	if err := Decode(bad, &r); err == nil {
		t.Error("truncated segment accepted")
	}
}

// FuzzDecode checks the decoder never panics on arbitrary samples.
func FuzzDecode(f *testing.F) {
	f.Add(record(event.TypeOpenat, 3, []byte("/etc/shadow\x00")))
	f.Add(record(event.TypeExecve, 0, []byte("/bin/ls\x00"), []byte("ls\x00-l"), []byte("x")))
	f.Add(record(event.TypeConnect, 0, nil, nil, []byte{10, 0, 0, 80}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if Decode(b, &r) == nil {
			var ev event.Event
			r.Fill(&ev)
		}
	})
}

func TestLeafFirstPath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "/"},
		{"tmp\x00", "/tmp"},
		{".ssh\x00root\x00", "/root/.ssh"},
		{"c\x00b\x00a", "/a/b/c"}, // a last name cut short of its NUL
	} {
		if got := leafFirstPath([]byte(c.in)); got != c.want {
			t.Errorf("leafFirstPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSplitBaseDirs(t *testing.T) {
	for _, tc := range []struct {
		seg2          string
		first, second string
	}{
		{"b\x00a\x00\x00d\x00c\x00", "/a/b", "/c/d"},
		{"\x00d\x00", "/", "/d"},        // the first is the root
		{"b\x00a\x00\x00", "/a/b", "/"}, // the second is the root
		{"b\x00a\x00", "/a/b", "/"},     // no separator: one directory
	} {
		f, s := splitBaseDirs([]byte(tc.seg2))
		if got0, got1 := leafFirstPath(f), leafFirstPath(s); got0 != tc.first || got1 != tc.second {
			t.Errorf("%q: %q, %q; want %q, %q", tc.seg2, got0, got1, tc.first, tc.second)
		}
	}
}
