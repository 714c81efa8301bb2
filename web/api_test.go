package web

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/web/loginlimit"
	"github.com/saker-sec/saker/web/session"
)

// The query API is hub/api's, mounted under /api/v1 behind the login.
func TestQueryAPIMounted(t *testing.T) {
	st := newTestStore(t)
	_, hs := newTestServer(t, st, Options{Auth: Auth{User: "u", Password: "p"}})
	c := client(t)
	login(t, c, hs.URL, "u", "p")
	var ids []string
	for i, p := range []alert.Priority{alert.PriorityDebug, alert.PriorityWarning, alert.PriorityCritical} {
		a := sampleAlert(i, 4)
		a.Priority = p
		a.Tags = []string{"t" + p.String()}
		id, err := st.Append(context.Background(), []alert.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id...)
	}
	page := func(q url.Values) store.Page {
		res, body := get(t, c, hs.URL+"/api/v1/events?"+q.Encode())
		if res.StatusCode != 200 {
			t.Fatalf("%v: %d %s", q, res.StatusCode, body)
		}
		var p store.Page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A page's cursor (event-time order; a bare ID stands for its arrival
	// time, which is after the alert's own time).
	first := page(url.Values{"limit": {"1"}})
	for _, tc := range []struct {
		q    url.Values
		want []string
	}{
		{url.Values{}, []string{ids[2], ids[1], ids[0]}},
		{url.Values{"priority": {"warning"}}, []string{ids[2], ids[1]}},
		{url.Values{"tags": {"tWarning"}}, []string{ids[1]}},
		{url.Values{"since": {"1h"}, "limit": {"1"}}, []string{ids[2]}},
		{url.Values{"before": {first.Next}}, []string{ids[1], ids[0]}},
	} {
		p := page(tc.q)
		var got []string
		for _, e := range p.Events {
			got = append(got, e.ID)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%v: got %v want %v", tc.q, got, tc.want)
		}
	}
	if res, body := get(t, c, hs.URL+"/api/v1/events/"+ids[1]); res.StatusCode != 200 || !strings.Contains(body, `"priority":"Warning"`) {
		t.Errorf("get: %d %s", res.StatusCode, body)
	}
	if res, _ := get(t, c, hs.URL+"/api/v1/events/1-0"); res.StatusCode != 404 {
		t.Errorf("missing event: %d", res.StatusCode)
	}
	if res, _ := get(t, c, hs.URL+"/api/v1/events?priority=bogus"); res.StatusCode != 400 {
		t.Errorf("bad priority: %d", res.StatusCode)
	}
	res, body := get(t, c, hs.URL+"/api/v1/stats?since=1h&top=5")
	var s store.Stats
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &s) != nil || s.Total != 3 || s.ByPriority["Critical"] != 1 {
		t.Errorf("stats: %d %s", res.StatusCode, body)
	}
	res, body = get(t, c, hs.URL+"/api/v1/info")
	var info struct {
		Store store.Health `json:"store"`
	}
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &info) != nil || info.Store.Kind != "embedded" || info.Store.Events != 3 {
		t.Errorf("info: %d %s", res.StatusCode, body)
	}
}

// FuzzSessionCookie: arbitrary cookie values never panic and are never
// accepted unless they are exactly the value a login produced.
func FuzzSessionCookie(f *testing.F) {
	a, err := newAuthenticator(Auth{User: "admin", Password: "pw"}, &session.Memory{}, &loginLimits{local: loginlimit.NewMemory(loginlimit.DefaultPolicy(), time.Now)}, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	valid, _, err := a.open(context.Background(), "admin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(sessionKey(valid))
	f.Add("")
	f.Add(".")
	f.Fuzz(func(t *testing.T, v string) {
		user, ok := a.verify(context.Background(), v)
		if ok && (v != valid || user != "admin") {
			t.Fatalf("accepted forged cookie %q as %q", v, user)
		}
	})
}
