package response

import "testing"

func TestCgroupViewResolve(t *testing.T) {
	host := cgroupView{mount: "/sys/fs/cgroup", nsRoot: "/"}
	ctr := cgroupView{mount: "/host/sys/fs/cgroup", nsRoot: "/system.slice/docker-abc.scope"}
	for _, tc := range []struct {
		v        cgroupView
		in, want string
		err      bool
	}{
		{v: host, in: "/system.slice/docker-x.scope", want: "/system.slice/docker-x.scope"},
		{v: host, in: "/", want: "/"},
		{v: host, in: "/../x", err: true},
		{v: ctr, in: "/", want: "/system.slice/docker-abc.scope"},
		{v: ctr, in: "/sub", want: "/system.slice/docker-abc.scope/sub"},
		{v: ctr, in: "/../docker-def.scope", want: "/system.slice/docker-def.scope"},
		{v: ctr, in: "/../..", want: "/"},
		{v: ctr, in: "/../../../x", err: true},
		{v: ctr, in: "relative", err: true},
	} {
		got, err := tc.v.resolve(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%+v resolve(%q) = %q, %v; want %q (error %v)", tc.v, tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/a\040b\\c`); got != `/a b\\c` {
		t.Fatalf("got %q", got)
	}
}
