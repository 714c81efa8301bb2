package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/saker-sec/saker/forwarders/status"
)

// chromiumPath finds the Debian chromium; the test skips without it unless
// SAKER_REQUIRE_BROWSER=1.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("SAKER_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("SAKER_REQUIRE_BROWSER") == "1" {
		t.Fatal("SAKER_REQUIRE_BROWSER=1 but no chromium found (apt-get install chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium); set SAKER_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// postAlert sends one Falco alert as Falco's http_output does.
func postAlert(t *testing.T, url, rule, priority, host string, tags []string) {
	t.Helper()
	tagJSON := `[]`
	if len(tags) > 0 {
		tagJSON = `["` + strings.Join(tags, `","`) + `"]`
	}
	body := fmt.Sprintf(`{"uuid":"","output":"%s: Warning shell spawned in container (user=root container_id=3ad8c4f1 container_name=web-1 image=nginx:1.27 proc.cmdline=bash -i)","priority":"%s","rule":"%s","time":"%s","source":"syscall","hostname":"%s","tags":%s,"output_fields":{"container.id":"3ad8c4f1","container.name":"web-1","container.image.repository":"nginx","evt.time":1732350000123456789,"proc.cmdline":"bash -i","proc.name":"bash","user.name":"root"}}`,
		time.Now().UTC().Format("15:04:05.000000000"), priority, rule, time.Now().UTC().Format(time.RFC3339Nano), host, tagJSON)
	postBody(t, url, body)
}

// postBody posts one alert's JSON to the ingestion URL; the hub must
// answer 200 (stored).
func postBody(t *testing.T, url, body string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST alert: %d", res.StatusCode)
	}
}

