package forwarders

import (
	"log/slog"
	"strings"

	"github.com/saker-sec/saker/forwarders/alertmanager"
	"github.com/saker-sec/saker/forwarders/awscloudwatchlogs"
	"github.com/saker-sec/saker/forwarders/awss3"
	"github.com/saker-sec/saker/forwarders/awssns"
	"github.com/saker-sec/saker/forwarders/awssqs"
	"github.com/saker-sec/saker/forwarders/datadog"
	"github.com/saker-sec/saker/forwarders/datadoglogs"
	"github.com/saker-sec/saker/forwarders/discord"
	"github.com/saker-sec/saker/forwarders/elasticsearch"
	"github.com/saker-sec/saker/forwarders/googlechat"
	"github.com/saker-sec/saker/forwarders/grafana"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/kafka"
	"github.com/saker-sec/saker/forwarders/loki"
	"github.com/saker-sec/saker/forwarders/mattermost"
	"github.com/saker-sec/saker/forwarders/n8n"
	"github.com/saker-sec/saker/forwarders/nats"
	"github.com/saker-sec/saker/forwarders/openobserve"
	"github.com/saker-sec/saker/forwarders/opsgenie"
	"github.com/saker-sec/saker/forwarders/otlplogs"
	"github.com/saker-sec/saker/forwarders/pagerduty"
	"github.com/saker-sec/saker/forwarders/policyreport"
	"github.com/saker-sec/saker/forwarders/rocketchat"
	"github.com/saker-sec/saker/forwarders/slack"
	"github.com/saker-sec/saker/forwarders/smtp"
	"github.com/saker-sec/saker/forwarders/splunk"
	"github.com/saker-sec/saker/forwarders/syslog"
	"github.com/saker-sec/saker/forwarders/talon"
	"github.com/saker-sec/saker/forwarders/teams"
	"github.com/saker-sec/saker/forwarders/webhook"
)

