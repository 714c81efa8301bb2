package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sourceOf(env map[string]string, doc map[string]any) *Source {
	l, e := envOf(env)
	return NewSource(doc, l, e)
}

// TestPrecedence pins the one rule every part follows: a non-empty variable
// beats the file, an empty variable counts as unset, an empty value means
// the default; nested and flat YAML spellings are one key.
func TestPrecedence(t *testing.T) {
	doc := map[string]any{
		"Slack":          map[string]any{"Channel": "#yaml", "username": "yaml-user", "icon": ""},
		"webhook_method": "put",
	}
	s := sourceOf(map[string]string{"SLACK_CHANNEL": "#env", "SLACK_USERNAME": "", "SLACK_FOOTER": "  "}, doc)
	for key, want := range map[string]string{
		"slack.channel":  "#env",      // env wins
		"slack.username": "yaml-user", // empty env is unset
		"slack.icon":     "def",       // empty YAML is the default
		"slack.footer":   "def",       // blank env too
		"webhook.method": "put",       // flat YAML spelling
		"WEBHOOK_METHOD": "put",       // env name works as a key
	} {
		if got := s.String(key, "def"); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}

// TestMapForms: both of falcosidekick's map forms, for every output.
func TestMapForms(t *testing.T) {
	s := sourceOf(map[string]string{
		"ELASTICSEARCH_CUSTOMHEADERS": `{"Authorization":"ApiKey a:b","X-Org":"42"}`,
		"WEBHOOK_CUSTOMHEADERS":       "Authorization:Bearer a:b, X-A : 1 ,,bad",
	}, map[string]any{"loki": map[string]any{"customheaders": map[string]any{"X-Scope": 7}}})
	if got := s.Map("elasticsearch.customheaders"); !reflect.DeepEqual(got, map[string]string{"Authorization": "ApiKey a:b", "X-Org": "42"}) {
		t.Errorf("JSON form: %v", got)
	}
	if got := s.Map("webhook.customheaders"); !reflect.DeepEqual(got, map[string]string{"Authorization": "Bearer a:b", "X-A": "1"}) {
		t.Errorf("k:v form: %v", got)
	}
	if got := s.Map("loki.customheaders"); got["X-Scope"] != "7" {
		t.Errorf("YAML mapping: %v", got)
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "WEBHOOK_CUSTOMHEADERS") {
		t.Errorf("strict source: err %v", err)
	}
	l := sourceOf(map[string]string{"X": "a:1,bad"}, nil).Lenient()
	if got := l.Map("x"); got["a"] != "1" || l.Err() != nil || len(l.Warnings()) != 1 {
		t.Errorf("lenient: %v %v %v", got, l.Err(), l.Warnings())
	}
}

func TestLenientFallsBackWithWarnings(t *testing.T) {
	s := sourceOf(map[string]string{"B": "maybe", "I": "-1", "D": "soon", "E": "pretty", "OK": "1.5"}, nil)
	l := s.Lenient()
	if l.Bool("b", true) != true || l.Int("i", 7, 0) != 7 || l.Duration("d", time.Second) != time.Second ||
		l.Enum("e", "all", "all", "text") != "all" || l.Duration("ok", 0) != 1500*time.Millisecond {
		t.Fatal("fallbacks")
	}
	if err := s.Err(); err != nil {
		t.Fatalf("lenient reads recorded errors: %v", err)
	}
	w := strings.Join(s.Warnings(), "\n")
	for _, want := range []string{`B: "maybe" is not true or false; using true`, `I: "-1" is not an integer >= 0; using 7`, `D: "soon"`, `E: "pretty" is not one of all, text; using all`} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	// The same reads on the strict Source are errors.
	s.Bool("b", true)
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), `B: "maybe": want true or false`) {
		t.Errorf("strict: %v", err)
	}
}

func TestEffectiveMasksSecretsAndListsIgnoredKeys(t *testing.T) {
	s := sourceOf(map[string]string{
		"REDIS_PASSWORD":        "hunter2",
		"SLACK_WEBHOOKURL":      "https://hooks.slack.com/services/T0/B0/tok",
		"LOKI_HOSTPORT":         "http://user:pw@loki:3100/?token=x",
		"WEBHOOK_CUSTOMHEADERS": "Authorization:Bearer s3cret",
	}, map[string]any{"teams": map[string]any{"webhookurl": "https://teams.example/x"}, "customfields": map[string]any{"a": "b"}})
	s.Secret("REDIS_PASSWORD", "")
	s.String("SLACK_WEBHOOKURL", "")
	s.String("LOKI_HOSTPORT", "")
	s.Map("WEBHOOK_CUSTOMHEADERS")
	s.Map("CUSTOMFIELDS")
	s.String("LISTENADDRESS", "")
	s.Lenient().Enum("WEBHOOK_METHOD", "post", "post", "put")
	e := s.Effective()
	var buf bytes.Buffer
	if err := e.Format(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, leak := range []string{"hunter2", "tok", "pw@", "token=x", "s3cret"} {
		if strings.Contains(out, leak) {
			t.Errorf("print-config leaks %q:\n%s", leak, out)
		}
	}
	for _, want := range []string{"REDIS_PASSWORD=********", "LISTENADDRESS=\"\"", "# default", "# env", "CUSTOMFIELDS=a:b", "TEAMS_WEBHOOKURL: set in the configuration file but not used"} {
		if !strings.Contains(out, want) {
			t.Errorf("print-config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CUSTOMFIELDS_A") {
		t.Errorf("a read map's entries are not ignored keys:\n%s", out)
	}
}
