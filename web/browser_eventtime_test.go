package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// postAt sends one alert with its own time t, as a sensor's spool or a
// Falco buffer delivers it late.
func postAt(t *testing.T, url, rule string, at time.Time) {
	t.Helper()
	body := fmt.Sprintf(`{"output":"%s happened at %s","priority":"Warning","rule":"%s","time":"%s","source":"syscall","hostname":"node-1"}`,
		rule, at.Format(time.RFC3339), rule, at.UTC().Format(time.RFC3339Nano))
	postBody(t, url, body)
}

// TestBrowserEventTime: the dashboard's time ranges, order and charts
// follow the alert's own time, at a desktop and a phone size. An alert
// delivered hours late is listed where it happened (not on top, not in
// "last hour"), marked late, and its detail says when it was received;
// one arriving live is placed by its time too.
func TestBrowserEventTime(t *testing.T) { atBothSizes(t, browseEventTime) }

func browseEventTime(t *testing.T, w, h int64) {
	_, ing, ui := startRedisDashboard(t)
	now := time.Now()
	postAt(t, ing.URL+"/", "Two hours ago", now.Add(-2*time.Hour))
	postAt(t, ing.URL+"/", "Just now", now)
	postAt(t, ing.URL+"/", "Late by six hours", now.Add(-6*time.Hour)) // arrives last

	p := loggedIn(t, w, h, ui.URL+"/events?since=24h")
	rules := `[...document.querySelectorAll("#events-table .ev .c.rule")].map(r => r.textContent).join("|")`
	p.wait("by event time", rules+` === "Just now|Two hours ago|Late by six hours"`)
	if v := p.eval(`[...document.querySelectorAll("#events-table .ev")].filter(r => r.querySelector(".c.time.late")).map(r => r.querySelector(".c.rule").textContent).join("|")`); v != "Two hours ago|Late by six hours" {
		t.Errorf("rows marked late: %q", v)
	}
	p.wait("live", `document.getElementById("live-status").dataset.state === "live"`)

	// Live: a late alert goes where its time puts it, not on top.
	postAt(t, ing.URL+"/", "Late by four hours", now.Add(-4*time.Hour))
	p.wait("live late alert placed by time", rules+` === "Just now|Two hours ago|Late by four hours|Late by six hours"`)
	postAt(t, ing.URL+"/", "On time", time.Now())
	p.wait("live on-time alert on top", rules+` === "On time|Just now|Two hours ago|Late by four hours|Late by six hours"`)
	p.shot("30-event-time")

	// The detail says when it was received.
	p.do("open late", chromedp.Click(`//div[contains(@class,"rule") and text()="Late by six hours"]`))
	p.wait("received", `(() => { const r = document.getElementById("detail-received"); return r && r.classList.contains("late") && r.textContent.includes("after the alert"); })()`)
	p.shot("31-late-detail")
	p.do("close", chromedp.KeyEvent("\x1b"))

	// "Last hour" holds what happened in the last hour, whenever it arrived.
	p.do("last hour", chromedp.Navigate(ui.URL+"/events?since=1h"))
	p.wait("last hour", rules+` === "On time|Just now"`)
	// The reload opened a new websocket: post once it is live. (An alert
	// stored after the list was read but before the new socket's hello
	// reached the hub is in neither: a known gap, see README.)
	p.wait("live again", `document.getElementById("live-status").dataset.state === "live"`)
	postAt(t, ing.URL+"/", "Late by three hours", now.Add(-3*time.Hour))
	postAt(t, ing.URL+"/", "Fresh", time.Now())
	p.wait("fresh live", rules+` === "Fresh|On time|Just now"`)

	// The dashboard counts by event time too.
	p.do("dashboard 1h", chromedp.Navigate(ui.URL+"/dashboard?since=1h"))
	p.wait("1h total", `document.getElementById("count-total") && document.getElementById("count-total").textContent === "3"`)
	p.do("dashboard 24h", chromedp.Navigate(ui.URL+"/dashboard?since=24h"))
	p.wait("24h total", `document.getElementById("count-total") && document.getElementById("count-total").textContent === "7"`)
	p.shot("32-event-time-dashboard")

	// Saved views: name the current filters, come back to them later
	// (after a reload too), delete them.
	phone := w < 700
	openViews := func() {
		if phone && p.eval(`getComputedStyle(document.getElementById("filterbar")).display`) == "none" {
			p.do("open filters", chromedp.Click("#filters-toggle"))
		}
		p.do("open views", chromedp.Click("#views-label"))
		p.wait("views menu", `document.getElementById("views").open`)
	}
	p.do("events 1h", chromedp.Navigate(ui.URL+"/events?since=1h&priorities=Warning"))
	p.wait("rows", rules+` === "Fresh|On time|Just now"`)
	openViews()
	p.do("name view", chromedp.SendKeys("#view-name", "Last hour, warnings\r"))
	p.wait("saved", `document.getElementById("views-label").textContent === "View: Last hour, warnings"`)
	p.shot("33-saved-view")
	p.do("elsewhere", chromedp.Navigate(ui.URL+"/events?since=all"))
	p.wait("all rows", `document.querySelectorAll("#events-table .ev").length === 7 && document.getElementById("views-label").textContent === "Views (1)"`)
	openViews()
	p.do("pick view", chromedp.Click(`#views-list .view-open`))
	p.wait("view applied", `new URLSearchParams(location.search).get("since") === "1h" && new URLSearchParams(location.search).get("priorities") === "Warning" && `+rules+` === "Fresh|On time|Just now"`)
	openViews()
	p.do("delete view", chromedp.Click(`#views-list .view-drop`))
	p.wait("deleted", `document.getElementById("views-list") === null && document.getElementById("views-label").textContent === "Views"`)
	p.noConsoleProblems()
}
