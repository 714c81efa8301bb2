package forwarders_test

import (
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub/alert"
	"gopkg.in/yaml.v3"
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

func TestBadConfigReportsEveryProblem(t *testing.T) {
	_, err := forwarders.FromEnv(env(map[string]string{
		"SLACK_WEBHOOKURL":       "hooks.slack.com/no-scheme",
		"SLACK_MESSAGEFORMAT":    "{{ .Rule ",
		"SLACK_OUTPUTFORMAT":     "pretty",
		"LOKI_HOSTPORT":          "http://loki:3100",
		"LOKI_MINIMUMPRIORITY":   "severe",
		"WEBHOOK_ADDRESS":        "http://hook",
		"WEBHOOK_CHECKCERT":      "maybe",
		"WEBHOOK_METHOD":         "DELETE",
		"ELASTICSEARCH_HOSTPORT": "ftp://es",
		"ELASTICSEARCH_SUFFIX":   "weekly",
		"TEMPLATEDFIELDS":        "a:{{ .x ",
	}), nil, nil)
	if err == nil {
		t.Fatal("FromEnv accepted a bad configuration")
	}
	for _, want := range []string{
		`SLACK_WEBHOOKURL: malformed URL`,
		`SLACK_MESSAGEFORMAT: bad template`,
		`SLACK_OUTPUTFORMAT: unknown value "pretty"`,
		`LOKI_MINIMUMPRIORITY: unknown priority "severe"`,
		`WEBHOOK_CHECKCERT: not a boolean: "maybe"`,
		`WEBHOOK_METHOD: unknown method "DELETE"`,
		`ELASTICSEARCH_HOSTPORT: malformed URL "ftp://es"`,
		`ELASTICSEARCH_SUFFIX: unknown value "weekly"`,
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
