// Package awscloudwatchlogs writes each alert's Falco JSON payload as a
// log event, stamped with the alert's time, to an Amazon CloudWatch Logs
// stream with the AWS SDK for Go v2, configured by falcosidekick's AWS_*
// and AWS_CLOUDWATCHLOGS_* settings. A batch goes out in PutLogEvents
// calls (falcosidekick: one call per alert).
package awscloudwatchlogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/saker-sec/saker/forwarders/internal/awsconf"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// DefaultStream is the log stream created when AWS_CLOUDWATCHLOGS_LOGSTREAM
// is empty: falcosidekick's name, so a switch keeps writing where it did.
const DefaultStream = "falcosidekick-logstream"

// PutLogEvents limits: 10,000 events, 1,048,576 bytes counting 26 bytes
// per event, and at most 24 hours between the first and last event.
const (
	maxEvents   = 10000
	maxBytes    = 1 << 20
	eventBytes  = 26
	maxSpanMsec = 24 * 3600 * 1000
)

// Config is the CloudWatch Logs output's configuration.
type Config struct {
	LogGroup string // AWS_CLOUDWATCHLOGS_LOGGROUP; enables the output
	// LogStream is AWS_CLOUDWATCHLOGS_LOGSTREAM; when empty, DefaultStream
	// is created. A stream that does not exist is created.
	LogStream string
	// Endpoint is AWS_CLOUDWATCHLOGS_ENDPOINT (a Saker addition, as
	// falcosidekick's AWS_S3_ENDPOINT): LocalStack or another compatible
	// service.
	Endpoint string
	AWS      awsconf.Credentials
	settings.Common
}

// Load reads the CloudWatch Logs settings; enabled is false without
// AWS_CLOUDWATCHLOGS_LOGGROUP.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.LogGroup = src.String("aws.cloudwatchlogs.loggroup", "")
	if cfg.LogGroup == "" {
		return cfg, false
	}
	cfg.LogStream = src.String("aws.cloudwatchlogs.logstream", "")
	cfg.Endpoint = awsconf.Endpoint(src, "aws.cloudwatchlogs.endpoint")
	cfg.AWS = awsconf.Load(src)
	cfg.Common = src.Common("aws.cloudwatchlogs")
	return cfg, true
}

// Forwarder writes alerts to a CloudWatch Logs stream.
type Forwarder struct {
	client        *cloudwatchlogs.Client
	group, stream string
	logger        *slog.Logger

	mu      sync.Mutex
	created bool // the stream is known to exist
}

// New builds a CloudWatch Logs forwarder; it does not call AWS (unless
// AWS_CHECKIDENTITY asks STS who the credentials are, in the background).
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	if logger == nil {
		logger = slog.Default()
	}
	awsCfg, err := awsconf.Config(context.Background(), cfg.AWS, awsconf.Options{Endpoint: cfg.Endpoint, Common: cfg.Common, HTTP: httpOpts}, logger)
	if err != nil {
		return nil, fmt.Errorf("aws cloudwatch logs: %w", err)
	}
	client := cloudwatchlogs.NewFromConfig(awsCfg, func(o *cloudwatchlogs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	// A configured stream is used as it is (creating it needs a permission
	// a writer may not have); it is created only if a write finds it missing.
	f := &Forwarder{client: client, group: cfg.LogGroup, stream: cfg.LogStream, logger: logger, created: cfg.LogStream != ""}
	if f.stream == "" {
		f.stream = DefaultStream
	}
	return f, nil
}

// Forward writes the alerts as log events in time order (CloudWatch
// requires it within a call), in as few PutLogEvents calls as its limits
// allow. Events CloudWatch rejects (older than 14 days or the group's
// retention, more than 2 hours ahead) are reported as final failures.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	order := make([]int, len(alerts))
	events := make([]types.InputLogEvent, len(alerts))
	for i := range alerts {
		b, err := json.Marshal(&alerts[i])
		if err != nil {
			return false, fmt.Errorf("encode alert: %w", err)
		}
		order[i] = i
		events[i] = types.InputLogEvent{Message: aws.String(string(b)), Timestamp: aws.Int64(alerts[i].Time.UnixMilli())}
	}
	sort.SliceStable(order, func(x, y int) bool { return *events[order[x]].Timestamp < *events[order[y]].Timestamp })
	var out awsconf.Outcome
	for start := 0; start < len(order); {
		end := runEnd(events, order, start)
		batch := make([]types.InputLogEvent, end-start)
		for k := range batch {
			batch[k] = events[order[start+k]]
		}
		rejected, err := f.put(ctx, batch)
		if err != nil {
			err = fmt.Errorf("cloudwatch logs PutLogEvents: %w", err)
			retry := awsconf.Retryable(err)
			for k := start; k < end; k++ {
				out.Fail(order[k], retry, err)
			}
			for k := end; k < len(order); k++ {
				out.Skip(order[k], order[k]+1, err)
			}
			break
		}
		for _, k := range rejected {
			out.Fail(order[start+k.index], false, k.err)
		}
		start = end
	}
	return out.Result(len(alerts))
}