// TestBrowser drives the dashboard in a real headless Chromium: login, a
// live alert appearing without reload, filtering, the detail drawer and the
// dashboard counts, with no console errors. Screenshots are written to the
// test's temp dir (or SAKER_SCREENSHOTS when set).
func TestBrowser(t *testing.T) {
	be := startBackend(t)
	s, err := New(Options{Store: be.store, Logger: quietLogger(), Version: "test-1.2.3", Auth: Auth{User: "admin", Password: "hunter2"},
		Forwarders: func(context.Context) []status.Target {
			return []status.Target{
				{Name: "slack", Endpoint: "https://hooks.slack.example/T000", Healthy: true, Sent: 12, LastSuccessAt: time.Now()},
				{Name: "webhook", Endpoint: "http://127.0.0.1:9/hook", MinPriority: "Warning", Healthy: false, Pending: 3, LagSeconds: 42, Failed: 7, Retried: 6, DeadLettered: 1,
					LastError: "POST http://127.0.0.1:9/hook: connection refused", LastErrorAt: time.Now()},
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ui := httptest.NewServer(s)
	defer ui.Close()
	defer s.Close()

	shots := t.TempDir()
	if d := os.Getenv("SAKER_SCREENSHOTS"); d != "" {
		shots = d
		os.MkdirAll(d, 0o755)
	}
	seed := []struct{ rule, prio, host string }{
		{"Terminal shell in container", "Notice", "node-1"},
		{"Read sensitive file untrusted", "Warning", "node-2"},
		{"Write below etc", "Error", "node-1"},
		{"Drop and execute new binary in container", "Critical", "node-3"},
		{"Contact K8S API Server From Container", "Informational", "node-2"},
		{"Netcat Remote Code Execution in Container", "Debug", "node-1"},
	}
	for i, a := range seed {
		postAlert(t, be.ingestURL, a.rule, a.prio, a.host, []string{"container", "mitre_execution", fmt.Sprintf("T10%d", i)})
	}

	p := newPage(t, 1440, 900, shots)
	shot, do, waitJS, evalStr := p.shot, p.do, p.wait, p.eval

	// Login: a deep link goes through the login page and comes back.
	do("open", chromedp.Navigate(ui.URL+"/events?since=all"))
	do("login page", chromedp.WaitVisible("#password"))
	shot("01-login")
	do("wrong password", chromedp.SendKeys("#username", "admin"), chromedp.SendKeys("#password", "nope"), chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#login-error"))
	do("login", chromedp.SendKeys("#username", "admin"), chromedp.SendKeys("#password", "hunter2"), chromedp.Click("#login-submit"), chromedp.WaitVisible("#events-table"))
	waitJS("events table", `document.querySelectorAll("#events-table .ev").length === 6`)
	if loc := evalStr(`location.pathname + location.search`); loc != "/events?since=all" {
		t.Fatalf("after login at %q", loc)
	}
	waitJS("live feed", `document.getElementById("live-status").dataset.state === "live"`)

	// A new alert appears without reload.
	rule := "Launch Privileged Container " + fmt.Sprint(time.Now().UnixNano())
	start := time.Now()
	postAlert(t, be.ingestURL, rule, "Critical", "node-9", []string{"container", "cis"})
	waitJS("live alert", fmt.Sprintf(`(() => { const r = document.querySelector("#events-table .ev"); return r && r.querySelector(".rule").textContent === %q; })()`, rule))
	t.Logf("live alert shown %v after POST", time.Since(start).Round(time.Millisecond))
	shot("02-events-live")

	// Filter by priority, "Error and above": the URL carries the set and
	// only severe rows stay.
	do("filter", chromedp.Click("#f-priority-label"), chromedp.Click(`#f-priority-menu .atleast[data-min="Error"]`))
	waitJS("filtered rows", `(() => { const rs = [...document.querySelectorAll("#events-table .ev")]; return rs.length === 3 && rs.every(r => ["Emergency","Alert","Critical","Error"].includes(r.dataset.priority)); })()`)
	if q := evalStr(`new URLSearchParams(location.search).get("priorities")`); q != "Emergency,Alert,Critical,Error" {
		t.Fatalf("filter not in URL: %q", q)
	}
	// A live alert below the filter is not shown; one above it is.
	postAlert(t, be.ingestURL, "Below filter", "Notice", "node-9", nil)
	postAlert(t, be.ingestURL, "Above filter", "Emergency", "node-9", nil)
	waitJS("filtered live alert", `document.querySelector("#events-table .ev .rule").textContent === "Above filter"`)
	if n := evalStr(`String(document.querySelectorAll("#events-table .ev").length)`); n != "4" {
		t.Fatalf("%s rows after filtered live alerts, want 4", n)
	}

	// Detail: every output field, the raw JSON and copy buttons.
	do("open detail", chromedp.Click(fmt.Sprintf(`//div[contains(@class,"rule") and text()=%q]`, rule)))
	waitJS("detail", fmt.Sprintf(`document.getElementById("detail-rule") && document.getElementById("detail-rule").textContent === %q`, rule))
	fields := evalStr(`[...document.querySelectorAll("#detail-fields td.k")].map(td => td.textContent).join(",")`)
	if fields != "container.id,container.image.repository,container.name,evt.time,proc.cmdline,proc.name,user.name" {
		t.Fatalf("detail fields %q", fields)
	}
	if v := evalStr(`document.querySelector("pre.json").textContent`); !strings.Contains(v, `"evt.time": 1732350000123456789`) || !strings.Contains(v, rule) {
		t.Fatalf("raw JSON lost precision or content: %s", v)
	}
	if !strings.HasPrefix(evalStr(`location.pathname`), "/events/") {
		t.Fatal("detail has no URL of its own")
	}
	do("copy", chromedp.Click("#copy-json"), chromedp.WaitVisible("#toast"))
	shot("03-detail")
	do("close detail", chromedp.KeyEvent("\x1b"))
	waitJS("drawer closed", `document.getElementById("drawer").hidden`)

	// Dashboard: counts by priority match what was posted (9 alerts), and
	// clicking a priority card filters the events.
	do("dashboard", chromedp.Click(`a[data-view="dashboard"]`))
	waitJS("dashboard counts", `document.getElementById("count-total") && document.getElementById("count-total").textContent === "4"`) // priority>=error still applied
	do("clear filters", chromedp.Click("#f-clear"))
	waitJS("total", `document.getElementById("count-total") && document.getElementById("count-total").textContent === "9"`)
	counts := evalStr(`[...document.querySelectorAll("#priority-cards .card[data-priority]")].map(c => c.dataset.priority + "=" + c.querySelector(".value").textContent).join(",")`)
	if counts != "Emergency=1,Alert=0,Critical=2,Error=1,Warning=1,Notice=2,Informational=1,Debug=1" {
		t.Fatalf("priority counts %q", counts)
	}
	// Live: the dashboard updates without reload.
	postAlert(t, be.ingestURL, "Dashboard live", "Warning", "node-4", nil)
	waitJS("live dashboard", `document.getElementById("count-total").textContent === "10"`)
	waitJS("chart", `document.querySelectorAll("svg.chart rect.bar").length > 0`)
	shot("04-dashboard")
	do("light theme", chromedp.Click("#theme-toggle"))
	shot("05-dashboard-other-theme")
	do("pick rule", chromedp.Click(`.hbar[data-key="Write below etc"]`))
	waitJS("rule filter", `location.pathname === "/events" && new URLSearchParams(location.search).get("rule") === "Write below etc" && document.querySelectorAll("#events-table .ev").length === 1`)

	// Info page.
	do("info", chromedp.Click(`a[data-view="info"]`))
	waitJS("info", `document.getElementById("info-version") && document.getElementById("info-version").textContent === "test-1.2.3" && document.querySelectorAll("#forwarders tbody tr").length === 2`)
	shot("06-info")

	// Pause holds new alerts back; resume shows them.
	do("events", chromedp.Click(`a[data-view="events"]`))
	waitJS("events again", `document.querySelectorAll("#events-table .ev").length === 10`)
	do("pause", chromedp.Click("#live-toggle"))
	waitJS("paused", `document.getElementById("live-status").dataset.state === "paused"`)
	postAlert(t, be.ingestURL, "While paused", "Alert", "node-5", nil)
	waitJS("new badge", `!document.querySelector(".newbadge").hidden`)
	if evalStr(`document.querySelector("#events-table .ev .rule").textContent`) == "While paused" {
		t.Fatal("paused feed still inserted rows")
	}
	do("resume", chromedp.Click(".newbadge"))
	waitJS("resumed", `document.querySelector("#events-table .ev .rule").textContent === "While paused"`)

	// Logout ends the session.
	do("logout", chromedp.Click("#logout"), chromedp.WaitVisible("#password"))
	res, err := http.Get(ui.URL + "/api/v1/events")
	if err == nil {
		res.Body.Close()
	}

	p.noConsoleProblems()
	t.Logf("screenshots in %s", shots)
}
