package forwarders_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/forwarders/elasticsearch"
	"github.com/saker-sec/saker/forwarders/slack"
	"github.com/saker-sec/saker/forwarders/webhook"
	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFromEnvEnablesTargets(t *testing.T) {
	setup, err := forwarders.FromEnv(env(map[string]string{
		"SLACK_WEBHOOKURL":                     "https://hooks.slack.com/services/T0/B0/secret",
		"SLACK_MINIMUMPRIORITY":                "error",
		"ELASTICSEARCH_HOSTPORT":               "http://es:9200",
		"ELASTICSEARCH_CUSTOMHEADERS":          "Authorization:Bearer a:b,X-A:1",
		"LOKI_HOSTPORT":                        "http://loki:3100",
		"LOKI_MINIMUMPRIORITY":                 "INFO",
		"WEBHOOK_ADDRESS":                      "http://hook:8080/in",
		"FORWARDING_MAXATTEMPTS":               "5",
		"FORWARDING_TIMEOUT":                   "3s",
		"CUSTOMFIELDS":                         "env:prod",
		"ELASTICSEARCH_MINIMUMPRIORITY":        "",
		"SLACK_MAXCONCURRENTREQUESTS":          "4",
		"ELASTICSEARCH_BATCHING_ENABLED":       "true",
		"ELASTICSEARCH_BATCHING_BATCHSIZE":     "1000",
		"ELASTICSEARCH_BATCHING_FLUSHINTERVAL": "2s",
	}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range setup.Targets {
		names = append(names, tg.Name)
	}
	if got := strings.Join(names, ","); got != "slack,elasticsearch,loki,webhook" {
		t.Fatalf("targets %s", got)
	}
	if setup.Targets[0].MinPriority != alert.PriorityError || setup.Targets[2].MinPriority != alert.PriorityInformational || setup.Targets[1].MinPriority != alert.PriorityUnset {
		t.Fatalf("priorities %v %v %v", setup.Targets[0].MinPriority, setup.Targets[1].MinPriority, setup.Targets[2].MinPriority)
	}
	if strings.Contains(setup.Targets[0].Endpoint, "secret") {
		t.Fatalf("slack endpoint not redacted: %s", setup.Targets[0].Endpoint)
	}
	if tg := setup.Targets; tg[0].MaxConcurrent != 4 || tg[1].MaxConcurrent != 1 || tg[3].MaxConcurrent != 1 {
		t.Fatalf("MAXCONCURRENTREQUESTS %d %d %d", tg[0].MaxConcurrent, tg[1].MaxConcurrent, tg[3].MaxConcurrent)
	}
	if es, loki := setup.Targets[1], setup.Targets[2]; es.MaxBatchBytes != 1000 || es.FlushInterval != 2*time.Second || loki.MaxBatchBytes != 0 || loki.FlushInterval != 0 {
		t.Fatalf("batching: es %d bytes %v, loki %d bytes %v", es.MaxBatchBytes, es.FlushInterval, loki.MaxBatchBytes, loki.FlushInterval)
	}
	if setup.Options.Retry.MaxAttempts != 5 || setup.Options.Retry.Timeout != 3*time.Second {
		t.Fatalf("retry options %+v", setup.Options.Retry)
	}
}

func TestFromYAMLWithEnvOverride(t *testing.T) {
	var doc map[string]any
	err := yaml.Unmarshal([]byte(`
webhook:
  address: http://yaml-hook:8080/
  method: put
  customHeaders:
    X-From: yaml
  minimumpriority: warning
loki:
  hostport: http://loki:3100
  extralabels: proc.name, container.name
`), &doc)
	if err != nil {
		t.Fatal(err)
	}
	setup, err := forwarders.FromEnv(env(map[string]string{"WEBHOOK_MINIMUMPRIORITY": "critical"}), doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(setup.Targets) != 2 || setup.Targets[1].Name != "webhook" || setup.Targets[1].MinPriority != alert.PriorityCritical {
		t.Fatalf("targets %+v", setup.Targets)
	}
}

func TestNoTargets(t *testing.T) {
	setup, err := forwarders.FromEnv(env(nil), nil, nil)
	if err != nil || len(setup.Targets) != 0 {
		t.Fatalf("FromEnv = %+v, %v", setup, err)
	}
}

// TestTyposAreWarningsAsInFalcosidekick: values falcosidekick starts with
// (it falls back to a default) must not stop the hub either; each is a
// warning naming the fallback. Before, each of these stopped start-up.
func TestTyposAreWarningsAsInFalcosidekick(t *testing.T) {
	src := config.NewSource(nil, env(map[string]string{
		"SLACK_WEBHOOKURL":            "https://hooks.slack.com/services/T0/B0/x",
		"SLACK_MINIMUMPRIORITY":       "warn",
		"SLACK_MESSAGEFORMAT":         "{{ .Rule ",
		"SLACK_OUTPUTFORMAT":          "pretty",
		"WEBHOOK_ADDRESS":             "http://hook",
		"WEBHOOK_METHOD":              "patch",
		"WEBHOOK_CHECKCERT":           "maybe",
		"WEBHOOK_CUSTOMHEADERS":       "X-A:1,oops",
		"ELASTICSEARCH_HOSTPORT":      "http://es:9200",
		"ELASTICSEARCH_SUFFIX":        "weekly",
		"ELASTICSEARCH_CUSTOMHEADERS": `{"Authorization":"ApiKey k:v"}`,
		"LOKI_HOSTPORT":               "http://loki:3100",
		"LOKI_MINIMUMPRIORITY":        "severe",
		"FORWARDING_TIMEOUT":          "soon",
	}), nil)
	cfg, err := forwarders.LoadConfig(src, forwarders.Globals{})
	if err != nil {
		t.Fatalf("a typo stopped start-up: %v", err)
	}
	byName := map[string]forwarders.OutputConfig{}
	for _, o := range cfg.Outputs {
		byName[o.Target.Name] = o
	}
	if len(byName) != 4 || byName["slack"].Target.MinPriority != alert.PriorityUnset || byName["loki"].Target.MinPriority != alert.PriorityUnset {
		t.Fatalf("outputs %+v", cfg.Outputs)
	}
	if wh := byName["webhook"].Settings.(webhook.Config); wh.Method != "POST" || !wh.CheckCert || wh.CustomHeaders["X-A"] != "1" {
		t.Fatalf("webhook %+v", wh)
	}
	if es := byName["elasticsearch"].Settings.(elasticsearch.Config); es.Suffix != elasticsearch.SuffixDaily || es.CustomHeaders["Authorization"] != "ApiKey k:v" {
		t.Fatalf("elasticsearch %+v", es)
	}
	if sl := byName["slack"].Settings.(slack.Config); sl.MessageFormat != nil || sl.OutputFormat != slack.FormatAll {
		t.Fatalf("slack %+v", sl)
	}
	w := strings.Join(src.Warnings(), "\n")
	for _, want := range []string{
		`SLACK_MINIMUMPRIORITY: unknown priority "warn"`,
		`SLACK_MESSAGEFORMAT: bad template`,
		`SLACK_OUTPUTFORMAT: "pretty" is not one of all, text, fields; using all`,
		`WEBHOOK_METHOD: unknown method "PATCH" (want POST or PUT); using POST`,
		`WEBHOOK_CHECKCERT: "maybe" is not true or false; using true`,
		`WEBHOOK_CUSTOMHEADERS: "oops" is not a key:value pair`,
		`ELASTICSEARCH_SUFFIX: "weekly" is not one of daily`,
		`LOKI_MINIMUMPRIORITY: unknown priority "severe"`,
		`FORWARDING_TIMEOUT: "soon"`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	// The effective configuration lists them too.
	if e := src.Effective(); len(e.Warnings) < 9 {
		t.Errorf("effective warnings %v", e.Warnings)
	}
}

// TestUndeliverableConfigStopsStartUp: an address no request can be sent
// to would drop every alert for that output, so it still stops start-up,
// every problem reported at once.
func TestUndeliverableConfigStopsStartUp(t *testing.T) {
	_, err := forwarders.FromEnv(env(map[string]string{
		"SLACK_WEBHOOKURL":       "hooks.slack.com/no-scheme",
		"ELASTICSEARCH_HOSTPORT": "ftp://es",
		"TEMPLATEDFIELDS":        "a:{{ .x ",
	}), nil, nil)
	if err == nil {
		t.Fatal("FromEnv accepted a bad configuration")
	}
	for _, want := range []string{
		`SLACK_WEBHOOKURL: malformed URL`,
		`ELASTICSEARCH_HOSTPORT: malformed URL "ftp://es"`,
		`TEMPLATEDFIELDS: field "a": bad template`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestMutualTLSWithoutCertificatesFailsAtStart(t *testing.T) {
	_, err := forwarders.FromEnv(env(map[string]string{
		"WEBHOOK_ADDRESS": "https://hook", "WEBHOOK_MUTUALTLS": "true", "MUTUALTLSFILESPATH": t.TempDir(),
	}), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "client.crt") {
		t.Fatalf("err = %v", err)
	}
}

// TestBadMessageFormatIsAWarning: every chat output treats a template that
// does not parse as falcosidekick does (and as Slack already did): a warning,
// and messages without the templated text. Before, Google Chat, Mattermost
// and Rocket.Chat refused to start.
func TestBadMessageFormatIsAWarning(t *testing.T) {
	for _, name := range []string{"SLACK", "GOOGLECHAT", "MATTERMOST", "ROCKETCHAT"} {
		t.Run(name, func(t *testing.T) {
			src := config.NewSource(nil, env(map[string]string{
				name + "_WEBHOOKURL":    "https://chat.example/hooks/x",
				name + "_MESSAGEFORMAT": "{{ .Rule ",
			}), nil)
			cfg, err := forwarders.LoadConfig(src, forwarders.Globals{})
			if err != nil {
				t.Fatalf("a bad template stopped start-up: %v", err)
			}
			if len(cfg.Outputs) != 1 {
				t.Fatalf("outputs %+v", cfg.Outputs)
			}
			if w := strings.Join(src.Warnings(), "\n"); !strings.Contains(w, name+"_MESSAGEFORMAT: bad template") {
				t.Fatalf("no warning: %q", w)
			}
		})
	}
}
