package awss3_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/saker-sec/saker/forwarders/awss3"
	"github.com/saker-sec/saker/forwarders/internal/awspeer"
	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

// server is gofakes3, an S3-compatible server, on loopback behind a
// front that checks the SigV4 scope and can answer 503 SlowDown (S3's
// throttling) to the next requests.
type server struct {
	*httptest.Server
	backend  *s3mem.Backend
	slowDown atomic.Int32
	badSig   atomic.Value
}

func newServer(t *testing.T, buckets ...string) *server {
	s := &server{backend: s3mem.New()}
	for _, b := range buckets {
		if err := s.backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	s3 := gofakes3.New(s.backend).Server()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := awspeer.CheckSigV4(r, "s3", "eu-north-1"); err != nil {
			s.badSig.Store(err.Error())
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		if s.slowDown.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		s3.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// objects returns the bucket's objects, key → body.
func (s *server) objects(t *testing.T, bucket string) map[string]string {
	t.Helper()
	list, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range list.Contents {
		obj, err := s.backend.GetObject(bucket, c.Key, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		out[c.Key] = string(b)
	}
	return out
}

func forwarder(t *testing.T, s *server, env map[string]string) *awss3.Forwarder {
	t.Helper()
	env["AWS_REGION"], env["AWS_S3_ENDPOINT"] = "eu-north-1", s.URL
	return awspeer.Build(t, env, awss3.Load, awss3.New)
}

func alerts(n int) []alert.Alert {
	out := make([]alert.Alert, n)
	for i := range out {
		out[i] = testpeer.Sample()
		out[i].UUID = "uuid-" + string(rune('a'+i))
	}
	return out
}

func TestObjectsInBucket(t *testing.T) {
	s := newServer(t, "falco-alerts")
	f := forwarder(t, s, map[string]string{"AWS_S3_BUCKET": "falco-alerts"})
	in := alerts(20)
	if retry, err := f.Forward(context.Background(), in); err != nil {
		t.Fatalf("Forward = %v, %v (%v)", retry, err, s.badSig.Load())
	}
	got := s.objects(t, "falco-alerts")
	if len(got) != 20 {
		t.Fatalf("%d objects, want 20", len(got))
	}
	key := "falco/2026-11-23/2026-11-23T09:00:00.123456789Z_uuid-c.json"
	want, _ := json.Marshal(&in[2])
	if f.Key(&in[2]) != key || got[key] != string(want) {
		t.Fatalf("object %s = %q; want the Falco payload %s", key, got[key], want)
	}
	// A redelivery overwrites the same objects.
	if _, err := f.Forward(context.Background(), in[:5]); err != nil {
		t.Fatal(err)
	}
	if n := len(s.objects(t, "falco-alerts")); n != 20 {
		t.Fatalf("after redelivery %d objects, want still 20", n)
	}
}

func TestPrefixAndACL(t *testing.T) {
	s := newServer(t, "b")
	f := forwarder(t, s, map[string]string{"AWS_S3_BUCKET": "b", "AWS_S3_PREFIX": "alerts/falco", "AWS_S3_OBJECTCANNEDACL": "private"})
	in := alerts(1)
	if _, err := f.Forward(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.objects(t, "b")["alerts/falco/2026-11-23/2026-11-23T09:00:00.123456789Z_uuid-a.json"]; !ok {
		t.Fatalf("objects %v; want the key under AWS_S3_PREFIX", s.objects(t, "b"))
	}
}

func TestSlowDownIsRetriedMissingBucketIsNot(t *testing.T) {
	s := newServer(t, "b")
	f := forwarder(t, s, map[string]string{"AWS_S3_BUCKET": "b"})
	s.slowDown.Store(1)
	retry, err := f.Forward(context.Background(), alerts(1))
	if err == nil || !retry || !strings.Contains(err.Error(), "SlowDown") {
		t.Fatalf("503 SlowDown: Forward = %v, %v; want a retryable error", retry, err)
	}
	f = forwarder(t, s, map[string]string{"AWS_S3_BUCKET": "missing"})
	retry, err = f.Forward(context.Background(), alerts(1))
	if err == nil || retry || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("missing bucket: Forward = %v, %v; want a final error", retry, err)
	}
}

func TestPartialFailure(t *testing.T) {
	s := newServer(t, "b")
	f := forwarder(t, s, map[string]string{"AWS_S3_BUCKET": "b"})
	s.slowDown.Store(2)
	retry, err := f.Forward(context.Background(), alerts(5))
	var pe *batch.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 2 || !retry {
		t.Fatalf("Forward = %v, %v; want 2 retryable failures", retry, err)
	}
	if n := len(s.objects(t, "b")); n != 3 {
		t.Fatalf("%d objects stored, want the 3 others", n)
	}
}

func TestDownIsRetryable(t *testing.T) {
	s := newServer(t, "b")
	f := forwarder(t, s, map[string]string{"AWS_S3_BUCKET": "b"})
	s.Close()
	if retry, err := f.Forward(context.Background(), alerts(2)); err == nil || !retry {
		t.Fatalf("Forward = %v, %v; want a retryable error", retry, err)
	}
}

func TestLoad(t *testing.T) {
	src := testpeer.Env(map[string]string{"AWS_S3_BUCKET": "b", "AWS_S3_OBJECTCANNEDACL": "public"})
	cfg, ok := awss3.Load(src)
	if !ok || src.Err() != nil || cfg.Prefix != "falco" || cfg.ObjectCannedACL != "bucket-owner-full-control" || cfg.Endpoint != "" || len(src.Warnings()) != 1 {
		t.Fatalf("Load = %+v, %v, %v, warnings %v; want the defaults and a warning for the unknown ACL", cfg, ok, src.Err(), src.Warnings())
	}
	src = testpeer.Env(map[string]string{"AWS_S3_BUCKET": "b", "AWS_S3_ENDPOINT": "minio:9000"})
	if _, ok := awss3.Load(src); !ok || src.Err() == nil {
		t.Fatal("an endpoint without a scheme must stop start-up")
	}
}
