// Package awsconf is what the AWS outputs (S3, SQS, SNS, CloudWatch Logs)
// share: falcosidekick's AWS_* credential settings, the SDK configuration
// built from them (static keys, an assumed role, or the SDK's default
// chain), and the one place where an AWS error becomes a retry decision.
package awsconf

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Credentials are falcosidekick's shared AWS settings (aws.*).
type Credentials struct {
	AccessKeyID     string // AWS_ACCESSKEYID
	SecretAccessKey string // AWS_SECRETACCESSKEY
	Region          string // AWS_REGION
	RoleARN         string // AWS_ROLEARN: role assumed with STS
	ExternalID      string // AWS_EXTERNALID: external id for RoleARN
	// CheckIdentity asks STS who the credentials are at start-up and logs
	// the answer (AWS_CHECKIDENTITY, true). falcosidekick disables the
	// output when the check fails; Saker logs an error and keeps the
	// output, whose deliveries are retried and dead-lettered as usual.
	CheckIdentity bool
}

// Load reads the aws.* settings every AWS output shares.
func Load(src *settings.Source) Credentials {
	c := Credentials{
		AccessKeyID:     src.String("aws.accesskeyid", ""),
		SecretAccessKey: src.Secret("aws.secretaccesskey", ""),
		Region:          src.String("aws.region", ""),
		RoleARN:         src.String("aws.rolearn", ""),
		ExternalID:      src.String("aws.externalid", ""),
		CheckIdentity:   src.Bool("aws.checkidentity", true),
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		src.Errorf("aws.accesskeyid", "AWS_ACCESSKEYID and AWS_SECRETACCESSKEY go together (set both, or neither to use the SDK's default chain)")
	}
	return c
}

// Endpoint reads an output's endpoint override (a LocalStack or MinIO
// URL); "" means AWS's own endpoint for the region.
func Endpoint(src *settings.Source, key string) string {
	raw := src.String(key, "")
	if raw == "" {
		return ""
	}
	if src.URL(key, raw) == nil {
		return ""
	}
	return strings.TrimRight(raw, "/")
}

// Options are what one output adds to the shared Credentials.
type Options struct {
	// Region is used when Credentials.Region is empty (derived from a
	// queue URL or a topic ARN).
	Region string
	// Endpoint overrides the service endpoint ("" = AWS's).
	Endpoint string
	Common   settings.Common
	HTTP     outhttp.Options
}

// Config builds the SDK configuration: the region, credentials (static
// keys, else the SDK's default chain: environment, shared files, web
// identity, container and instance roles), optionally an assumed role,
// and an HTTP client with the output's TLS settings. The SDK does not
// retry: the dispatcher owns retries, backoff and dead letters.
func Config(ctx context.Context, creds Credentials, o Options, logger *slog.Logger) (aws.Config, error) {
	o.HTTP.CheckCert, o.HTTP.MutualTLS = o.Common.CheckCert, o.Common.MutualTLS
	client, err := outhttp.NewClient(o.HTTP)
	if err != nil {
		return aws.Config{}, err
	}
	region := creds.Region
	if region == "" {
		region = o.Region
	}
	if region == "" && o.Endpoint != "" {
		region = "us-east-1" // a local endpoint still needs a signing region
	}
	// The SDK's own client type, so that it can add AWS_CA_BUNDLE to the
	// trusted CAs; its transport is the one outhttp built.
	base := client.Transport.(*http.Transport)
	sdkClient := awshttp.NewBuildableClient().WithTimeout(client.Timeout).WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy, tr.DialContext = base.Proxy, base.DialContext
		// S3 uploads run 8 at a time; keep their connections.
		tr.MaxIdleConnsPerHost = 16
		tr.TLSClientConfig = base.TLSClientConfig.Clone()
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(sdkClient),
		config.WithRetryMaxAttempts(1),
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	} else {
		// falcosidekick: "by default, the metadata are used to get it".
		opts = append(opts, config.WithEC2IMDSRegion())
	}
	if creds.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("AWS region unknown: set AWS_REGION")
	}
	// With a local endpoint (LocalStack, MinIO) STS is asked there too.
	stsFor := func(cfg aws.Config) *sts.Client {
		return sts.NewFromConfig(cfg, func(so *sts.Options) {
			if o.Endpoint != "" {
				so.BaseEndpoint = aws.String(o.Endpoint)
			}
		})
	}
	if creds.RoleARN != "" {
		provider := stscreds.NewAssumeRoleProvider(stsFor(cfg), creds.RoleARN, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = "saker"
			if creds.ExternalID != "" {
				ao.ExternalID = aws.String(creds.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	if creds.CheckIdentity && logger != nil {
		go checkIdentity(stsFor(cfg), logger)
	}
	return cfg, nil
}

// checkIdentity logs who the credentials are, or why they do not work.
func checkIdentity(client *sts.Client, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		logger.Error("AWS credentials check failed; deliveries will fail until they work (AWS_CHECKIDENTITY=false skips this check)", "err", err)
		return
	}
	logger.Info("AWS credentials", "arn", aws.ToString(out.Arn))
}

// RegionFromHost returns the region of an AWS host name such as
// sqs.eu-west-1.amazonaws.com ("" when it is not one).
func RegionFromHost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[2] == "amazonaws" { // sqs.REGION.amazonaws.com[.cn]
		return parts[1]
	}
	return ""
}

// RegionFromARN returns the region field of an ARN
// (arn:aws:sns:us-east-1:123456789012:falco).
func RegionFromARN(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) >= 6 && parts[0] == "arn" {
		return parts[3]
	}
	return ""
}

