package settings

import (
	"strings"
	"testing"
	"time"
)

func src(env map[string]string, yaml map[string]any) *Source {
	return New(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, yaml)
}

func TestEnvOverridesYAMLCaseInsensitively(t *testing.T) {
	s := src(map[string]string{"LOKI_TENANT": "env", "LOKI_USER": ""},
		map[string]any{"Loki": map[string]any{"tenant": "yaml", "User": "u", "customHeaders": map[string]any{"A": 1}}})
	if got := s.String("loki.tenant", ""); got != "env" {
		t.Errorf("tenant %q", got)
	}
	if got := s.String("loki.user", ""); got != "u" { // empty env is unset, as with viper
		t.Errorf("user %q", got)
	}
	if got := s.Map("loki.customheaders"); got["A"] != "1" {
		t.Errorf("headers %v", got)
	}
}

func TestMap(t *testing.T) {
	s := src(map[string]string{"X": "Authorization:Bearer a:b, X-A : 1 ,,bad"}, nil)
	got := s.Map("x")
	if got["Authorization"] != "Bearer a:b" || got["X-A"] != "1" || len(got) != 2 {
		t.Errorf("map %v", got)
	}
	if w := strings.Join(s.Warnings(), "\n"); s.Err() != nil || !strings.Contains(w, `X: "bad" is not a key:value pair`) {
		t.Errorf("err %v, warnings %s", s.Err(), w)
	}
}

func TestScalars(t *testing.T) {
	s := src(map[string]string{"B": "yes", "I": "-1", "D": "1.5", "D2": "250ms"}, nil)
	if s.Bool("b", true) != true || s.Int("i", 7, 0) != 7 || s.Duration("d", 0) != 1500*time.Millisecond || s.Duration("d2", 0) != 250*time.Millisecond {
		t.Error("scalar parsing")
	}
	if w := strings.Join(s.Warnings(), "\n"); s.Err() != nil || !strings.Contains(w, `B: "yes" is not true or false`) || !strings.Contains(w, `I: "-1" is not an integer >= 0`) {
		t.Errorf("err %v, warnings %s", s.Err(), w)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pw@es:9200/?x=1":                   "http://user@es:9200/",
		"https://hooks.slack.com/services/T0/B0/secret": "https://hooks.slack.com/services/REDACTED",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RedactPath("https://hooks.slack.com/services/T0/B0/secret"); strings.Contains(got, "secret") {
		t.Errorf("RedactPath leaks: %q", got)
	}
}

func FuzzMap(f *testing.F) {
	for _, s := range []string{"a:b,c:d", "Authorization:Bearer x:y", ",,:", "k", ":v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s := src(map[string]string{"M": v}, nil)
		for k := range s.Map("m") {
			if k == "" || strings.Contains(k, ",") {
				t.Fatalf("bad key %q from %q", k, v)
			}
		}
	})
}

// TestHeadersDropsWhatHTTPRefuses: a header Go's client cannot send made
// every delivery of the output fail ("invalid header field name"); it is
// now dropped with a warning and the other headers are kept.
func TestHeadersDropsWhatHTTPRefuses(t *testing.T) {
	s := src(map[string]string{"WEBHOOK_CUSTOMHEADERS": "X-Good:1,Bad Name:2,X-Ctl:a\x01b"}, nil)
	got := s.Headers("webhook.customheaders")
	if len(got) != 1 || got["X-Good"] != "1" {
		t.Fatalf("headers %v", got)
	}
	w := strings.Join(s.Warnings(), "\n")
	if !strings.Contains(w, `"Bad Name" is not a valid header name`) || !strings.Contains(w, `header "X-Ctl" has a value with control characters`) {
		t.Fatalf("warnings %s", w)
	}
}
