package alert

import (
	"strings"
	"testing"
)

func TestJSONDepth(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{`1`, 0},
		{`"[[[{"`, 0},
		{`{}`, 1},
		{`{"a":[1,{"b":[]}]}`, 4},
		{`{"a":"\"[[["}`, 1},
		{`{"a":"\\","b":[[]]}`, 3},
		{`[` + strings.Repeat(`{"x":[`, 10) + `]}]`, 21},
		{`{"a":"\\\"[[","b":[]}`, 2},
		{`{"a":"\\\\"}[[`, 2},
		{`{"a":"[[[`, 1},
		{`["\\\\\"", []]`, 2},
	}
	for _, c := range cases {
		if got := JSONDepth([]byte(c.in)); got != c.want {
			t.Errorf("JSONDepth(%s) = %d, want %d", c.in, got, c.want)
		}
	}
	for _, c := range cases {
		if got, want := JSONDepth([]byte(c.in)), byteByByteDepth([]byte(c.in)); got != want {
			t.Errorf("JSONDepth(%s) = %d, the byte-by-byte scan says %d", c.in, got, want)
		}
	}
	if err := CheckDepth([]byte(strings.Repeat("[", MaxDepth+1))); err == nil {
		t.Error("CheckDepth accepted MaxDepth+1 levels")
	}
	if err := CheckDepth([]byte(strings.Repeat("[", MaxDepth))); err != nil {
		t.Errorf("CheckDepth refused MaxDepth levels: %v", err)
	}
}

// byteByByteDepth is the plain scan JSONDepth's quote-to-quote jumps must
// agree with.
func byteByByteDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > deepest {
				deepest = depth
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// TestTooDeep: the bracket count's shortcut agrees with the scan, around
// MaxDepth and with brackets inside strings.
func TestTooDeep(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("[", MaxDepth), strings.Repeat("[", MaxDepth+1), strings.Repeat("[{", MaxDepth/2) + "[",
		`{"a":"` + strings.Repeat("[", 2*MaxDepth) + `"}`, `{"a":[` + strings.Repeat(`{"b":"[[[["},`, MaxDepth) + `1]}`,
		`{"a":"\"` + strings.Repeat("{", MaxDepth) + `"}`, `{}`,
	} {
		d, deep := TooDeep([]byte(in))
		want := JSONDepth([]byte(in))
		if deep != (want > MaxDepth) || (deep && d != want) {
			t.Errorf("TooDeep(%.40s…) = %d, %v; JSONDepth says %d", in, d, deep, want)
		}
	}
}

func FuzzJSONDepth(f *testing.F) {
	f.Add([]byte(`{"a":"\\\"[[","b":[[]]}`))
	f.Add([]byte(`["\\", "\\\\\"", {"x": [1]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := JSONDepth(b), byteByByteDepth(b); got != want {
			t.Fatalf("JSONDepth(%q) = %d, the byte-by-byte scan says %d", b, got, want)
		}
		if d, deep := TooDeep(b); deep != (JSONDepth(b) > MaxDepth) || (deep && d != JSONDepth(b)) {
			t.Fatalf("TooDeep(%q) = %d, %v; JSONDepth says %d", b, d, deep, JSONDepth(b))
		}
	})
}

// BenchmarkDepthCheck is the depth check every alert takes, on a Falco
// alert: the full scan, and TooDeep's bracket count.
func BenchmarkDepthCheck(b *testing.B) {
	body := []byte(`{"hostname":"node-2","output":"09:13:45.987654321: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 user_loginuid=-1 process=sh proc_exepath=/bin/busybox parent=containerd-shim command=sh -c echo hello terminal=34817 exe_flags=EXE_WRITABLE|EXE_LOWER_LAYER container_id=9f2c1e0a4b7d container_name=busybox)","output_fields":{"container.id":"9f2c1e0a4b7d","container.image.repository":"docker.io/library/busybox","container.image.tag":"latest","container.name":"busybox","evt.arg.flags":"EXE_WRITABLE|EXE_LOWER_LAYER","evt.time":1795425225987654321,"evt.type":"execve","k8s.ns.name":null,"k8s.pod.name":null,"proc.cmdline":"sh -c echo hello","proc.exepath":"/bin/busybox","proc.name":"sh","proc.pname":"containerd-shim","proc.tty":34817,"user.loginuid":-1,"user.name":"root","user.uid":0},"priority":"Notice","rule":"Terminal shell in container","source":"syscall","tags":["T1059","container","maturity_stable","mitre_execution","shell"],"time":"2026-11-23T09:13:45.987654321Z"}`)
	b.Run("JSONDepth", func(b *testing.B) {
		for b.Loop() {
			if JSONDepth(body) > MaxDepth {
				b.Fatal("deep")
			}
		}
	})
	b.Run("TooDeep", func(b *testing.B) {
		for b.Loop() {
			if _, deep := TooDeep(body); deep {
				b.Fatal("deep")
			}
		}
	})
}
