package main

import "testing"

func TestHubGC(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	for _, c := range []struct {
		name string
		env  func(string) (string, bool)
		mem  int64
		want gcSettings
	}{
		{"defaults", env(), 8 << 30, gcSettings{percent: 400, limit: 6 << 30}},
		{"memory unknown", env(), 0, gcSettings{percent: 400, limit: -1}},
		{"user's GOGC", env("GOGC", "100"), 8 << 30, gcSettings{percent: -1, limit: -1}},
		{"user's GOMEMLIMIT", env("GOMEMLIMIT", "1GiB"), 8 << 30, gcSettings{percent: 400, limit: -1}},
	} {
		if got := hubGC(c.env, c.mem); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if memoryBytes() <= 0 {
		t.Error("memoryBytes: neither the cgroup limit nor MemTotal read")
	}
}
