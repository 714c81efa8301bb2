package forwarders_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// call makes one request to the dead-letter API and decodes its JSON answer.
func call(t *testing.T, base, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %s: content type %q, body %s", method, path, resp.Header.Get("Content-Type"), b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// List, inspect, replay (one, then all) and drop dead letters over the
// HTTP API the dashboard mounts.
func TestDeadLetterAPI(t *testing.T) {
	st := openStore(t, t.TempDir())
	p := newHookPeer(t)
	p.setMode(mode400)
	d, _ := start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), alert.PriorityUnset)}, nil, fastOptions("a"))
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	bad := appendAlerts(t, st, 3, "bad", alert.PriorityWarning)
	eventually(t, 5*time.Second, "3 dead letters", func() bool {
		dl, _ := d.DeadLetters(context.Background(), "webhook", 10)
		return len(dl) == 3
	})

	var list []store.DeadLetter
	if code := call(t, srv.URL, "GET", "/webhook/deadletters?limit=10", "", &list); code != 200 || len(list) != 3 || list[0].UUID != bad[2] {
		t.Fatalf("list: %d %+v", code, list)
	}
	var one store.DeadLetter
	if code := call(t, srv.URL, "GET", "/webhook/deadletters/"+list[1].ID, "", &one); code != 200 || one.UUID != bad[1] || !strings.Contains(one.Reason, "HTTP 400") {
		t.Fatalf("inspect: %d %+v", code, one)
	}
	var e struct{ Error string }
	for _, path := range []string{"/webhook/deadletters/0-0", "/nope/deadletters", "/nope/deadletters/" + list[0].ID} {
		if code := call(t, srv.URL, "GET", path, "", &e); code != 404 || e.Error == "" {
			t.Errorf("GET %s: %d %q, want 404", path, code, e.Error)
		}
	}
	if code := call(t, srv.URL, "GET", "/webhook/deadletters?limit=x", "", &e); code != 400 {
		t.Errorf("bad limit: %d", code)
	}

	// Still refused: the replay reports it and the dead letter stays.
	var res forwarders.ReplayResult
	if code := call(t, srv.URL, "POST", "/webhook/deadletters/"+list[2].ID+"/replay", "", &res); code != 200 || res.Replayed != 0 || len(res.Failed) != 1 || res.Failed[0].ID != list[2].ID {
		t.Fatalf("replay while refused: %d %+v", code, res)
	}
	p.setMode(modeOK)
	res = forwarders.ReplayResult{}
	if code := call(t, srv.URL, "POST", "/webhook/deadletters/"+list[2].ID+"/replay", "", &res); code != 200 || res.Replayed != 1 {
		t.Fatalf("replay one: %d %+v", code, res)
	}
	res = forwarders.ReplayResult{}
	if code := call(t, srv.URL, "POST", "/webhook/deadletters/replay", "", &res); code != 200 || res.Replayed != 2 || len(res.Failed) != 0 {
		t.Fatalf("replay all: %d %+v", code, res)
	}
	assertExactlyOnce(t, p, bad)
	if dl, _ := d.DeadLetters(context.Background(), "webhook", 10); len(dl) != 0 {
		t.Fatalf("dead letters after replay: %+v", dl)
	}
	if s := d.Status(context.Background())[0]; s.Sent != 3 || s.DeadLettered != 3 {
		t.Fatalf("status after replay: sent %d, dead-lettered %d", s.Sent, s.DeadLettered)
	}

	// Drop one, then the rest.
	p.setMode(mode400)
	more := appendAlerts(t, st, 3, "bad", alert.PriorityWarning)
	eventually(t, 5*time.Second, "3 new dead letters", func() bool {
		dl, _ := d.DeadLetters(context.Background(), "webhook", 10)
		return len(dl) == 3
	})
	list = nil
	call(t, srv.URL, "GET", "/webhook/deadletters", "", &list)
	var dropped struct{ Dropped int }
	if code := call(t, srv.URL, "DELETE", "/webhook/deadletters/"+list[0].ID, "", &dropped); code != 200 || dropped.Dropped != 1 {
		t.Fatalf("drop one: %d %+v", code, dropped)
	}
	if code := call(t, srv.URL, "POST", "/webhook/deadletters/replay", `{"ids":["`+list[0].ID+`"]}`, &e); code != 404 {
		t.Fatalf("replay of a dropped dead letter: %d %q", code, e.Error)
	}
	if code := call(t, srv.URL, "DELETE", "/webhook/deadletters", "", &dropped); code != 200 || dropped.Dropped != 2 {
		t.Fatalf("drop all: %d %+v", code, dropped)
	}
	if n, _ := p.delivered(); n != 3 {
		t.Fatalf("dropped alerts %v were delivered", more)
	}
	var statuses []forwarders.Status
	if code := call(t, srv.URL, "GET", "/", "", &statuses); code != 200 || len(statuses) != 1 || len(statuses[0].DeadLetters) != 0 {
		t.Fatalf("status: %d %+v", code, statuses)
	}
}
