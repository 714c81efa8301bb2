// Package awssns publishes alerts to an Amazon SNS topic with the AWS SDK
// for Go v2, configured by falcosidekick's AWS_* and AWS_SNS_* settings,
// in falcosidekick's message shape: the alert's output as the message
// with priority, rule, source, tags, hostname and the output fields as
// message attributes, or the Falco JSON payload with AWS_SNS_RAWJSON. A
// batch goes out in PublishBatch calls of up to 10 messages.
package awssns

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/saker-sec/saker/forwarders/internal/awsconf"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// SNS limits for PublishBatch: 10 entries and 256 KiB in all.
const (
	maxEntries = 10
	maxBytes   = 256 << 10
)

// Config is the SNS output's configuration.
type Config struct {
	TopicArn string // AWS_SNS_TOPICARN; enables the output
	RawJSON  bool   // AWS_SNS_RAWJSON (false): send the Falco JSON payload as the message
	// Endpoint is AWS_SNS_ENDPOINT (a Saker addition, as falcosidekick's
	// AWS_S3_ENDPOINT): the API endpoint of LocalStack or another
	// SNS-compatible service.
	Endpoint string
	AWS      awsconf.Credentials
	settings.Common
}

// Load reads the SNS settings; enabled is false without AWS_SNS_TOPICARN.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.TopicArn = src.String("aws.sns.topicarn", "")
	if cfg.TopicArn == "" {
		return cfg, false
	}
	if awsconf.RegionFromARN(cfg.TopicArn) == "" {
		src.Errorf("aws.sns.topicarn", "%q is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", cfg.TopicArn)
	}
	cfg.RawJSON = src.Bool("aws.sns.rawjson", false)
	cfg.Endpoint = awsconf.Endpoint(src, "aws.sns.endpoint")
	cfg.AWS = awsconf.Load(src)
	cfg.Common = src.Common("aws.sns")
	return cfg, true
}

// Forwarder publishes alerts to an SNS topic.
type Forwarder struct {
	client  *sns.Client
	topic   string
	rawJSON bool
	fifo    bool
}

// New builds an SNS forwarder; it does not call AWS (unless
// AWS_CHECKIDENTITY asks STS who the credentials are, in the background).
// Without AWS_REGION the region is the topic ARN's.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	awsCfg, err := awsconf.Config(context.Background(), cfg.AWS, awsconf.Options{
		Region: awsconf.RegionFromARN(cfg.TopicArn), Endpoint: cfg.Endpoint, Common: cfg.Common, HTTP: httpOpts,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("aws sns: %w", err)
	}
	client := sns.NewFromConfig(awsCfg, func(o *sns.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &Forwarder{client: client, topic: cfg.TopicArn, rawJSON: cfg.RawJSON, fifo: strings.HasSuffix(cfg.TopicArn, ".fifo")}, nil
}

// Forward publishes the alerts in batches of up to 10; messages SNS
// refused are reported one by one (retried unless SNS blames the message).
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	entries := make([]types.PublishBatchRequestEntry, len(alerts))
	sizes := make([]int, len(alerts))
	for i := range alerts {
		e, size, err := f.entry(&alerts[i])
		if err != nil {
			return false, err
		}
		e.Id = aws.String(strconv.Itoa(i))
		entries[i], sizes[i] = e, size
	}
	return awsconf.SendBatches(ctx, "sns PublishBatch", sizes, maxEntries, maxBytes, func(ctx context.Context, start, end int) (int, []awsconf.Refused, error) {
		resp, err := f.client.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: aws.String(f.topic), PublishBatchRequestEntries: entries[start:end]})
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

// entry is one alert's message and its approximate size on the wire.
func (f *Forwarder) entry(a *alert.Alert) (types.PublishBatchRequestEntry, int, error) {
	var e types.PublishBatchRequestEntry
	payload, err := json.Marshal(a)
	if err != nil {
		return e, 0, fmt.Errorf("encode alert: %w", err)
	}
	if f.fifo {
		e.MessageGroupId = aws.String("falco")
		e.MessageDeduplicationId = aws.String(awsconf.DedupID(a, string(payload)))
	}
	if f.rawJSON {
		e.Message = aws.String(string(payload))
		return e, len(payload), nil
	}
	e.Message = aws.String(a.Output)
	if a.Output == "" {
		e.Message = aws.String(a.Rule) // SNS refuses an empty message
	}
	e.MessageAttributes = Attributes(a)
	size := len(*e.Message)
	for k, v := range e.MessageAttributes {
		size += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return e, size, nil
}

// Attributes are falcosidekick's SNS message attributes of an alert:
// priority, rule, source, tags (comma-separated), hostname, and each
// string or number output field, named by the field with "[x]" written
// ".x". Two differences keep SNS from refusing the message: an empty
// value is left out, and characters SNS does not allow in a name (such
// as the "/" of a Kubernetes label) become "_".
func Attributes(a *alert.Alert) map[string]types.MessageAttributeValue {
	attrs := map[string]types.MessageAttributeValue{}
	str := func(name, v string) {
		if v != "" {
			attrs[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	str("priority", a.Priority.String())
	str("rule", a.Rule)
	str("source", a.Source)
	str("tags", strings.Join(a.Tags, ","))
	str("hostname", a.Hostname)
	for k, v := range a.OutputFields {
		name := attrName(k)
		if name == "" {
			continue
		}
		switch v := v.(type) {
		case string:
			str(name, v)
		case json.Number:
			attrs[name] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(v.String())}
		case float64, int, int64, uint64:
			attrs[name] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(fmt.Sprint(v))}
		}
	}
	return attrs
}

// attrName turns an output field name into a valid SNS attribute name
// ("" when nothing is left of it).
func attrName(field string) string {
	n := strings.ReplaceAll(strings.ReplaceAll(field, "]", ""), "[", ".")
	n = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, n)
	for strings.Contains(n, "..") {
		n = strings.ReplaceAll(n, "..", ".")
	}
	n = strings.Trim(n, ".")
	if l := strings.ToLower(n); strings.HasPrefix(l, "aws.") || strings.HasPrefix(l, "amazon.") {
		n = "_" + n
	}
	if len(n) > 256 {
		n = n[:256]
	}
	return n
}
