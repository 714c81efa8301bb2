package k8saudit

import (
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/rules"
)

// benchList is an EventList of 100 events shaped like a busy cluster's
// traffic: mostly gets/lists/watches by controllers, some pod creates and
// secret reads by users.
func benchList(b *testing.B) []byte {
	items := make([]any, 0, 100)
	for i := range 100 {
		var e ev
		switch i % 10 {
		case 0:
			e = pod("dev", map[string]any{"containers": ctrs(ctr("nginx:1.25", nil), ctr("envoy:1.29", nil))})
		case 1:
			e = base("get", "secrets", "dev", "tls")
		case 2:
			e = base("update", "configmaps", "dev", "app").set("requestObject.data", map[string]any{"color": "blue"})
		default:
			e = base("watch", "endpoints", "kube-system", "").user("system:kube-controller-manager")
		}
		items = append(items, map[string]any(e))
	}
	return mustJSON(b, map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": map[string]any{}, "items": items})
}

// BenchmarkAuditPath measures the audit path on one core: decode the
// webhook's EventList and evaluate all 48 rules of k8s_audit_rules.yaml
// (rule_matching: first, as Falco's default), building the alerts. The
// events/s metric is the figure quoted in README (target ≥ 50 K/s).
func BenchmarkAuditPath(b *testing.B) {
	rs, err := LoadRules(rules.Config{})
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(rs, Options{Hostname: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	body := benchList(b)
	var p fastjson.Parser
	var evs []Event
	var as []alert.Alert
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for range b.N {
		evs, err = Decode(&p, body, now, evs[:0])
		if err != nil {
			b.Fatal(err)
		}
		as = as[:0]
		for i := range evs {
			as = e.Eval(as, &evs[i])
		}
		n += len(evs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	// On a shared machine wall clock includes time the process waited
	// for a core; CPU seconds of the process (GC included) measure
	// the cost on one core.
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(n)/cpu, "events/cpu-s")
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
