// Package awss3 stores each alert's Falco JSON payload as an object in an
// Amazon S3 (or S3-compatible: MinIO, LocalStack, Ceph) bucket with the
// AWS SDK for Go v2, configured by falcosidekick's AWS_* and AWS_S3_*
// settings.
//
// Keys are <prefix>/<YYYY-MM-DD>/<time>_<uuid>.json, dated by the alert's
// time. falcosidekick uses the send time and no uuid
// (<prefix>/<YYYY-MM-DD>/<time>.json); Saker's key is the same for every
// delivery of an alert, so a redelivery after a lost answer overwrites
// the object instead of storing the alert twice.
package awss3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/saker-sec/saker/forwarders/internal/awsconf"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// parallel bounds the PutObject calls in flight for one batch: S3 takes
// one object per call, so a backlog drains only as fast as calls overlap.
const parallel = 8

// Config is the S3 output's configuration.
type Config struct {
	Bucket string // AWS_S3_BUCKET; enables the output
	Prefix string // AWS_S3_PREFIX (falco)
	// Endpoint is AWS_S3_ENDPOINT: an S3-compatible service's URL. With it,
	// requests use path-style addressing (host/bucket/key), which MinIO and
	// LocalStack expect.
	Endpoint string
	// ObjectCannedACL is AWS_S3_OBJECTCANNEDACL (bucket-owner-full-control);
	// "" sends none (buckets with ACLs disabled accept both).
	ObjectCannedACL string
	AWS             awsconf.Credentials
	settings.Common
}

// Load reads the S3 settings; enabled is false without AWS_S3_BUCKET.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.Bucket = src.String("aws.s3.bucket", "")
	if cfg.Bucket == "" {
		return cfg, false
	}
	cfg.Prefix = src.String("aws.s3.prefix", "falco")
	cfg.Endpoint = awsconf.Endpoint(src, "aws.s3.endpoint")
	acls := []string{""}
	for _, a := range types.ObjectCannedACL("").Values() {
		acls = append(acls, string(a))
	}
	cfg.ObjectCannedACL = src.Enum("aws.s3.objectcannedacl", "bucket-owner-full-control", acls...)
	cfg.AWS = awsconf.Load(src)
	cfg.Common = src.Common("aws.s3")
	return cfg, true
}

// Forwarder stores alerts in an S3 bucket.
type Forwarder struct {
	client *s3.Client
	cfg    Config
}

// New builds an S3 forwarder; it does not call AWS (unless
// AWS_CHECKIDENTITY asks STS who the credentials are, in the background).
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	awsCfg, err := awsconf.Config(context.Background(), cfg.AWS, awsconf.Options{Endpoint: cfg.Endpoint, Common: cfg.Common, HTTP: httpOpts}, logger)
	if err != nil {
		return nil, fmt.Errorf("aws s3: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
	})
	return &Forwarder{client: client, cfg: cfg}, nil
}

// Key is the object key of an alert.
func (f *Forwarder) Key(a *alert.Alert) string {
	t := a.Time.UTC()
	name := t.Format(time.RFC3339Nano)
	if a.UUID != "" {
		name += "_" + a.UUID
	}
	key := t.Format("2006-01-02") + "/" + name + ".json"
	if f.cfg.Prefix != "" {
		key = f.cfg.Prefix + "/" + key
	}
	return key
}

// Forward stores each alert as an object, up to 8 uploads at a time; the
// uploads that failed are reported one by one.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	var (
		out  awsconf.Outcome
		mu   sync.Mutex
		wg   sync.WaitGroup
		sema = make(chan struct{}, parallel)
	)
	for i := range alerts {
		body, err := json.Marshal(&alerts[i])
		if err != nil {
			return false, fmt.Errorf("encode alert: %w", err)
		}
		sema <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sema; wg.Done() }()
			if err := f.put(ctx, f.Key(&alerts[i]), body); err != nil {
				mu.Lock()
				out.Fail(i, awsconf.Retryable(err), err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out.Result(len(alerts))
}

func (f *Forwarder) put(ctx context.Context, key string, body []byte) error {
	in := &s3.PutObjectInput{
		Bucket:      aws.String(f.cfg.Bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
		// Object Lock buckets refuse uploads without an integrity checksum.
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}
	if f.cfg.ObjectCannedACL != "" {
		in.ACL = types.ObjectCannedACL(f.cfg.ObjectCannedACL)
	}
	if _, err := f.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("s3 PutObject %s/%s: %w", f.cfg.Bucket, key, err)
	}
	return nil
}
