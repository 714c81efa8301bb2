package web

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

func TestExport(t *testing.T) {
	st := newTestStore(t)
	var as []alert.Alert
	for i := range 1203 {
		a := sampleAlert(i, 2)
		a.Priority = alert.PriorityWarning
		if i%2 == 0 {
			a.Priority = alert.PriorityDebug
		}
		as = append(as, a)
	}
	as[1202].Output = "=HYPERLINK(\"http://evil\")"
	as[1202].Priority = alert.PriorityCritical
	if _, err := st.Append(t.Context(), as); err != nil {
		t.Fatal(err)
	}
	_, hs := newTestServer(t, st, Options{Auth: Auth{User: "u", Password: "p"}})
	c := client(t)
	login(t, c, hs.URL, "u", "p")

	// JSON, filtered, across several store pages.
	res, body := get(t, c, hs.URL+"/api/v1/export?format=json&priority=warning")
	var out struct {
		Events    []store.Event `json:"events"`
		Count     int           `json:"count"`
		Limit     int           `json:"limit"`
		Truncated bool          `json:"truncated"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || res.StatusCode != 200 {
		t.Fatalf("json export: %d %v %.300s", res.StatusCode, err, body)
	}
	if out.Count != 602 || len(out.Events) != 602 || out.Truncated || out.Limit != 10000 {
		t.Fatalf("json export: count %d events %d truncated %v limit %d", out.Count, len(out.Events), out.Truncated, out.Limit)
	}
	if !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("disposition %q", res.Header.Get("Content-Disposition"))
	}
	for i := 1; i < len(out.Events); i++ {
		if store.CompareIDs(out.Events[i-1].ID, out.Events[i].ID) <= 0 {
			t.Fatalf("not newest first at %d", i)
		}
	}

	// CSV with a cap: the cap is stated in the last row.
	res, body = get(t, c, hs.URL+"/api/v1/export?format=csv&limit=1000")
	if res.StatusCode != 200 {
		t.Fatalf("csv export: %d", res.StatusCode)
	}
	// The truncation row has one column: read leniently.
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1002 || strings.Join(rows[0], ",") != strings.Join(csvColumns, ",") {
		t.Fatalf("csv rows %d header %v", len(rows), rows[0])
	}
	if last := rows[len(rows)-1][0]; !strings.HasPrefix(last, "# truncated: more than 1000 events") {
		t.Fatalf("last row %q", last)
	}
	// Formula injection is defused; the newest event comes first.
	if rows[1][8] != "'=HYPERLINK(\"http://evil\")" || rows[1][3] != "Critical" || rows[1][2] == "" {
		t.Fatalf("first row %q", rows[1])
	}

	for _, q := range []string{"format=xml", "limit=0", "limit=100001", "priority=loud"} {
		if res, _ := get(t, c, hs.URL+"/api/v1/export?"+q); res.StatusCode != 400 {
			t.Errorf("%s: %d", q, res.StatusCode)
		}
	}
}