var (
	retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
	throttles  = retry.IsErrorThrottles(retry.DefaultThrottles)
)

// Retryable says whether an AWS call's error may pass later: throttling,
// 5xx answers, timeouts and connection failures may; a refused request
// (bad parameters, access denied, a missing bucket or queue) or a bad
// certificate will fail again.
func Retryable(err error) bool {
	var certErr *tls.CertificateVerificationError
	var invalid smithy.InvalidParamsError
	if errors.As(err, &certErr) || errors.As(err, &invalid) {
		return false
	}
	if throttles.IsErrorThrottle(err) == aws.TrueTernary || retryables.IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return outhttp.RetryableStatus(re.HTTPStatusCode())
	}
	return true // no answer from the service: a transport or credentials failure
}

// Chunks splits n items of the given encoded sizes into runs of at most
// maxN items and maxBytes bytes (a single larger item is a run of its own,
// for the service to refuse); each run is [start, end).
func Chunks(sizes []int, maxN, maxBytes int) [][2]int {
	var out [][2]int
	start, bytes := 0, 0
	for i, s := range sizes {
		if i > start && (i-start == maxN || bytes+s > maxBytes) {
			out = append(out, [2]int{start, i})
			start, bytes = i, 0
		}
		bytes += s
	}
	if start < len(sizes) {
		out = append(out, [2]int{start, len(sizes)})
	}
	return out
}

// Outcome collects the per-alert results of a batch sent in several
// calls, and turns them into a Forwarder's (retry, err).
type Outcome struct {
	pe batch.PartialError
}

// Fail records that alert i was refused.
func (o *Outcome) Fail(i int, retry bool, err error) {
	o.pe.Failures = append(o.pe.Failures, batch.Failure{Index: i, Retry: retry, Err: err})
}

// FailRun records that the call carrying alerts [start, end) failed.
func (o *Outcome) FailRun(start, end int, err error) {
	retry := Retryable(err)
	for i := start; i < end; i++ {
		o.Fail(i, retry, err)
	}
}

// Skip records that alerts [start, end) were not sent after a failure.
func (o *Outcome) Skip(start, end int, err error) {
	for i := start; i < end; i++ {
		o.pe.Failures = append(o.pe.Failures, batch.Failure{Index: i, Retry: true, Skipped: true, Err: fmt.Errorf("not attempted: %w", err)})
	}
}

// Result is the Forwarder answer for a batch of n alerts: nil when none
// failed, the failure itself for a batch of one, else a PartialError
// (retry when any failure may pass later).
func (o *Outcome) Result(n int) (bool, error) {
	switch {
	case len(o.pe.Failures) == 0:
		return false, nil
	case n == 1:
		return o.pe.Failures[0].Retry, o.pe.Failures[0].Err
	}
	retry := false
	for _, f := range o.pe.Failures {
		retry = retry || f.Retry
	}
	pe := o.pe
	return retry, &pe
}

// DedupID is a deduplication id for SQS and SNS FIFO targets (at most 128
// printable ASCII characters): the alert's uuid, else a hash of its
// payload, so that a redelivery within AWS's 5-minute window is a no-op.
func DedupID(a *alert.Alert, payload string) string {
	if id := a.UUID; id != "" && len(id) <= 128 {
		return id
	}
	sum := sha256.Sum256([]byte(payload))
	return hex.EncodeToString(sum[:])
}

// Refused is one entry a batch API (SendMessageBatch, PublishBatch)
// refused; ID is the entry id, the alert's index in the batch.
type Refused struct {
	ID, Code, Message string
	SenderFault       bool
}

// SendBatches sends the alerts of a Forward call (of the given encoded
// sizes) in runs of at most maxN entries and maxBytes bytes through send,
// which calls the batch API for alerts [start, end) and returns how many
// entries it answered for and which it refused. A failed call fails its
// run and skips the later ones; a refused entry is retried unless the
// service blames the sender.
func SendBatches(ctx context.Context, op string, sizes []int, maxN, maxBytes int,
	send func(ctx context.Context, start, end int) (answered int, refused []Refused, err error),
) (bool, error) {
	var out Outcome
	for _, run := range Chunks(sizes, maxN, maxBytes) {
		answered, refused, err := send(ctx, run[0], run[1])
		if err != nil {
			out.FailRun(run[0], run[1], fmt.Errorf("%s: %w", op, err))
			out.Skip(run[1], len(sizes), err)
			break
		}
		if answered != run[1]-run[0] {
			return true, fmt.Errorf("%s: answer covers %d of %d entries", op, answered, run[1]-run[0])
		}
		for _, r := range refused {
			i, err := strconv.Atoi(r.ID)
			if err != nil || i < run[0] || i >= run[1] {
				return true, fmt.Errorf("%s: answer names unknown entry %q", op, r.ID)
			}
			out.Fail(i, !r.SenderFault, fmt.Errorf("%s refused entry: %s: %s", op, r.Code, r.Message))
		}
	}
	return out.Result(len(sizes))
}
