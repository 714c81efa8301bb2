package rules

import (
	"net/netip"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// TestEitherEndFields: fd.ip, fd.net and fd.port match when either the
// client or the server end does (Falco's fd.ip semantics).
func TestEitherEndFields(t *testing.T) {
	ev := &event.Event{Type: event.TypeConnect, FD: event.FD{Num: 3, Type: event.FDIPv4,
		ClientIP: netip.MustParseAddr("10.0.0.2"), ServerIP: netip.MustParseAddr("8.8.8.8"), ClientPort: 40000, ServerPort: 53}}
	for cond, want := range map[string]bool{
		"fd.ip = 10.0.0.2":                    true,
		"fd.ip = 8.8.8.8":                     true,
		"fd.ip = 1.1.1.1":                     false,
		"fd.ip != 8.8.8.8":                    true, // the client end differs
		"fd.net = 8.8.0.0/16":                 true,
		"fd.net in (192.168.0.0/16)":          false,
		"fd.port = 53":                        true,
		"fd.port = 40000":                     true,
		"fd.port in (22, 80)":                 false,
		"fd.sip = 10.0.0.2":                   false,
		"not fd.snet in (10.0.0.0/8)":         true,
		"fd.ip != 0.0.0.0 and fd.port > 1024": true,
	} {
		if got := compileCond(t, cond)(ev); got != want {
			t.Errorf("%s = %v, want %v", cond, got, want)
		}
	}
}
