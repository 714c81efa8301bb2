package forwarders_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/saker-sec/saker/forwarders/forwardertest"
	"github.com/saker-sec/saker/forwarders/internal/awspeer"
	"github.com/saker-sec/saker/forwarders/internal/testpki"
)

// benchRegion signs every AWS request of the benchmarks; the sinks check it.
const benchRegion = "us-east-1"

// awsEnv points an AWS output at a sink with the test credentials.
func awsEnv(vars map[string]string) map[string]string {
	vars["AWS_REGION"] = benchRegion
	return awspeer.Env(vars)
}

// awsOutputs are the AWS outputs, each against a loopback sink that checks
// the documented request (protocol, target, SigV4 scope) and answers as
// the service does.
var awsOutputs = []benchOutput{
	{name: "awss3", count: func(r *http.Request, _ []byte) (int, error) {
		if err := awspeer.CheckSigV4(r, "s3", benchRegion); err != nil {
			return 0, err
		}
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/falco/falco/") {
			return 0, fmt.Errorf("%s %s is not a PutObject to bucket falco", r.Method, r.URL.Path)
		}
		return 1, nil
	}, env: func(url string) map[string]string {
		return awsEnv(map[string]string{"AWS_S3_BUCKET": "falco", "AWS_S3_ENDPOINT": url})
	}},
	{name: "awssqs", count: func(r *http.Request, body []byte) (int, error) {
		b, err := awspeer.ParseSQSBatch(r, body, benchRegion)
		return len(b.Entries), err
	}, reply: func(r *http.Request, body []byte) []byte {
		b, _ := awspeer.ParseSQSBatch(r, body, benchRegion)
		return awspeer.SQSReply(b, nil)
	}, env: func(url string) map[string]string {
		return awsEnv(map[string]string{"AWS_SQS_URL": url + "/123456789012/falco"})
	}},
	{name: "awssns", count: func(r *http.Request, body []byte) (int, error) {
		b, err := awspeer.ParseSNSBatch(r, body, benchRegion)
		return len(b.Entries), err
	}, reply: func(r *http.Request, body []byte) []byte {
		b, _ := awspeer.ParseSNSBatch(r, body, benchRegion)
		return awspeer.SNSReply(b, nil)
	}, env: func(url string) map[string]string {
		return awsEnv(map[string]string{"AWS_SNS_TOPICARN": "arn:aws:sns:us-east-1:123456789012:falco", "AWS_SNS_ENDPOINT": url})
	}},
	{name: "awscloudwatchlogs", count: func(r *http.Request, body []byte) (int, error) {
		op, err := awspeer.LogsTarget(r, benchRegion)
		if err != nil || op == "CreateLogStream" {
			return 0, err
		}
		p, err := awspeer.ParsePutLogEvents(body)
		return len(p.LogEvents), err
	}, reply: func(*http.Request, []byte) []byte { return []byte("{}") },
		env: func(url string) map[string]string {
			return awsEnv(map[string]string{"AWS_CLOUDWATCHLOGS_LOGGROUP": "falco", "AWS_CLOUDWATCHLOGS_LOGSTREAM": "bench", "AWS_CLOUDWATCHLOGS_ENDPOINT": url})
		}},
}

// BenchmarkThroughputAWS drains stored alerts to each AWS output's
// loopback sink: alerts/s with the output's default settings.
func BenchmarkThroughputAWS(b *testing.B) {
	for _, o := range awsOutputs {
		b.Run(o.name, func(b *testing.B) {
			s := o.sink(b)
			forwardertest.Throughput(b, o.target(b, s), s)
		})
	}
}

// BenchmarkOutageDrainAWS is BenchmarkOutageDrain for S3 (one upload per
// alert) and SQS (batches of 10): 200 alerts/s while the sink is down for
// 60 s (SAKER_BENCH_OUTAGE), then how long the backlog takes to arrive.
func BenchmarkOutageDrainAWS(b *testing.B) {
	outage := forwardertest.OutageDuration(b)
	for _, o := range awsOutputs[:2] {
		b.Run(o.name, func(b *testing.B) {
			s := o.sink(b)
			forwardertest.OutageDrain(b, o.target(b, s), s, 200, outage)
		})
	}
}

// smtpPeer is an in-process go-smtp server offering STARTTLS and counting
// the messages it accepts (throughput only).
type smtpPeer struct {
	counter
	addr string
}

func newSMTPPeer(b *testing.B) *smtpPeer {
	p := &smtpPeer{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &smtpCount{p: p}, nil }))
	srv.Domain, srv.TLSConfig = "localhost", testpki.New(b).ServerTLS(false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	b.Cleanup(func() { srv.Close(); <-done })
	return p
}

type smtpCount struct{ p *smtpPeer }

func (s *smtpCount) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpCount) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(string, string, string) error { return nil }), nil
}
func (s *smtpCount) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *smtpCount) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *smtpCount) Reset()                                 {}
func (s *smtpCount) Logout() error                          { return nil }
func (s *smtpCount) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.p.n.Add(1)
	return nil
}

// BenchmarkThroughputSMTP drains stored alerts as emails (HTML, STARTTLS,
// AUTH PLAIN) to an in-process go-smtp server.
func BenchmarkThroughputSMTP(b *testing.B) {
	p := newSMTPPeer(b)
	forwardertest.Throughput(b, targetFromEnv(b, map[string]string{
		"SMTP_HOSTPORT": p.addr, "SMTP_FROM": "falco@example.com", "SMTP_TO": "sec@example.com",
		"SMTP_USER": "falco", "SMTP_PASSWORD": "x", "SMTP_CHECKCERT": "false",
	}), p)
}
