// Package awssqs sends each alert's Falco JSON payload as a message to an
// Amazon SQS queue with the AWS SDK for Go v2, configured by
// falcosidekick's AWS_* and AWS_SQS_* settings. A batch goes out in
// SendMessageBatch calls of up to 10 messages (falcosidekick: one
// SendMessage per alert); the messages are the same.
package awssqs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/saker-sec/saker/forwarders/internal/awsconf"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// SQS limits for SendMessageBatch: 10 entries and 256 KiB of bodies.
const (
	maxEntries = 10
	maxBytes   = 256 << 10
)

// Config is the SQS output's configuration.
type Config struct {
	URL string // AWS_SQS_URL: the queue URL; enables the output
	// Endpoint is AWS_SQS_ENDPOINT (a Saker addition, as falcosidekick's
	// AWS_S3_ENDPOINT): the API endpoint for LocalStack or another
	// SQS-compatible service. When empty and the queue URL is not on
	// amazonaws.com, the queue URL's scheme and host are used.
	Endpoint string
	AWS      awsconf.Credentials
	settings.Common
}

// Load reads the SQS settings; enabled is false without AWS_SQS_URL.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.URL = src.String("aws.sqs.url", "")
	if cfg.URL == "" {
		return cfg, false
	}
	u := src.URL("aws.sqs.url", cfg.URL)
	cfg.AWS = awsconf.Load(src)
	cfg.Endpoint = awsconf.Endpoint(src, "aws.sqs.endpoint")
	if cfg.Endpoint == "" && u != nil && !strings.HasSuffix(u.Hostname(), ".amazonaws.com") {
		cfg.Endpoint = u.Scheme + "://" + u.Host
	}
	cfg.Common = src.Common("aws.sqs")
	return cfg, true
}

// Forwarder sends alerts to an SQS queue.
type Forwarder struct {
	client *sqs.Client
	url    string
	fifo   bool
}

// New builds an SQS forwarder; it does not call AWS (unless
// AWS_CHECKIDENTITY asks STS who the credentials are, in the background).
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	awsCfg, err := awsconf.Config(context.Background(), cfg.AWS, awsconf.Options{
		Region: awsconf.RegionFromHost(cfg.URL), Endpoint: cfg.Endpoint, Common: cfg.Common, HTTP: httpOpts,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("aws sqs: %w", err)
	}
	client := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	u, _ := url.Parse(cfg.URL)
	return &Forwarder{client: client, url: cfg.URL, fifo: u != nil && strings.HasSuffix(u.Path, ".fifo")}, nil
}

// Forward sends the alerts in batches of up to 10; messages SQS refused
// are reported one by one (retried unless SQS blames the message).
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	bodies := make([]string, len(alerts))
	sizes := make([]int, len(alerts))
	for i := range alerts {
		b, err := json.Marshal(&alerts[i])
		if err != nil {
			return false, fmt.Errorf("encode alert: %w", err)
		}
		bodies[i], sizes[i] = string(b), len(b)
	}
	return awsconf.SendBatches(ctx, "sqs SendMessageBatch", sizes, maxEntries, maxBytes, func(ctx context.Context, start, end int) (int, []awsconf.Refused, error) {
		entries := make([]types.SendMessageBatchRequestEntry, 0, end-start)
		for i := start; i < end; i++ {
			e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(bodies[i])}
			if f.fifo {
				// FIFO queues need a group; the uuid as deduplication id
				// makes a redelivery within SQS's 5-minute window a no-op.
				e.MessageGroupId = aws.String("falco")
				e.MessageDeduplicationId = aws.String(awsconf.DedupID(&alerts[i], bodies[i]))
			}
			entries = append(entries, e)
		}
		resp, err := f.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(f.url), Entries: entries})
		if err != nil {
			return 0, nil, err
		}
		refused := make([]awsconf.Refused, len(resp.Failed))
		for i, fl := range resp.Failed {
			refused[i] = awsconf.Refused{ID: aws.ToString(fl.Id), Code: aws.ToString(fl.Code), Message: aws.ToString(fl.Message), SenderFault: fl.SenderFault}
		}
		return len(resp.Successful) + len(resp.Failed), refused, nil
	})
}
