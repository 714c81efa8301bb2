package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/ingest"
	redisstore "github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/store/redistest"
)

// screenshotDir is where browser tests keep their screenshots: the CI
// artifact directory when SAKER_SCREENSHOTS is set (the Makefile sets it),
// the test's temp dir otherwise.
func screenshotDir(t *testing.T, sub string) string {
	d := t.TempDir()
	if env := os.Getenv("SAKER_SCREENSHOTS"); env != "" {
		d = filepath.Join(env, sub)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// page drives one headless Chromium tab at a fixed viewport and records
// every console error, warning and exception.
type page struct {
	t     *testing.T
	ctx   context.Context
	shots string
	w, h  int64

	mu       sync.Mutex
	problems []string
}

func newPage(t *testing.T, w, h int64, shots string) *page {
	chromium := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(int(w), int(h)),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("no-zygote", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	p := &page{t: t, shots: shots, w: w, h: h}
	msgs := chromedp.Console(bctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				p.mu.Lock()
				p.problems = append(p.problems, m.String()+" @ "+m.URL)
				p.mu.Unlock()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(cancel)
	p.ctx = ctx
	var mobile []chromedp.EmulateViewportOption
	if w < 700 {
		mobile = append(mobile, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	p.do("viewport", chromedp.EmulateViewport(w, h, mobile...))
	return p
}

func (p *page) shot(name string) {
	b, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.WriteFile(filepath.Join(p.shots, fmt.Sprintf("%s-%dx%d.png", name, p.w, p.h)), b, 0o644)
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.shot("failed")
		p.t.Fatalf("%s: %v (screenshots in %s)", what, err, p.shots)
	}
}

func (p *page) wait(what, expr string) {
	p.t.Helper()
	var err error
	for range 5 { // a navigation destroys the context a poll runs in; poll again in the new page
		_, err = chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil || !strings.Contains(err.Error(), "context") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		p.shot("failed")
		p.t.Fatalf("waiting for %s: %v (screenshots in %s)", what, err, p.shots)
	}
}

func (p *page) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// noConsoleProblems fails on any console error, warning or exception.
func (p *page) noConsoleProblems() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.problems) > 0 {
		p.t.Fatalf("console problems at %dx%d:\n%s", p.w, p.h, strings.Join(p.problems, "\n"))
	}
}

// tabTo presses Tab until the focused element matches sel (at most n
// presses), as a keyboard user reaches it.
func (p *page) tabTo(sel string, n int) {
	p.t.Helper()
	for range n {
		if p.eval(fmt.Sprintf(`String(document.activeElement && document.activeElement.matches(%q))`, sel)) == "true" {
			return
		}
		p.do("tab", chromedp.KeyEvent("\t"))
	}
	p.shot("failed")
	p.t.Fatalf("%s not reached with %d Tab presses; focus is on %s", sel, n, p.eval(`document.activeElement.outerHTML.slice(0, 200)`))
}

// pressEnter presses Enter as a keyboard does: one keyDown that carries the
// text (so a keydown handler's preventDefault suppresses the keypress, as
// in a real browser) and a keyUp. chromedp.KeyEvent sends the char as a
// separate event that nothing can suppress, which would also "press" a
// button focused by the keydown's handler.
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			k := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
			if typ == input.DispatchKeyEventTypeKeyDown {
				k.Text, k.UnmodifiedText = "\r", "\r"
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// focusVisible asserts the focused element shows a focus ring.
func (p *page) focusVisible(what string) {
	p.t.Helper()
	if v := p.eval(`(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 ? "yes" : s.outlineStyle + " " + s.outlineWidth; })()`); v != "yes" {
		p.t.Errorf("%s: no visible focus ring (%s)", what, v)
	}
}

// TestBrowserViewports drives the dashboard at a desktop (1440×900) and a
// phone (390×844) size over a Redis store: multi-value filters in the URL,
// totals and page size, export, output fields with click-to-filter, the
// detail view and its close button, donuts and the timeline by source, the
// API page, the Info page's live state and tab count, keyboard access
// with visible focus, and a store outage shown everywhere, then its
// recovery. No console errors; screenshots are kept.
func TestBrowserViewports(t *testing.T) { atBothSizes(t, browseAt) }

// startRedisBackend is a Redis store (its own redis-server) behind the
// hub's real ingestion API, for the browser tests that run over Redis.
// The short read timeout lets an outage show quickly.
func startRedisBackend(t *testing.T) (*redistest.Server, *redisstore.Store, *httptest.Server) {
	srv := redistest.Start(t)
	st, err := redisstore.New(context.Background(), redisstore.Options{Addresses: []string{srv.Addr}, ReadTimeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	enr, _ := ingest.NewEnricher(ingest.Options{})
	ing := httptest.NewServer((&api.Server{Store: st, Enricher: enr, Log: quietLogger(), BodyLimit: 1 << 20, BatchBodyLimit: 1 << 20, BatchMaxEvents: 100}).Handler())
	t.Cleanup(ing.Close)
	return srv, st, ing
}

// startRedisDashboard adds the dashboard (login admin:hunter2) to a
// Redis backend.
func startRedisDashboard(t *testing.T) (*redisstore.Store, *httptest.Server, *httptest.Server) {
	_, st, ing := startRedisBackend(t)
	s, err := New(Options{Store: st, Logger: quietLogger(), Version: "test", Auth: Auth{User: "admin", Password: "hunter2"}})
	if err != nil {
		t.Fatal(err)
	}
	ui := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ui.Close() })
	return st, ing, ui
}

// atBothSizes runs a browser test at a desktop and a phone size.
func atBothSizes(t *testing.T, browse func(t *testing.T, w, h int64)) {
	for _, vp := range []struct{ w, h int64 }{{1440, 900}, {390, 844}} {
		t.Run(fmt.Sprintf("%dx%d", vp.w, vp.h), func(t *testing.T) { browse(t, vp.w, vp.h) })
	}
}

// loggedIn opens url in a new page, logs in as admin:hunter2 and waits
// for the events table.
func loggedIn(t *testing.T, w, h int64, url string) *page {
	p := newPage(t, w, h, screenshotDir(t, "browser"))
	p.do("open", chromedp.Navigate(url))
	p.do("login", chromedp.WaitVisible("#password"), chromedp.SendKeys("#username", "admin"), chromedp.SendKeys("#password", "hunter2"),
		chromedp.Click("#login-submit"), chromedp.WaitVisible("#events-table"))
	return p
}

func browseAt(t *testing.T, w, h int64) {
	phone := w < 700
	srv, st, ing := startRedisBackend(t)
	s, err := New(Options{Store: st, Logger: quietLogger(), Version: "test", Auth: Auth{User: "admin", Password: "hunter2"},
		Config: &config.Effective{Settings: []config.Setting{{Key: "LISTENPORT", Value: "2801", Origin: "default"}, {Key: "SLACK_WEBHOOKURL", Value: "https://hooks.slack.com/***", Origin: "env", Secret: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	ui := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ui.Close() })

	hosts := []string{"node-1", "node-2", "a-rather-long-hostname-worker-pool-3.eu-west-1.compute.internal"}
	for i := range 12 {
		tags := []string{"container", "mitre_execution", fmt.Sprintf("T10%d", i%4)}
		postAlert(t, ing.URL+"/", fmt.Sprintf("Rule %c", 'A'+i%4), []string{"Critical", "Warning", "Notice", "Error"}[i%4], hosts[i%3], tags)
	}
	// A second source for the donut and the timeline.
	postAlertSource(t, ing.URL+"/", "k8s_audit", "Attach to cluster-admin Role")

	p := newPage(t, w, h, screenshotDir(t, "browser"))
	// Several hostnames and a source at once, from the URL.
	p.do("open", chromedp.Navigate(ui.URL+"/events?since=all&hostname=node-1,node-2&source=syscall"))
	p.do("login", chromedp.WaitVisible("#password"), chromedp.SendKeys("#username", "admin"), chromedp.SendKeys("#password", "hunter2"),
		chromedp.Click("#login-submit"), chromedp.WaitVisible("#events-table"))
	p.wait("filtered rows", `document.querySelectorAll("#events-table .ev").length === 8`)
	p.wait("total", `document.getElementById("events-count").textContent === "8 of 8 events shown"`)
	if v := p.eval(`[...document.querySelectorAll("#chips-hostname .chip")].map(c => c.textContent).join("|")`); v != "node-1 ×|node-2 ×" {
		t.Fatalf("hostname chips %q", v)
	}
	p.wait("live", `document.getElementById("live-status").dataset.state === "live"`)
	p.shot("10-events-multi-filter")

	// Phone: nothing sticks out sideways; the filters fold away.
	if phone {
		if v := p.eval(`String(document.documentElement.scrollWidth <= innerWidth + 1)`); v != "true" {
			t.Errorf("page wider than the phone: %s > %s", p.eval(`String(document.documentElement.scrollWidth)`), p.eval(`String(innerWidth)`))
		}
		p.wait("filters folded", `getComputedStyle(document.getElementById("filterbar")).display === "none"`)
		for _, id := range []string{"live-toggle", "theme-toggle", "logout", "filters-toggle"} {
			if v := p.eval(fmt.Sprintf(`(() => { const r = document.getElementById(%q).getBoundingClientRect(); return String(r.width > 0 && r.left >= 0 && r.right <= innerWidth); })()`, id)); v != "true" {
				t.Errorf("#%s not on screen", id)
			}
		}
		p.do("open filters", chromedp.Click("#filters-toggle"))
		p.wait("filters open", `getComputedStyle(document.getElementById("filterbar")).display !== "none"`)
		p.shot("11-filters-open")
		if v := p.eval(`String(document.documentElement.scrollWidth <= innerWidth + 1)`); v != "true" {
			t.Errorf("open filter bar wider than the phone")
		}
	}

	// Add a tag filter with the keyboard; remove a hostname chip.
	p.do("tag", chromedp.SendKeys("#f-tags", "T100\r"))
	p.wait("tag in URL", `new URLSearchParams(location.search).get("tags") === "T100" && document.querySelectorAll("#events-table .ev").length === 2`)
	p.do("remove host", chromedp.Click(`#chips-hostname .chip`))
	p.wait("host removed", `new URLSearchParams(location.search).get("hostname") === "node-2" && document.querySelectorAll("#events-table .ev").length === 1`)
	p.do("back", chromedp.NavigateBack())
	p.wait("history", `new URLSearchParams(location.search).get("hostname") === "node-1,node-2"`)

	// Export of the current filter: the link carries it and the file has it.
	href := p.eval(`document.getElementById("export-csv").href`)
	if !strings.Contains(href, "hostname=node-1%2Cnode-2") || !strings.Contains(href, "tags=T100") || !strings.Contains(href, "format=csv") {
		t.Fatalf("export link %q", href)
	}
	csv, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`fetch(document.getElementById("export-csv").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(csv, "\n"); n != 3 || !strings.HasPrefix(csv, "id,time,received,") {
		t.Fatalf("export: %d lines: %.300s", n, csv)
	}
	// Priorities are an exact multi-select kept in the URL, like the other
	// filters; an older link with a minimum (priority=error) still works.
	p.do("priorities link", chromedp.Navigate(ui.URL+"/events?since=all&priorities=notice,Critical"))
	p.wait("exact priorities", `(() => { const rs = [...document.querySelectorAll("#events-table .ev")]; return rs.length === 6 && rs.every(r => ["Notice","Critical"].includes(r.dataset.priority)); })()`)
	if phone {
		p.do("open filters", chromedp.Click("#filters-toggle"))
	}
	p.do("open priorities", chromedp.Click("#f-priority-label"))
	p.wait("priority menu", `document.getElementById("f-priority").open && [...document.querySelectorAll("#f-priority-menu input:checked")].map(c => c.value).join() === "Critical,Notice" && document.getElementById("f-priority-label").textContent === "Critical, Notice"`)
	p.do("add warning", chromedp.Click(`#f-priority-menu input[value="Warning"]`))
	p.wait("three priorities", `new URLSearchParams(location.search).get("priorities") === "Critical,Warning,Notice" && document.querySelectorAll("#events-table .ev").length === 10 && document.getElementById("events-count").textContent === "10 of 10 events shown"`)
	if v := p.eval(`document.getElementById("f-priority-label").textContent`); v != "3 priorities" {
		t.Errorf("priority label %q", v)
	}
	p.shot("11b-priorities")
	if href := p.eval(`document.getElementById("export-json").href`); !strings.Contains(href, "priorities=Critical%2CWarning%2CNotice") {
		t.Fatalf("export link without the priorities: %q", href)
	}
	exported, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`fetch(document.getElementById("export-json").href).then(r => r.json()).then(j => j.events.map(e => e.priority).sort().join())`, chromedp.EvalAwaitPromise))
	if err != nil || exported != "Critical,Critical,Critical,Notice,Notice,Notice,Warning,Warning,Warning,Warning" {
		t.Fatalf("export of three priorities: %q, %v", exported, err)
	}
	p.do("close priorities", chromedp.KeyEvent("\x1b"))
	p.wait("menu closed", `!document.getElementById("f-priority").open`)
	p.do("old link", chromedp.Navigate(ui.URL+"/events?since=all&priority=error"))
	p.wait("minimum from an old link", `document.querySelectorAll("#events-table .ev").length === 6 && document.getElementById("f-priority-label").textContent === "≥ Error"`)

	// Page size is kept in the URL.
	p.do("clear", chromedp.Navigate(ui.URL+"/events?since=all&limit=50"))
	p.wait("page size", `document.getElementById("page-size").value === "50" && document.querySelectorAll("#events-table .ev").length === 13`)

	// Output fields are in the row; clicking one filters by it.
	p.wait("fields", `document.querySelector("#events-table .ev .field") !== null`)
	p.do("field", chromedp.Click(`#events-table .ev .field`))
	p.wait("field filter", `new URLSearchParams(location.search).get("q") !== null && document.querySelectorAll("#events-table .ev").length > 0`)
	p.do("reset", chromedp.Navigate(ui.URL+"/events?since=all"))
	p.wait("rows", `document.querySelectorAll("#events-table .ev").length === 13`)

	// Keyboard: Tab reaches a row, with a focus ring; Enter opens it; the
	// close button takes focus and is on screen; Escape closes.
	p.do("focus page size", chromedp.Focus("#page-size"))
	p.tabTo(`#events-table .ev`, 12)
	p.focusVisible("event row")
	before := p.eval(`document.activeElement.outerHTML.slice(0, 60) + " " + location.pathname`)
	p.do("enter", pressEnter())
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](`document.getElementById("detail-rule") !== null`, chromedp.WithPollingTimeout(5*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("Enter on a row did not open it: before %s; after %s", before, p.eval(`document.activeElement.outerHTML.slice(0, 60) + " " + location.pathname`))
	}
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](`document.activeElement.id === "detail-close"`, chromedp.WithPollingTimeout(5*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("focus not on the detail's close button but on %s (drawer: %s)", p.eval(`document.activeElement.tagName`), p.eval(`"hidden=" + document.getElementById("drawer").hidden + " close=" + !!document.getElementById("detail-close") + " path=" + location.pathname + " kids=" + document.getElementById("drawer").childElementCount`))
	}
	p.focusVisible("close button")
	// (polled: the drawer slides in)
	p.wait("close button on screen", `(() => { const r = document.getElementById("detail-close").getBoundingClientRect(); return r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight; })()`)
	if phone {
		if v := p.eval(`String(Math.round(document.getElementById("drawer").getBoundingClientRect().width))`); v != fmt.Sprint(w) {
			t.Errorf("detail is %s px wide on a %d px phone", v, w)
		}
	}
	if v := p.eval(`document.querySelector("#drawer .meta").textContent`); !strings.Contains(v, "Alert time") || !strings.Contains(v, "Received") {
		t.Errorf("detail shows no alert time and received time: %q", v)
	}
	p.shot("12-detail")
	p.do("escape", chromedp.KeyEvent("\x1b"))
	p.wait("closed", `document.getElementById("drawer").hidden`)

	// Dashboard: donuts for source and tags, the timeline by source; a
	// card is reachable and works from the keyboard.
	p.do("dashboard", chromedp.Navigate(ui.URL+"/dashboard?since=all"))
	p.wait("charts", `document.querySelectorAll(".donut-wrap").length === 2 && document.querySelector("#source-timeline polyline") !== null`)
	if v := p.eval(`[...document.querySelectorAll("#source-timeline .legend span")].map(s => s.textContent).sort().join(",")`); v != "k8s_audit,syscall" {
		t.Errorf("timeline sources %q", v)
	}
	if phone {
		if v := p.eval(`String(Math.round(document.querySelector("svg.chart").getBoundingClientRect().width))`); len(v) < 3 || v < "300" {
			t.Errorf("time chart only %s px wide", v)
		}
		if v := p.eval(`String(document.documentElement.scrollWidth <= innerWidth + 1)`); v != "true" {
			t.Errorf("dashboard wider than the phone")
		}
	}
	p.shot("13-dashboard")
	p.do("focus card", chromedp.Focus(`#priority-cards .card[data-priority="Critical"]`))
	p.focusVisible("priority card")
	p.do("enter card", pressEnter())
	p.wait("card filter", `location.pathname === "/events" && new URLSearchParams(location.search).get("priorities") === "Critical" && document.querySelectorAll("#events-table .ev").length === 3`)

	// API page and Info page: live state and one tab counted.
	p.do("api", chromedp.Navigate(ui.URL+"/api"))
	p.wait("api docs", `document.querySelectorAll(".api-ep").length >= 5`)
	p.shot("14-api")
	p.do("info", chromedp.Navigate(ui.URL+"/info"))
	p.wait("info live", `document.getElementById("info-live") && document.getElementById("info-live").textContent === "live" && document.getElementById("info-live-clients").textContent === "1"`)
	p.wait("config view", `document.querySelectorAll("#config-table tbody tr").length === 2`)
	p.do("config filter", chromedp.SendKeys("#config-filter", "slack"))
	p.wait("config filtered", `(() => { const rs = [...document.querySelectorAll("#config-table tbody tr")].filter(r => !r.hidden); return rs.length === 1 && rs[0].firstChild.textContent === "SLACK_WEBHOOKURL"; })()`)
	p.shot("15-info")

	// Store outage: banner, header, Events and Dashboard say so; then the
	// recovery is shown and the views load again.
	p.do("events", chromedp.Navigate(ui.URL+"/events?since=all"))
	p.wait("rows", `document.querySelectorAll("#events-table .ev").length === 13`)
	srv.Freeze(t)
	thawed := false
	defer func() {
		if !thawed {
			srv.Thaw(t)
		}
	}()
	p.do("reload", chromedp.Navigate(ui.URL+"/events?since=all"))
	p.wait("outage banner", `(() => { const b = document.querySelector('#banners [data-key="store"]'); return b && b.className.includes("banner-error") && b.textContent.includes("unavailable"); })()`)
	p.wait("outage in events", `document.getElementById("events-count").textContent === "Could not load events" && document.querySelector(".outage") !== null`)
	p.wait("outage in header", `document.getElementById("live-status").dataset.state === "store-down"`)
	p.shot("16-outage-events")
	p.do("dashboard", chromedp.Click(`a[data-view="dashboard"]`))
	p.wait("outage in dashboard", `document.querySelector("#view .outage") !== null`)
	p.shot("17-outage-dashboard")
	srv.Thaw(t)
	thawed = true
	p.wait("recovery", `(() => { const b = document.querySelector('#banners [data-key="store"]'); return b && b.className.includes("banner-ok") && b.textContent.includes("recovered"); })()`)
	p.wait("dashboard back", `document.getElementById("count-total") && document.getElementById("count-total").textContent === "13"`)
	p.shot("18-recovered")
	// The outage produced failed requests (503s), which Chromium reports
	// on the console as network errors; those are the outage itself.
	p.mu.Lock()
	kept := p.problems[:0]
	for _, pr := range p.problems {
		if !strings.Contains(pr, "status of 503") {
			kept = append(kept, pr)
		}
	}
	p.problems = kept
	p.mu.Unlock()
	p.noConsoleProblems()
}

// postAlertSource sends one alert of another source (a k8s audit alert).
func postAlertSource(t *testing.T, url, source, rule string) {
	t.Helper()
	body := fmt.Sprintf(`{"output":"%s","priority":"Warning","rule":"%s","time":"%s","source":"%s","hostname":"k8s","output_fields":{"ka.user.name":"mallory"}}`,
		rule, rule, time.Now().UTC().Format(time.RFC3339Nano), source)
	postBody(t, url, body)
}
