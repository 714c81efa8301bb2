package forwarders_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub/alert"
)

// Every added output is enabled by its falcosidekick variable and gets its
// minimum priority and a redacted endpoint.
func TestFromEnvEnablesAddedOutputs(t *testing.T) {
	vars := map[string]string{
		"ALERTMANAGER_HOSTPORT":        "http://am:9093",
		"ALERTMANAGER_MINIMUMPRIORITY": "error",
		"TEAMS_WEBHOOKURL":             "https://x.webhook.office.com/webhookb2/secret",
		"DISCORD_WEBHOOKURL":           "https://discord.com/api/webhooks/1/secret",
		"GOOGLECHAT_WEBHOOKURL":        "https://chat.googleapis.com/v1/spaces/S/messages?key=secret",
		"MATTERMOST_WEBHOOKURL":        "http://mm:8065/hooks/secret",
		"ROCKETCHAT_WEBHOOKURL":        "http://rc:3000/hooks/secret",
		"TALON_ADDRESS":                "http://talon:2803",
		"N8N_ADDRESS":                  "http://n8n:5678/webhook/falco",
		"PAGERDUTY_ROUTINGKEY":         "secret",
		"OPSGENIE_APIKEY":              "secret",
		"DATADOG_APIKEY":               "secret",
		"KAFKA_HOSTPORT":               "kafka1:9092,kafka2:9092",
		"KAFKA_TOPIC":                  "falco",
		"SYSLOG_HOST":                  "logs", "SYSLOG_PORT": "514",
		"NATS_HOSTPORT":      "nats://nats:4222",
		"DATADOGLOGS_APIKEY": "secret",
		"SPLUNK_HOST":        "https://splunk:8088/services/collector/event", "SPLUNK_TOKEN": "secret",
		"OPENOBSERVE_HOSTPORT": "http://o2:5080", "OPENOBSERVE_PASSWORD": "secret",
		"GRAFANA_HOSTPORT": "http://grafana:3000", "GRAFANA_APIKEY": "secret",
		"OTLP_LOGS_ENDPOINT":   "http://otel:4318/v1/logs",
		"POLICYREPORT_ENABLED": "true", "POLICYREPORT_KUBECONFIG": filepath.Join(t.TempDir(), "kubeconfig"),
	}
	kc := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://k8s:6443'}}]\n" +
		"users: [{name: u, user: {token: secret}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
	if err := os.WriteFile(vars["POLICYREPORT_KUBECONFIG"], []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	setup, err := forwarders.FromEnv(env(vars), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range setup.Targets {
		names = append(names, tg.Name)
		if strings.Contains(tg.Endpoint, "secret") {
			t.Errorf("%s endpoint %q shows the secret", tg.Name, tg.Endpoint)
		}
		if tg.Name == "alertmanager" && tg.MinPriority != alert.PriorityError {
			t.Errorf("alertmanager min priority %v", tg.MinPriority)
		}
	}
	if got := strings.Join(names, ","); got != "alertmanager,teams,discord,googlechat,mattermost,rocketchat,talon,n8n,pagerduty,opsgenie,datadog,datadoglogs,kafka,nats,syslog,splunk,openobserve,otlplogs,policyreport,grafana" {
		t.Fatalf("targets %s", got)
	}
}