// outputs is every output Saker has, in start order. To add one: in its own
// package declare a Config (embedding settings.Common for falcosidekick's
// MINIMUMPRIORITY/CHECKCERT/MUTUALTLS/CUSTOMHEADERS/MAXCONCURRENTREQUESTS),
// a Load(*settings.Source) (Config, bool) that reads falcosidekick's keys
// and reports whether the output is enabled, and a New(Config,
// outhttp.Options, *slog.Logger); then add one line here, saying how big
// its batches are and where it sends (redacted, for Status and logs).
//
// Chat targets post one message per alert anyway, so small batches keep a
// redelivery after an outage short; log stores take large pushes.
var outputs = []output{
	define("slack", plain(slack.Load), func(c slack.Config) Target {
		return Target{MaxBatch: 20, Endpoint: settings.RedactPath(c.WebhookURL)}
	}, slack.New),
	define("elasticsearch", plain(elasticsearch.Load), func(c elasticsearch.Config) Target {
		t := Target{MaxBatch: 500, Endpoint: settings.Redact(c.HostPort)}
		if b := c.Batching; b.Enabled {
			// BATCHSIZE (bytes) is the bound that matters; MaxBatch only
			// caps one claim from the store.
			t.MaxBatch, t.MaxBatchBytes, t.FlushInterval = 10000, b.BatchSize, b.FlushInterval
		}
		return t
	}, elasticsearch.New),
	define("loki", func(src *settings.Source, g Globals) (loki.Config, bool) {
		cfg, ok := loki.Load(src)
		cfg.GlobalLabels = g.Fields
		return cfg, ok
	}, func(c loki.Config) Target { return Target{MaxBatch: 500, Endpoint: settings.Redact(c.URL())} }, loki.New),
	define("webhook", plain(webhook.Load), func(c webhook.Config) Target {
		return Target{MaxBatch: 100, Endpoint: settings.Redact(c.Address)}
	}, webhook.New),
	// Alertmanager takes a list per request; chat services rate-limit per
	// webhook, one message per alert.
	define("alertmanager", plain(alertmanager.Load), func(c alertmanager.Config) Target {
		return Target{MaxBatch: 100, Endpoint: settings.Redact(c.HostPorts[0])}
	}, alertmanager.New),
	define("teams", plain(teams.Load), chat(func(c teams.Config) string { return c.WebhookURL }), teams.New),
	define("discord", plain(discord.Load), chat(func(c discord.Config) string { return c.WebhookURL }), discord.New),
	define("googlechat", plain(googlechat.Load), chat(func(c googlechat.Config) string { return c.WebhookURL }), googlechat.New),
	define("mattermost", plain(mattermost.Load), chat(func(c mattermost.Config) string { return c.WebhookURL }), mattermost.New),
	define("rocketchat", plain(rocketchat.Load), chat(func(c rocketchat.Config) string { return c.WebhookURL }), rocketchat.New),
	define("talon", plain(talon.Load), func(c talon.Config) Target {
		return Target{MaxBatch: 100, Endpoint: settings.Redact(c.Address)}
	}, talon.New),
	define("n8n", plain(n8n.Load), func(c n8n.Config) Target {
		return Target{MaxBatch: 100, Endpoint: settings.Redact(c.Address)}
	}, n8n.New),
	define("pagerduty", plain(pagerduty.Load), func(c pagerduty.Config) Target {
		return Target{MaxBatch: 20, Endpoint: c.Endpoint}
	}, pagerduty.New),
	define("opsgenie", plain(opsgenie.Load), func(c opsgenie.Config) Target {
		return Target{MaxBatch: 20, Endpoint: c.URL}
	}, opsgenie.New),
	define("datadog", plain(datadog.Load), func(c datadog.Config) Target {
		return Target{MaxBatch: 100, Endpoint: settings.Redact(c.Host)}
	}, datadog.New),
	// The Datadog log intake takes up to 1000 entries per request.
	define("datadoglogs", plain(datadoglogs.Load), func(c datadoglogs.Config) Target {
		return Target{MaxBatch: 500, Endpoint: settings.Redact(c.Host)}
	}, datadoglogs.New),
	// One object per alert, uploaded 8 at a time.
	define("awss3", plain(awss3.Load), func(c awss3.Config) Target {
		return Target{MaxBatch: 100, Endpoint: "s3://" + c.Bucket + "/" + c.Prefix}
	}, awss3.New),
	// SQS takes 10 messages per SendMessageBatch call.
	define("awssqs", plain(awssqs.Load), func(c awssqs.Config) Target {
		return Target{MaxBatch: 100, Endpoint: settings.Redact(c.URL)}
	}, awssqs.New),
	define("awssns", plain(awssns.Load), func(c awssns.Config) Target {
		return Target{MaxBatch: 100, Endpoint: c.TopicArn}
	}, awssns.New),
	// PutLogEvents takes up to 10,000 events per call.
	define("awscloudwatchlogs", plain(awscloudwatchlogs.Load), func(c awscloudwatchlogs.Config) Target {
		return Target{MaxBatch: 500, Endpoint: c.LogGroup + "/" + c.LogStream}
	}, awscloudwatchlogs.New),
	// One email per alert over one connection per batch.
	define("smtp", plain(smtp.Load), func(c smtp.Config) Target {
		return Target{MaxBatch: 20, Endpoint: "smtp://" + c.HostPort}
	}, smtp.New),
	// Brokers take large batches; each record is confirmed (KAFKA_REQUIREDACKS).
	define("kafka", plain(kafka.Load), func(c kafka.Config) Target {
		return Target{MaxBatch: 500, Endpoint: strings.Join(c.HostPort, ",") + "/" + c.Topic}
	}, kafka.New),
	define("nats", plain(nats.Load), func(c nats.Config) Target {
		return Target{MaxBatch: 500, Endpoint: settings.Redact(c.HostPort)}
	}, nats.New),
	define("syslog", plain(syslog.Load), func(c syslog.Config) Target {
		return Target{MaxBatch: 100, Endpoint: c.Protocol + "://" + c.Host + ":" + c.Port}
	}, syslog.New),
	// Log stores: HEC and OpenObserve's _multi take many events per request.
	define("splunk", plain(splunk.Load), func(c splunk.Config) Target {
		return Target{MaxBatch: 500, Endpoint: settings.Redact(c.Host)}
	}, splunk.New),
	define("openobserve", plain(openobserve.Load), func(c openobserve.Config) Target {
		return Target{MaxBatch: 500, Endpoint: settings.Redact(c.URL())}
	}, openobserve.New),
	define("otlplogs", plain(otlplogs.Load), func(c otlplogs.Config) Target {
		return Target{MaxBatch: 500, Endpoint: c.Protocol + " " + settings.Redact(c.Endpoint)}
	}, otlplogs.New),
	// One read and one write per report and batch.
	define("policyreport", plain(policyreport.Load), func(c policyreport.Config) Target {
		where := c.APIServer
		if c.Kubeconfig != "" {
			where = "kubeconfig " + c.Kubeconfig
		}
		return Target{MaxBatch: 100, Endpoint: where}
	}, policyreport.New),
	// One annotation per request.
	define("grafana", plain(grafana.Load), func(c grafana.Config) Target {
		return Target{MaxBatch: 100, Endpoint: settings.Redact(c.HostPort)}
	}, grafana.New),
}

