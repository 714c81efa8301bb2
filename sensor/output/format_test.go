package output

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/event"
)

// ts is 2026-11-23T09:19:30.012345678Z.
var ts = time.Date(2026, 11, 23, 9, 19, 30, 12345678, time.UTC).UnixNano()

func shadowEvent() *event.Event {
	sshd := &event.Thread{PID: 100, Comm: "sshd", Exe: "/usr/sbin/sshd", ExePath: "/usr/sbin/sshd"}
	sshd.Prepare()
	bash := &event.Thread{PID: 200, Comm: "bash", Exe: "-bash", ExePath: "/usr/bin/bash", Parent: sshd}
	bash.Prepare()
	cat := &event.Thread{PID: 300, Comm: "cat", Exe: "cat", ExePath: "/usr/bin/cat", Args: []string{"/etc/shadow"}, Parent: bash,
		UID: 0, LoginUID: 1000, LoginUser: "alice", TTY: 34816}
	cat.Prepare()
	return &event.Event{Num: 1, Type: event.TypeOpenat, TS: ts, Res: 3, Thread: cat, Flags: 0, Path: "/etc/shadow",
		FD: event.FD{Num: 3, Type: event.FDFile, Name: "/etc/shadow"}}
}

func containerEvent() *event.Event {
	ev := shadowEvent()
	ev.Container = &event.Container{ID: "abcdef012345", Name: "web", Repository: "docker.io/library/nginx", Tag: "1.25",
		PodName: "web-1", Namespace: "prod"}
	return ev
}

const shadowOutput = "Sensitive file opened for reading by non-trusted program | file=%fd.name gparent=%proc.aname[2] ggparent=%proc.aname[3] gggparent=%proc.aname[4] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty"

