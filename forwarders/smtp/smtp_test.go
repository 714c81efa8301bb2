package smtp_test

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/internal/testpki"
	"github.com/saker-sec/saker/forwarders/smtp"
	"github.com/saker-sec/saker/hub/alert"
)

// received is one mail the server accepted.
type received struct {
	from string
	to   []string
	data string
	tls  bool
	user string
}

// server is an in-process go-smtp server on loopback: STARTTLS with the
// test PKI's certificate (unless plain), AUTH PLAIN only over TLS, and
// programmable refusals.
type server struct {
	addr string
	pki  *testpki.PKI
	mu   sync.Mutex
	got  []received
	// rcptErr and dataErr, when set, answer RCPT TO and DATA.
	rcptErr, dataErr *gosmtp.SMTPError
}

func newServer(t *testing.T, withTLS bool) *server {
	s := &server{pki: testpki.New(t)}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if withTLS {
		srv.TLSConfig = s.pki.ServerTLS(false)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	// go-smtp's Close closes only the listeners Serve has registered: a
	// cleanup that ran before the Serve goroutine got that far left it in
	// Accept forever (a CI run hung 7 minutes here). Close ln as well.
	t.Cleanup(func() { srv.Close(); ln.Close(); <-done })
	return s
}

func (s *server) mails() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

type session struct {
	s    *server
	conn *gosmtp.Conn
	user string
	cur  received
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "falco" || pass != "s3cret" {
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	_, isTLS := ss.conn.TLSConnectionState()
	ss.cur = received{from: from, tls: isTLS, user: ss.user}
	return nil
}

func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.s.mu.Lock()
	err := ss.s.rcptErr
	ss.s.mu.Unlock()
	if err != nil {
		return err
	}
	ss.cur.to = append(ss.cur.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.dataErr != nil {
		return ss.s.dataErr
	}
	ss.cur.data = string(b)
	ss.s.got = append(ss.s.got, ss.cur)
	return nil
}

func (ss *session) Reset()        {}
func (ss *session) Logout() error { return nil }

func forwarder(t *testing.T, s *server, env map[string]string) *smtp.Forwarder {
	t.Helper()
	env["SMTP_HOSTPORT"] = s.addr
	if env["SMTP_FROM"] == "" {
		env["SMTP_FROM"], env["SMTP_TO"] = "Falco <falco@example.com>", "sec@example.com, Ops Team <ops@example.com>"
	}
	src := testpeer.Env(env)
	cfg, ok := smtp.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := smtp.New(cfg, outhttp.Options{TLS: settings.TLS{CACertFile: filepath.Join(s.pki.Dir, "ca.crt")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// parts decodes a received message: its header and each MIME part by
// content type, quoted-printable decoded.
func parts(t *testing.T, data string) (*mail.Message, map[string]string) {
	t.Helper()
	if strings.Contains(strings.ReplaceAll(data, "\r\n", ""), "\n") {
		t.Fatal("message has bare LF line ends")
	}
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ct, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "multipart/alternative" {
		b, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
		out[ct] = string(b)
		return m, out
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return m, out
		}
		if err != nil {
			t.Fatal(err)
		}
		pct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Fatalf("part %s not quoted-printable", pct)
		}
		b, _ := io.ReadAll(quotedprintable.NewReader(p))
		out[pct] = string(b)
	}
}

func TestSTARTTLSAuthHTML(t *testing.T) {
	s := newServer(t, true)
	f := forwarder(t, s, map[string]string{"SMTP_USER": "falco", "SMTP_PASSWORD": "s3cret"})
	a := testpeer.Sample()
	a.Output = "Shell <script>alert(1)</script> in container (user=root) é"
	b := testpeer.Sample()
	b.UUID = "second"
	if retry, err := f.Forward(context.Background(), []alert.Alert{a, b}); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	got := s.mails()
	if len(got) != 2 {
		t.Fatalf("%d mails, want 2 (one per alert)", len(got))
	}
	m0 := got[0]
	if !m0.tls || m0.user != "falco" || m0.from != "falco@example.com" || strings.Join(m0.to, ",") != "sec@example.com,ops@example.com" {
		t.Fatalf("envelope %+v; want TLS, authenticated, bare addresses", m0)
	}
	msg, body := parts(t, m0.data)
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subj != "[Warning] "+a.Output {
		t.Fatalf("Subject %q (%v)", subj, err)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(a.Time.Truncate(time.Second)) {
		t.Fatalf("Date %v (%v); want the alert's time", d, err)
	}
	if msg.Header.Get("Message-ID") != "<"+a.UUID+"@saker>" || msg.Header.Get("From") != `"Falco" <falco@example.com>` {
		t.Fatalf("header %v", msg.Header)
	}
	html, text := body["text/html"], body["text/plain"]
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "k8s.pod.name") {
		t.Fatalf("html part not escaped or incomplete:\n%s", html)
	}
	for _, want := range []string{"Rule:     Terminal shell in container", "Hostname: node-1", "k8s.ns.name: prod", "container.image.tag: <NA>", "Tags:     T1059, container, shell"} {
		if !strings.Contains(text, want) {
			t.Fatalf("text part lacks %q:\n%s", want, text)
		}
	}
}

func TestTextOnlyWithoutTLSOrAuth(t *testing.T) {
	s := newServer(t, false)
	f := forwarder(t, s, map[string]string{"SMTP_TLS": "false", "SMTP_OUTPUTFORMAT": "text"})
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err != nil {
		t.Fatal(err)
	}
	m := s.mails()[0]
	_, body := parts(t, m.data)
	if m.tls || m.user != "" || len(body) != 1 || !strings.Contains(body["text/plain"], "proc.name: bash") {
		t.Fatalf("mail %+v body %v; want one text/plain part, no TLS, no AUTH", m, body)
	}
}

func TestFailures(t *testing.T) {
	for _, tt := range []struct {
		name      string
		withTLS   bool
		env       map[string]string
		rcpt, dat *gosmtp.SMTPError
		wantRetry bool
		wantErr   string
	}{
		{name: "bad password", withTLS: true, env: map[string]string{"SMTP_USER": "falco", "SMTP_PASSWORD": "nope"}, wantErr: "535"},
		{name: "unknown recipient", withTLS: true, rcpt: &gosmtp.SMTPError{Code: 550, Message: "no such user"}, wantErr: "550"},
		{name: "greylisted", withTLS: true, dat: &gosmtp.SMTPError{Code: 451, Message: "try again later"}, wantRetry: true, wantErr: "451"},
		{name: "no STARTTLS", withTLS: false, wantErr: "SMTP_TLS=false"},
		{name: "untrusted certificate", withTLS: true, wantErr: "certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.withTLS)
			s.rcptErr, s.dataErr = tt.rcpt, tt.dat
			if tt.env == nil {
				tt.env = map[string]string{}
			}
			var f *smtp.Forwarder
			if tt.name == "untrusted certificate" {
				// Without TLSCLIENT_CACERTFILE the test CA is unknown.
				var err error
				cfg, _ := smtp.Load(testpeer.Env(map[string]string{"SMTP_HOSTPORT": s.addr, "SMTP_FROM": "a@b.c", "SMTP_TO": "d@e.f"}))
				if f, err = smtp.New(cfg, outhttp.Options{}, nil); err != nil {
					t.Fatal(err)
				}
			} else {
				f = forwarder(t, s, tt.env)
			}
			retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample(), testpeer.Sample()})
			if err == nil || retry != tt.wantRetry || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Forward = %v, %v; want an error with %q, retry %v", retry, err, tt.wantErr, tt.wantRetry)
			}
			if len(s.mails()) != 0 {
				t.Fatalf("%d mails accepted", len(s.mails()))
			}
		})
	}
}