// chat is the target shape of a chat webhook: one message per alert, and
// the webhook URL's path is its secret.
func chat[C any](url func(C) string) func(C) Target {
	return func(c C) Target { return Target{MaxBatch: 20, Endpoint: settings.RedactPath(url(c))} }
}

// Globals are the hub-wide settings an output may need besides its own.
type Globals struct {
	// Fields names the fields the hub's enrichment adds to every alert
	// (CUSTOMFIELDS and TEMPLATEDFIELDS; config.Config.GlobalFields).
	Fields []string
}

// output is one entry of outputs: how to read its settings and build it.
type output struct {
	name string
	load func(src *settings.Source, g Globals) (OutputConfig, bool)
}

// OutputConfig is one enabled output's decoded settings, ready to build.
type OutputConfig struct {
	// Target is the delivery shape (name, minimum priority, batch,
	// concurrency, endpoint), without its Forwarder until Build.
	Target Target
	// Settings is the output package's typed Config (slack.Config, …).
	Settings any
	build    func(outhttp.Options, *slog.Logger) (Forwarder, error)
}

// plain adapts an output's Load that needs no Globals.
func plain[C any](load func(*settings.Source) (C, bool)) func(*settings.Source, Globals) (C, bool) {
	return func(src *settings.Source, _ Globals) (C, bool) { return load(src) }
}

// define makes an outputs entry from an output package's Load and New.
// target gives the output's batch bounds and endpoint; the name, minimum
// priority and concurrency come from its settings.Common.
func define[C interface{ Shared() settings.Common }, F Forwarder](
	name string, load func(*settings.Source, Globals) (C, bool), target func(C) Target,
	newF func(C, outhttp.Options, *slog.Logger) (F, error),
) output {
	return output{name: name, load: func(src *settings.Source, g Globals) (OutputConfig, bool) {
		cfg, ok := load(src, g)
		if !ok {
			return OutputConfig{}, false
		}
		t := target(cfg)
		common := cfg.Shared()
		t.Name, t.MinPriority, t.MaxConcurrent = name, common.MinimumPriority, common.MaxConcurrentRequests
		return OutputConfig{Target: t, Settings: cfg,
			build: func(o outhttp.Options, log *slog.Logger) (Forwarder, error) { return newF(cfg, o, log) },
		}, true
	}}
}