func TestLine(t *testing.T) {
	utc := Options{Location: time.UTC}
	tests := []struct {
		name   string
		format string
		opts   Options
		ev     *event.Event
		p      alert.Priority
		want   string
	}{
		{"official rule on host", shadowOutput, utc, shadowEvent(), alert.PriorityWarning,
			"09:19:30.012345678: Warning Sensitive file opened for reading by non-trusted program | file=/etc/shadow gparent=sshd ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=1000 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=34816" +
				" container_id=host container_name=host container_image_repository= container_image_tag= k8s_pod_name=<NA> k8s_ns_name=<NA>"},
		{"container fields", "x", utc, containerEvent(), alert.PriorityNotice,
			"09:19:30.012345678: Notice x container_id=abcdef012345 container_name=web container_image_repository=docker.io/library/nginx container_image_tag=1.25 k8s_pod_name=web-1 k8s_ns_name=prod"},
		{"iso8601", "%proc.name", Options{TimeISO8601: true, NoExtraOutput: true}, shadowEvent(), alert.PriorityCritical,
			"2026-11-23T09:19:30.012345678+0000: Critical cat"},
		{"local zone", "%evt.time", Options{Location: time.FixedZone("X", 2*3600), NoExtraOutput: true}, shadowEvent(), alert.PriorityDebug,
			"11:19:30.012345678: Debug 11:19:30.012345678"},
		{"longest match and literals", "(%proc.name)%proc.names,%evt.arg.flags.%fd.name_changed", Options{NoExtraOutput: true, Location: time.UTC}, shadowEvent(), alert.PriorityInformational,
			"09:19:30.012345678: Informational (cat)cats,O_RDONLY.false"},
		{"bracket args and list", "%proc.aname[1] %proc.aname %proc.args[0] %evt.arg[2]", Options{NoExtraOutput: true, Location: time.UTC}, shadowEvent(), alert.PriorityError,
			"09:19:30.012345678: Error bash (bash,sshd) /etc/shadow /etc/shadow"},
		{"width and transformers", "[%6proc.name][%2proc.exepath] %toupper(proc.name) %basename(proc.exepath) %len(fd.name) %b64(proc.name)", Options{NoExtraOutput: true, Location: time.UTC}, shadowEvent(), alert.PriorityAlert,
			"09:19:30.012345678: Alert [cat   ][/u] CAT cat 11 Y2F0"},
		{"leading star stripped", "*%proc.name %fd.sip", Options{NoExtraOutput: true, Location: time.UTC}, shadowEvent(), alert.PriorityNotice,
			"09:19:30.012345678: Notice cat <NA>"},
		{"custom extra", "a", Options{ExtraOutput: "pid=%proc.pid", Location: time.UTC}, shadowEvent(), alert.PriorityEmergency,
			"09:19:30.012345678: Emergency a pid=300"},
	}
	for _, tc := range tests {
		f, err := CompileWith(tc.format, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := f.Line(tc.ev, tc.p); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, f := range []string{"abc %", "%nope.field", "%proc.aname[x]", "%tolower(proc.name", "%zap(proc.name)", "%fd.ip", "x %fd.port", "%container.label", "%12", "%evt.arg[1"} {
		if _, err := Compile(f); err == nil {
			t.Errorf("Compile(%q): want error", f)
		}
	}
}

func TestAlertJSON(t *testing.T) {
	f, err := CompileWith("File %fd.name opened by %proc.name flags=%evt.arg.flags gp=%proc.aname[2] ggp=%proc.aname[3] tty=%proc.tty priv=%container.privileged t=%evt.time lport=%fd.lport", Options{Hostname: "node1", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	ev := containerEvent()
	ev.Container.Privileged = true
	a := f.Alert(ev, "Read sensitive file untrusted", alert.PriorityWarning, []string{"mitre_credential_access", "filesystem", "T1555"})
	b, err := MarshalFalcoJSON(&a, DefaultJSONOptions)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"hostname":"node1","output":"09:19:30.012345678: Warning File /etc/shadow opened by cat flags=O_RDONLY gp=sshd ggp=<NA> tty=34816 priv=true t=09:19:30.012345678 lport=<NA> container_id=abcdef012345 container_name=web container_image_repository=docker.io/library/nginx container_image_tag=1.25 k8s_pod_name=web-1 k8s_ns_name=prod",` +
		`"output_fields":{"container.id":"abcdef012345","container.image.repository":"docker.io/library/nginx","container.image.tag":"1.25","container.name":"web","container.privileged":true,"evt.arg.flags":"O_RDONLY","evt.time":1795425570012345678,"fd.lport":null,"fd.name":"/etc/shadow","k8s.ns.name":"prod","k8s.pod.name":"web-1","proc.aname[2]":"sshd","proc.aname[3]":null,"proc.name":"cat","proc.tty":34816},` +
		`"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","filesystem","mitre_credential_access"],"time":"2026-11-23T09:19:30.012345678Z"}`
	if string(b) != want {
		t.Errorf("json:\n got %s\nwant %s", b, want)
	}
	b, _ = MarshalFalcoJSON(&a, JSONOptions{})
	if strings.Contains(string(b), `"output":`) || strings.Contains(string(b), `"tags"`) {
		t.Errorf("json without output/tags: %s", b)
	}
	// The hub's shape round-trips with typed values.
	hb, _ := json.Marshal(a)
	var back alert.Alert
	dec := json.NewDecoder(strings.NewReader(string(hb)))
	dec.UseNumber()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.OutputFields["evt.time"].(json.Number).String() != "1795425570012345678" || back.Priority != alert.PriorityWarning || !back.Time.Equal(a.Time) {
		t.Errorf("round trip: %+v", back)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{shadowOutput, "%", "%%", "%12proc.name", "%proc.aname[", "%tolower(evt.arg.flags)", "%container.mount.dest[/proc*] x", "%evt.arg.", "%evt.arg[0]%evt.time", "100%"} {
		f.Add(s)
	}
	ev := containerEvent()
	f.Fuzz(func(t *testing.T, format string) {
		fm, err := CompileWith(format, Options{NoExtraOutput: true})
		if err != nil {
			return
		}
		_ = fm.Line(ev, alert.PriorityWarning)
		a := fm.Alert(ev, "r", alert.PriorityWarning, nil)
		if _, err := MarshalFalcoJSON(&a, DefaultJSONOptions); err != nil {
			t.Fatalf("marshal %q: %v", format, err)
		}
	})
}

func BenchmarkLine(b *testing.B) {
	f, err := Compile(shadowOutput)
	if err != nil {
		b.Fatal(err)
	}
	ev := containerEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.AppendLine(buf[:0], ev, alert.PriorityWarning)
	}
}

func BenchmarkAlertJSON(b *testing.B) {
	f, err := Compile(shadowOutput)
	if err != nil {
		b.Fatal(err)
	}
	ev := containerEvent()
	b.ReportAllocs()
	for b.Loop() {
		a := f.Alert(ev, "Read sensitive file untrusted", alert.PriorityWarning, []string{"a", "b"})
		if _, err := MarshalFalcoJSON(&a, DefaultJSONOptions); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNetworkFields(t *testing.T) {
	ev := shadowEvent()
	ev.Type = event.TypeConnect
	ev.FD = event.FD{Num: 4, Type: event.FDIPv4, Name: "10.0.0.2:40000->1.2.3.4:443", ClientIP: netip.MustParseAddr("10.0.0.2"),
		ServerIP: netip.MustParseAddr("1.2.3.4"), ClientPort: 40000, ServerPort: 443, L4Proto: 6, LocalIsClient: true}
	f, err := CompileWith("%fd.name %fd.sip %fd.snet %fd.lport %fd.rport %fd.l4proto %fd.typechar %fd.sip.name", Options{NoExtraOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Format(ev), "10.0.0.2:40000->1.2.3.4:443 1.2.3.4 <IPNET> 40000 443 tcp 4 <NA>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	fs := f.Fields(ev)
	if fs["fd.lport"] != uint64(40000) || fs["fd.sip"] != "1.2.3.4" || fs["fd.sip.name"] != nil {
		t.Errorf("fields %v", fs)
	}
}

// TestDoubleField: a PT_DOUBLE field prints with one decimal, as libs'
// "%.1lf", and is a number in output_fields.
func TestDoubleField(t *testing.T) {
	ev := shadowEvent()
	th := *ev.Thread
	th.HasResources, th.FDOpen, th.FDLimit = true, 3, 1024
	ev.Thread = &th
	f, err := CompileWith("usage=%proc.fdusage", Options{NoExtraOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Format(ev), "usage=0.3"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := f.Fields(ev)["proc.fdusage"]; got != 300.0/1024 {
		t.Errorf("output field %v (%T)", got, got)
	}
}

// TestJSONPrefixFieldsAndOptions: Falco adds the prefix's time field to
// output_fields (as integer ns; other time fields too) and honours the
// json_include_* switches.
func TestJSONPrefixFieldsAndOptions(t *testing.T) {
	local := time.Unix(0, ts).Format("15:04:05") // evt.time.s is local time
	for _, tc := range []struct {
		opts Options
		jo   JSONOptions
		want string
	}{
		{Options{NoExtraOutput: true, Hostname: "h", Location: time.UTC}, JSONOptions{IncludeOutput: true, IncludeTags: true, IncludeMessage: true},
			`{"hostname":"h","message":"cat read ` + local + `","output":"09:19:30.012345678: Error cat read ` + local + `","output_fields":{"evt.time":1795425570012345678,"evt.time.s":1795425570012345678,"proc.name":"cat"},"priority":"Error","rule":"r","source":"syscall","tags":["t"],"time":"2026-11-23T09:19:30.012345678Z"}`},
		{Options{NoExtraOutput: true, Hostname: "h", TimeISO8601: true}, JSONOptions{OmitOutputFields: true},
			`{"hostname":"h","priority":"Error","rule":"r","source":"syscall","time":"2026-11-23T09:19:30.012345678Z"}`},
		{Options{NoExtraOutput: true, Hostname: "h", TimeISO8601: true}, JSONOptions{IncludeOutput: true},
			`{"hostname":"h","output":"2026-11-23T09:19:30.012345678+0000: Error cat read ` + local + `","output_fields":{"evt.time.iso8601":1795425570012345678,"evt.time.s":1795425570012345678,"proc.name":"cat"},"priority":"Error","rule":"r","source":"syscall","time":"2026-11-23T09:19:30.012345678Z"}`},
	} {
		f, err := CompileWith("%proc.name read %evt.time.s", tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		a := f.Alert(shadowEvent(), "r", alert.PriorityError, []string{"t"})
		b, err := MarshalFalcoJSON(&a, tc.jo)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("got  %s\nwant %s", b, tc.want)
		}
	}
	if _, err := Compile("%proc.name read %s"); err == nil {
		t.Errorf("a bare %%s was accepted: libs rejects it as an invalid formatting token")
	}
}

func TestExtraFields(t *testing.T) {
	f, err := CompileWith("%proc.name", Options{NoExtraOutput: true, Location: time.UTC, ExtraFields: []string{"proc.pid", "proc.aname[2]", "proc.name"}})
	if err != nil {
		t.Fatal(err)
	}
	ev := shadowEvent()
	if got := f.Line(ev, alert.PriorityNotice); got != "09:19:30.012345678: Notice cat" {
		t.Errorf("line %q", got)
	}
	fs := f.Fields(ev)
	if fs["proc.pid"] != int64(300) || fs["proc.aname[2]"] != "sshd" || fs["proc.name"] != "cat" || len(fs) != 4 {
		t.Errorf("fields %v", fs)
	}
	for _, bad := range []string{"nope.x", "proc.name proc.pid", ""} {
		if _, err := CompileWith("x", Options{ExtraFields: []string{bad}}); err == nil {
			t.Errorf("extra field %q accepted", bad)
		}
	}
}