// runEnd is the end of the run of sorted events starting at start that
// fits one PutLogEvents call.
func runEnd(events []types.InputLogEvent, order []int, start int) int {
	first := *events[order[start]].Timestamp
	size := 0
	for k := start; k < len(order); k++ {
		e := events[order[k]]
		size += len(*e.Message) + eventBytes
		if k > start && (k-start == maxEvents || size > maxBytes || *e.Timestamp-first > maxSpanMsec) {
			return k
		}
	}
	return len(order)
}

type rejection struct {
	index int
	err   error
}

// put sends one PutLogEvents call, creating the stream when it does not
// exist yet, and returns the events CloudWatch rejected.
func (f *Forwarder) put(ctx context.Context, batch []types.InputLogEvent) ([]rejection, error) {
	if err := f.ensureStream(ctx, false); err != nil {
		return nil, err
	}
	in := &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(f.group), LogStreamName: aws.String(f.stream), LogEvents: batch}
	resp, err := f.client.PutLogEvents(ctx, in)
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		// Deleted since, or never there: create it and try once more.
		if err := f.ensureStream(ctx, true); err != nil {
			return nil, err
		}
		resp, err = f.client.PutLogEvents(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	info := resp.RejectedLogEventsInfo
	if info == nil {
		return nil, nil
	}
	var out []rejection
	seen := map[int]bool{}
	add := func(from, to int, why string) {
		for k := max(from, 0); k < min(to, len(batch)); k++ {
			if !seen[k] {
				seen[k] = true
				when := time.UnixMilli(*batch[k].Timestamp).UTC().Format(time.RFC3339)
				out = append(out, rejection{k, fmt.Errorf("cloudwatch logs rejected the event: %s (time %s)", why, when)})
			}
		}
	}
	if i := info.TooOldLogEventEndIndex; i != nil {
		add(0, int(*i), "too old")
	}
	if i := info.ExpiredLogEventEndIndex; i != nil {
		add(0, int(*i), "older than the log group's retention")
	}
	if i := info.TooNewLogEventStartIndex; i != nil {
		add(int(*i), len(batch), "more than 2 hours in the future")
	}
	return out, nil
}

// ensureStream creates the log stream once (again when again is set); a
// stream that already exists is fine.
func (f *Forwarder) ensureStream(ctx context.Context, again bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.created && !again {
		return nil
	}
	_, err := f.client.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(f.group), LogStreamName: aws.String(f.stream)})
	var exists *types.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create log stream %s/%s: %w", f.group, f.stream, err)
	}
	if err == nil {
		f.logger.Info("cloudwatch logs: created log stream", "group", f.group, "stream", f.stream)
	}
	f.created = true
	return nil
}