func TestDownIsRetryable(t *testing.T) {
	s := newServer(t, true)
	f := forwarder(t, s, map[string]string{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := smtp.Load(testpeer.Env(map[string]string{"SMTP_HOSTPORT": ln.Addr().String(), "SMTP_FROM": "a@b.c", "SMTP_TO": "d@e.f"}))
	ln.Close()
	if f, err = smtp.New(cfg, outhttp.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err == nil || !retry {
		t.Fatalf("Forward = %v, %v; want a retryable error", retry, err)
	}
}

func TestLoad(t *testing.T) {
	src := testpeer.Env(map[string]string{"SMTP_HOSTPORT": "mail:587", "SMTP_FROM": "falco@example.com"})
	if _, ok := smtp.Load(src); ok || src.Err() != nil || len(src.Warnings()) != 1 {
		t.Fatalf("without SMTP_TO: enabled %v, %v, %v; want off with a warning (falcosidekick starts without it)", ok, src.Err(), src.Warnings())
	}
	src = testpeer.Env(map[string]string{"SMTP_HOSTPORT": "mail:587", "SMTP_FROM": "falco@example.com", "SMTP_TO": "a@example.com", "SMTP_AUTHMECHANISM": "login"})
	cfg, ok := smtp.Load(src)
	if !ok || src.Err() != nil || !cfg.TLS || cfg.AuthMechanism != "plain" || cfg.OutputFormat != "html" || len(src.Warnings()) != 1 {
		t.Fatalf("Load = %+v, %v, %v, %v; want defaults and a warning for the unknown mechanism", cfg, ok, src.Err(), src.Warnings())
	}
	for _, bad := range []map[string]string{
		{"SMTP_HOSTPORT": "mail", "SMTP_FROM": "falco@example.com", "SMTP_TO": "a@example.com"},
		{"SMTP_HOSTPORT": "mail:25", "SMTP_FROM": "not an address", "SMTP_TO": "a@example.com"},
	} {
		src := testpeer.Env(bad)
		if _, ok := smtp.Load(src); !ok || src.Err() == nil {
			t.Errorf("%v: want a start-up error", bad)
		}
	}
}

func TestLongSubjectStaysOneShortLine(t *testing.T) {
	a := testpeer.Sample()
	a.Output = strings.Repeat("very long output ", 200)
	msg, err := smtp.Message(&a, &mail.Address{Address: "a@b.c"}, []*mail.Address{{Address: "d@e.f"}}, "html")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(msg, "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line of %d bytes", len(line))
		}
	}
	m, _ := mail.ReadMessage(strings.NewReader(msg))
	if s := m.Header.Get("Subject"); len(s) > 200 || !strings.HasSuffix(s, "...") {
		t.Fatalf("Subject %q", s)
	}
}
