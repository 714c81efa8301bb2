// Package forwarders delivers stored alerts to external targets (Slack,
// Elasticsearch, Loki, webhooks) configured with falcosidekick's settings,
// with at-least-once delivery: each target reads the store through its own
// consumer group, acknowledges only what the target accepted, retries with
// exponential backoff and jitter, and dead-letters what keeps failing.
//
// Shape (after Alertmanager's notify package): one small Forwarder
// interface per integration in its own package (slack/, elasticsearch/,
// loki/, webhook/), each with config.go and a pure payload builder; retry
// policy (retry.go), metrics (metrics.go) and the delivery loop
// (dispatcher.go) wrap them; config.go builds the enabled ones.
package forwarders

import (
	"context"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/hub/alert"
)

// Forwarder delivers alerts to one target.
//
// Forward returns nil when the target accepted every alert. Otherwise retry
// says whether trying again may help (target down, throttled, 5xx) or not
// (payload rejected, auth refused). A *PartialError says which alerts of the
// batch failed; the others count as delivered. Forward must honour ctx: the
// dispatcher bounds each call with a timeout.
type Forwarder interface {
	Forward(ctx context.Context, alerts []alert.Alert) (retry bool, err error)
}

// PartialError reports a batch that was only partly delivered.
type PartialError = batch.PartialError

// Failure is one undelivered alert of a PartialError.
type Failure = batch.Failure

// Target is a named, configured forwarder.
type Target struct {
	// Name identifies the target in metrics, logs and Status ("slack"). Its
	// consumer group in the store is "forwarder-" + Name.
	Name      string
	Forwarder Forwarder
	// MinPriority drops (acknowledges without sending) less severe alerts;
	// PriorityUnset sends everything (falcosidekick's <OUT>_MINIMUMPRIORITY).
	MinPriority alert.Priority
	// MaxBatch bounds the alerts per Forward call; 0 means 100.
	MaxBatch int
	// MaxBatchBytes bounds the encoded alerts per Forward call (falcosidekick's
	// ELASTICSEARCH_BATCHING_BATCHSIZE); 0 means no limit.
	MaxBatchBytes int
	// FlushInterval is how long a short batch may wait for more alerts
	// before it is sent (ELASTICSEARCH_BATCHING_FLUSHINTERVAL); 0 sends
	// what is there at once. At most a quarter of Options.MinIdle.
	FlushInterval time.Duration
	// MaxConcurrent bounds the Forward calls in flight for the target
	// (falcosidekick's <OUT>_MAXCONCURRENTREQUESTS); 0 means 1. Above 1,
	// alerts may reach the target out of order.
	MaxConcurrent int
	// Endpoint is a redacted description of where alerts go, for Status.
	Endpoint string
}

// Group is the store consumer group of a target.
func Group(name string) string { return "forwarder-" + name }
