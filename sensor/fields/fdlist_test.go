package fields

import (
	"net/netip"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

func TestFDListFields(t *testing.T) {
	sock := event.FD{Num: 5, Type: event.FDIPv4, Name: "10.0.0.2:40000->10.0.0.1:443",
		ClientIP: netip.MustParseAddr("10.0.0.2"), ServerIP: netip.MustParseAddr("10.0.0.1"), ClientPort: 40000, ServerPort: 443}
	sock6 := event.FD{Num: 9, Type: event.FDIPv6, Name: "[::1]:50000->[::1]:8080",
		ClientIP: netip.MustParseAddr("::1"), ServerIP: netip.MustParseAddr("::1"), ClientPort: 50000, ServerPort: 8080}
	file := event.FD{Num: 3, Type: event.FDFile, Name: "/var/log/x"}
	closed := event.FD{Num: 77}
	poll := &event.Event{Type: event.TypePoll, FDList: []event.FD{file, sock, closed, sock6}}
	filesOnly := &event.Event{Type: event.TypePpoll, FDList: []event.FD{file, closed}}
	notPoll := &event.Event{Type: event.TypeRead, FD: file, FDList: []event.FD{file}}
	checkFields(t, []fieldCase{
		{ev: poll, field: "fdlist.nums", s: "3,5,77,9"},
		{ev: poll, field: "fdlist.names", s: "/var/log/x,10.0.0.2:40000->10.0.0.1:443,[::1]:50000->[::1]:8080"},
		{ev: poll, field: "fdlist.cips", s: "10.0.0.2,::1"},
		{ev: poll, field: "fdlist.sips", s: "10.0.0.1,::1"},
		{ev: poll, field: "fdlist.cports", s: "40000,50000"},
		{ev: poll, field: "fdlist.sports", s: "443,8080"},
		{ev: filesOnly, field: "fdlist.nums", s: "3,77"},
		{ev: filesOnly, field: "fdlist.cips", missing: true},
		{ev: filesOnly, field: "fdlist.sports", missing: true},
		{ev: &event.Event{Type: event.TypePoll}, field: "fdlist.nums", missing: true},
		{ev: notPoll, field: "fdlist.nums", missing: true},
	})
}
