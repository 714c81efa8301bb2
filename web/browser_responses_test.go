//go:build linux

package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/response"
)

// hubEmitter posts the sensor's records to the hub as its http_output
// does: one alert per POST /.
type hubEmitter struct{ url string }

func (h hubEmitter) Emit(a *alert.Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	res, err := http.Post(h.url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("POST %s: %d", h.url, res.StatusCode)
	}
	return nil
}

// TestBrowserResponses: the records of response actions (taken by the
// sensor's real responder, posted as its http_output does) are shown
// beside the alert they answered, at a desktop and a phone size: the
// alert's row is marked, its detail lists the responses, a record links
// back to its alert, and a response arriving live marks its row.
func TestBrowserResponses(t *testing.T) { atBothSizes(t, browseResponses) }

func browseResponses(t *testing.T, w, h int64) {
	st, ing, ui := startRedisDashboard(t)

	emit := hubEmitter{url: ing.URL + "/"}
	cfg, err := response.Parse([]byte("matching: all\nactions:\n- {match: {rule: Terminal shell in container}, action: kill, dry_run: true}\n- {match: {rule: Terminal shell in container}, action: kill}\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := response.New(cfg, response.Options{Emitter: emit, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(resp.Close)
	// shell raises the alert for a real process and lets the responder
	// act on it: a dry run, then a kill. The sensor emits the alert after
	// matching (which gives it its uuid); the records may reach the hub
	// first.
	shell := func(host string, alertFirst bool) alert.Alert {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		a := alert.Alert{Rule: "Terminal shell in container", Priority: alert.PriorityNotice, Source: "syscall", Hostname: host,
			Time: time.Now().UTC(), Output: "A shell was spawned in a container (proc.name=sleep)", OutputFields: map[string]any{"proc.name": "sleep"}}
		acts := resp.Match(&a)
		if len(acts) != 2 || a.UUID == "" {
			t.Fatalf("matched %d actions, uuid %q", len(acts), a.UUID)
		}
		if alertFirst {
			if err := emit.Emit(&a); err != nil {
				t.Fatal(err)
			}
		}
		resp.Run(acts, &event.Event{TS: time.Now().UnixNano(), Thread: &event.Thread{PID: int64(cmd.Process.Pid), Comm: "sleep"}}, &a)
		if !alertFirst {
			if err := emit.Emit(&a); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	idOf := func(uuid string) string {
		p, err := st.Query(t.Context(), store.Query{Filter: store.Filter{UUIDs: []string{uuid}}})
		if err != nil || len(p.Events) != 1 {
			t.Fatalf("alert %s in the store: %v %v", uuid, p.Events, err)
		}
		return p.Events[0].ID
	}
	answered := shell("node-1", false)
	postAlert(t, ing.URL+"/", "Read sensitive file untrusted", "Warning", "node-2", nil)

	p := loggedIn(t, w, h, ui.URL+"/events?since=all")
	// Four rows: the two alerts and the two records; the answered alert's
	// row carries the latest response and the count of the others.
	sel := fmt.Sprintf(`#events-table .ev[data-uuid=%q]`, answered.UUID)
	p.wait("answered mark", fmt.Sprintf(`document.querySelectorAll("#events-table .ev").length === 4 && (() => { const b = document.querySelector(%q); return b && b.textContent.includes("kill done") && b.textContent.includes("+1"); })()`, sel+" .resp.answered"))
	if v := p.eval(`String(document.querySelectorAll("#events-table .ev.is-answered").length)`); v != "1" {
		t.Errorf("%s rows marked answered, want 1", v)
	}
	if v := p.eval(`[...document.querySelectorAll("#events-table .ev[data-priority] .c.rule > .resp:not(.answered)")].map(b => b.textContent).sort().join("|")`); v != "⚡ kill done|⚡ kill dry-run" {
		t.Errorf("record rows' badges %q", v)
	}
	p.shot("20-responses-list")

	// The alert's detail lists its responses, oldest first.
	p.do("open alert", chromedp.Click(sel+" .c.rule"))
	p.wait("responses in detail", `document.querySelectorAll("#detail-responses-list li").length === 2`)
	if v := p.eval(`[...document.querySelectorAll("#detail-responses-list .resp")].map(b => b.textContent).join("|")`); v != "⚡ kill dry-run|⚡ kill done" {
		t.Errorf("responses in the detail %q", v)
	}
	if v := p.eval(`document.getElementById("detail-responses-list").textContent`); !strings.Contains(v, "would kill pid") || !strings.Contains(v, "(dry run)") {
		t.Errorf("detail of the responses: %q", v)
	}
	p.shot("21-alert-with-responses")

	// A record links back to the alert it answered.
	p.do("open record", chromedp.Click(`#detail-responses-list li:first-child a`))
	p.wait("record detail", `document.getElementById("detail-rule") && document.getElementById("detail-rule").textContent === "Response action" && document.getElementById("detail-answers") !== null`)
	if v := p.eval(`document.getElementById("detail-answers").textContent`); !strings.Contains(v, "Terminal shell in container") || !strings.Contains(v, "node-1") {
		t.Errorf("record's alert link %q", v)
	}
	p.shot("22-record-links-alert")
	p.do("follow", chromedp.Click("#detail-answers"))
	p.wait("back at the alert", fmt.Sprintf(`location.pathname === "/events/" + %q && document.querySelectorAll("#detail-responses-list li").length === 2`, idOf(answered.UUID)))
	p.do("close", chromedp.KeyEvent("\x1b"))
	p.wait("closed", `document.getElementById("drawer").hidden`)

	// Live: an alert arrives, then the responses to it; its row is marked
	// without a reload.
	live := shell("node-3", true)
	p.wait("live answered mark", fmt.Sprintf(`(() => { const b = document.querySelector(%q); return b && b.textContent.includes("kill done"); })()`, fmt.Sprintf(`#events-table .ev[data-uuid=%q] .resp.answered`, live.UUID)))

	// A record whose alert never reached the hub says so.
	orphan := alert.Alert{UUID: "00000000-0000-4000-8000-000000000001", Rule: response.RecordRule, Source: response.Source, Priority: alert.PriorityNotice, Hostname: "node-4", Time: time.Now().UTC(),
		Output: "kill skipped", OutputFields: map[string]any{"response.action": "kill", "response.result": "skipped", "response.alert_id": "7d4c5b3a-0000-4000-8000-00000000dead", "response.rule": "Terminal shell in container"}}
	if err := emit.Emit(&orphan); err != nil {
		t.Fatal(err)
	}
	p.do("orphan", chromedp.Navigate(ui.URL+"/events/"+idOf(orphan.UUID)+"?since=all"))
	p.wait("orphan detail", `document.getElementById("detail-answers") !== null && document.getElementById("detail-answers").textContent.includes("not in the store")`)
	p.noConsoleProblems()
}
