package output

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/saker-sec/saker/hub/alert"
)

// HTTP delivery modes.
const (
	// ModeAuto posts batches to the hub's batch route and falls back to
	// one POST per alert when the peer has no such route (falcosidekick).
	ModeAuto = "auto"
	// ModeBatch only uses POST /api/v1/events.
	ModeBatch = "batch"
	// ModeSingle posts each alert to the configured URL (Falco's
	// http_output behaviour, what falcosidekick expects).
	ModeSingle = "single"
)

// BatchPath is the hub's batch ingestion route.
const BatchPath = "/api/v1/events"

// HTTPOptions configure http_output. URL and UserAgent are Falco's keys;
// the rest bound batching, retries and buffering.
type HTTPOptions struct {
	URL       string // http_output.url: the hub or falcosidekick ("http://hub:2801/")
	UserAgent string // http_output.user_agent (default "saker-sensor")
	Mode      string // ModeAuto (default), ModeBatch or ModeSingle

	BatchSize int           // alerts per batch request (default 500)
	Timeout   time.Duration // per request (default 10s)

	// MinBackoff and MaxBackoff bound the exponential retry delay (with
	// full jitter); defaults 200ms and 30s.
	MinBackoff, MaxBackoff time.Duration

	// MemoryBuffer bounds the alerts held in memory (default 10000).
	// Beyond it alerts go to the spool, or are dropped without one.
	MemoryBuffer int
	// SpoolDir enables the on-disk spool: alerts that do not fit in memory
	// while the peer is down, and those still undelivered at Close, are
	// written there and sent (oldest first) once it is back — also after a
	// restart. Empty disables it.
	SpoolDir string
	// SpoolMaxBytes bounds the spool (default 512 MiB); past it new
	// alerts are dropped and counted.
	SpoolMaxBytes int64
	// SegmentAlerts is the number of alerts per spool file (default 1000).
	SegmentAlerts int

	// Insecure skips TLS certificate verification (http_output.insecure).
	Insecure bool
	// CACertFile is a PEM bundle trusted for https URLs
	// (http_output.ca_cert); empty uses the system pool.
	CACertFile string

	// Client overrides the HTTP client (tests); TLS options are then ignored.
	Client *http.Client
}

// HTTPStats are the HTTP sink's counters.
type HTTPStats struct {
	Sent     uint64 // alerts acknowledged by the peer
	Retries  uint64 // failed attempts that will be retried
	Rejected uint64 // alerts the peer refused as invalid (4xx), dropped
	Dropped  uint64 // alerts lost to full buffers
	Spooled  uint64 // alerts ever written to the spool
	InMemory int    // alerts waiting in memory
	OnDisk   int    // alerts waiting in the spool
	Single   bool   // per-alert mode in use (falcosidekick peer)
	LastErr  string
}

// HTTPSink delivers alerts to the hub (or falcosidekick) in order, with
// batching, retries and a memory + disk buffer.
type HTTPSink struct {
	o         HTTPOptions
	batchURL  string
	singleURL string
	client    *http.Client

	mu    sync.Mutex
	mem   []alert.Alert
	spool *spool

	// backoff is the retry delay bound; the run goroutine's alone.
	backoff time.Duration

	wake    chan struct{}
	closing chan struct{}
	runCtx  context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	closed  atomic.Bool

	single                                    atomic.Bool
	sent, retries, rejected, dropped, spooled atomic.Uint64
	lastErr                                   atomic.Pointer[string]
}

// NewHTTP validates the options, opens the spool (delivering what a
// previous run left there) and starts the delivery goroutine.
func NewHTTP(o HTTPOptions) (*HTTPSink, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("http_output: invalid url %q", o.URL)
	}
	if o.UserAgent == "" {
		o.UserAgent = "saker-sensor"
	}
	switch o.Mode {
	case "":
		o.Mode = ModeAuto
	case ModeAuto, ModeBatch, ModeSingle:
	default:
		return nil, fmt.Errorf("http_output: unknown mode %q (want auto, batch or single)", o.Mode)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.MemoryBuffer <= 0 {
		o.MemoryBuffer = 10000
	}
	if o.SpoolMaxBytes <= 0 {
		o.SpoolMaxBytes = 512 << 20
	}
	if o.SegmentAlerts <= 0 {
		o.SegmentAlerts = 1000
	}
	s := &HTTPSink{o: o, singleURL: o.URL, client: o.Client,
		wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	s.batchURL = u.ResolveReference(&url.URL{Path: BatchPath}).String()
	if s.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if o.Insecure || o.CACertFile != "" {
			tc := &tls.Config{InsecureSkipVerify: o.Insecure} //nolint:gosec // the user asked for it (http_output.insecure)
			if o.CACertFile != "" {
				pem, err := os.ReadFile(o.CACertFile)
				if err != nil {
					return nil, fmt.Errorf("http_output: ca_cert: %w", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("http_output: ca_cert %s: no PEM certificates", o.CACertFile)
				}
				tc.RootCAs = pool
			}
			tr.TLSClientConfig = tc
		}
		s.client = &http.Client{Timeout: o.Timeout, Transport: tr}
	}
	s.single.Store(o.Mode == ModeSingle)
	if o.SpoolDir != "" {
		sp, err := openSpool(o.SpoolDir, o.SpoolMaxBytes, o.SegmentAlerts)
		if err != nil {
			return nil, fmt.Errorf("http_output: %w", err)
		}
		s.spool = sp
	}
	s.runCtx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Enqueue queues an alert for delivery without blocking. Alerts without a
// uuid get one, so that retries are idempotent at the hub.
func (s *HTTPSink) Enqueue(a *alert.Alert) {
	c := *a
	if c.UUID == "" {
		c.UUID = uuid.NewString()
	}
	s.mu.Lock()
	switch {
	case s.closed.Load():
		s.dropped.Add(1)
	case s.spool != nil && (s.spool.pending() > 0 || len(s.mem) >= s.o.MemoryBuffer):
		// Once alerts spill to disk, later ones follow them there so
		// delivery stays in order.
		if err := s.spool.append(&c); err != nil {
			s.dropped.Add(1)
			s.setErr(err)
		} else {
			s.spooled.Add(1)
		}
	case len(s.mem) >= s.o.MemoryBuffer:
		s.dropped.Add(1)
	default:
		s.mem = append(s.mem, c)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats returns the sink's counters.
func (s *HTTPSink) Stats() HTTPStats {
	st := HTTPStats{Sent: s.sent.Load(), Retries: s.retries.Load(), Rejected: s.rejected.Load(),
		Dropped: s.dropped.Load(), Spooled: s.spooled.Load(), Single: s.single.Load()}
	s.mu.Lock()
	st.InMemory = len(s.mem)
	if s.spool != nil {
		st.OnDisk = s.spool.pending()
	}
	s.mu.Unlock()
	if e := s.lastErr.Load(); e != nil {
		st.LastErr = *e
	}
	return st
}

func (s *HTTPSink) setErr(err error) {
	m := err.Error()
	s.lastErr.Store(&m)
}

// batch is the work in flight: alerts[next:] remain to deliver; seg is the
// spool segment they came from, removed once all are delivered.
type batch struct {
	alerts []alert.Alert
	next   int
	seg    *segment
}

// take removes the next batch from memory or, when memory is empty, reads
// the oldest spool segment.
func (s *HTTPSink) take() (*batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := min(len(s.mem), s.o.BatchSize); n > 0 {
		b := &batch{alerts: append([]alert.Alert(nil), s.mem[:n]...)}
		s.mem = append(s.mem[:0], s.mem[n:]...)
		return b, nil
	}
	if s.spool == nil {
		return nil, nil
	}
	sg, as, bad, ok, err := s.spool.oldest()
	if err != nil || !ok {
		return nil, err
	}
	if bad > 0 {
		s.dropped.Add(uint64(bad))
	}
	return &batch{alerts: as, seg: &sg}, nil
}

func (s *HTTPSink) run() {
	defer close(s.done)
	for {
		b, err := s.take()
		if err != nil {
			// An unreadable spool: do not spin; retry after a pause.
			s.setErr(err)
			t := time.NewTimer(s.o.MaxBackoff)
			select {
			case <-t.C:
				continue
			case <-s.runCtx.Done():
				t.Stop()
				s.shutdown(nil)
				return
			}
		}
		if b == nil {
			select {
			case <-s.wake:
				continue
			case <-s.closing:
				if s.idle() {
					s.shutdown(nil)
					return
				}
				continue
			case <-s.runCtx.Done():
				s.shutdown(nil)
				return
			}
		}
		switch s.deliver(b) {
		case stopped:
			s.shutdown(b)
			return
		case spilled:
			continue // the batch waits in the spool now
		}
		if b.seg != nil {
			s.mu.Lock()
			if err := s.spool.remove(*b.seg); err != nil {
				s.setErr(err)
			}
			s.mu.Unlock()
		}
	}
}

func (s *HTTPSink) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mem) == 0 && (s.spool == nil || s.spool.pending() == 0)
}

// shutdown persists what is left when the sink stops: the in-flight batch
// (unless it is already a spool segment) and the memory queue go to the
// spool; without a spool they are counted as dropped.
func (s *HTTPSink) shutdown(inflight *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var left []alert.Alert
	if inflight != nil && inflight.seg == nil {
		left = append(left, inflight.alerts[inflight.next:]...)
	}
	left = append(left, s.mem...)
	s.mem = nil
	for i := range left {
		if s.spool == nil {
			s.dropped.Add(1)
			continue
		}
		if err := s.spool.append(&left[i]); err != nil {
			s.dropped.Add(1)
			s.setErr(err)
			continue
		}
		s.spooled.Add(1)
	}
	if s.spool != nil {
		if err := s.spool.close(); err != nil {
			s.setErr(err)
		}
	}
}

// outcome is how deliver ended.
type outcome int

const (
	delivered outcome = iota // the peer acknowledged the batch
	spilled                  // the peer failed; the batch is in the spool now
	stopped                  // the sink must stop first (Close's deadline passed)
)

// deliver sends a batch until it is acknowledged, retrying with
// exponential backoff and full jitter. The backoff carries over to the
// next batch until a request succeeds, so a batch moved to the spool does
// not restart it.
func (s *HTTPSink) deliver(b *batch) outcome {
	for {
		err := s.post(b)
		if err == nil {
			s.backoff = 0
			return delivered
		}
		s.retries.Add(1)
		s.setErr(err)
		moved := s.spill(b)
		if s.backoff == 0 {
			s.backoff = s.o.MinBackoff
		}
		wait := time.Duration(rand.Int64N(int64(s.backoff))) + s.o.MinBackoff/2
		s.backoff = min(s.backoff*2, s.o.MaxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.runCtx.Done():
			t.Stop()
			return stopped
		}
		if moved {
			return spilled
		}
	}
}

// spill moves a failed in-memory batch and the memory queue to the spool,
// so that while the peer is down alerts wait on disk, where a crash or a
// kill -9 of the sensor does not lose them (in memory they would wait
// until MemoryBuffer overflowed). It empties b and reports true when it
// moved anything. It does nothing when the batch already comes from the
// spool, or when the spool holds alerts newer than the memory queue
// (that order is kept). An alert the spool refuses (full, disk error)
// stays in memory with the ones after it.
func (s *HTTPSink) spill(b *batch) bool {
	if s.spool == nil || b.seg != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spool.pending() > 0 {
		return false
	}
	left := append(b.alerts[b.next:len(b.alerts):len(b.alerts)], s.mem...)
	b.alerts, b.next = nil, 0
	n := 0
	for ; n < len(left); n++ {
		if err := s.spool.append(&left[n]); err != nil {
			s.setErr(err)
			break
		}
	}
	s.spooled.Add(uint64(n))
	s.mem = append(s.mem[:0:0], left[n:]...)
	return true
}

// httpError is a non-2xx answer.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

// permanent reports answers that retrying cannot fix for this payload.
func (e *httpError) permanent() bool {
	return e.status >= 400 && e.status < 500 && e.status != http.StatusRequestTimeout && e.status != http.StatusTooManyRequests
}

// post delivers b.alerts[b.next:], advancing b.next as alerts are
// acknowledged or rejected. A returned error is retryable.
func (s *HTTPSink) post(b *batch) error {
	for b.next < len(b.alerts) {
		if s.single.Load() {
			a := &b.alerts[b.next]
			body, err := json.Marshal(a)
			if err != nil {
				s.rejected.Add(1)
				b.next++
				continue
			}
			err = s.do(s.singleURL, "application/json", body)
			var he *httpError
			switch {
			case err == nil:
				s.sent.Add(1)
			case errors.As(err, &he) && he.permanent():
				s.rejected.Add(1)
				s.setErr(fmt.Errorf("alert %s rejected: %w", a.UUID, err))
			default:
				return err
			}
			b.next++
			continue
		}
		end := min(len(b.alerts), b.next+s.o.BatchSize)
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		for i := b.next; i < end; i++ {
			if err := enc.Encode(&b.alerts[i]); err != nil {
				return fmt.Errorf("encode alert: %w", err)
			}
		}
		msg, err := s.doBody(s.batchURL, "application/x-ndjson", body.Bytes())
		var he *httpError
		switch {
		case err == nil && s.o.Mode == ModeAuto && !batchAcked(msg):
			// A falcosidekick-like peer took only the first alert:
			// count it and send the rest one per request.
			s.sent.Add(1)
			b.next++
			s.single.Store(true)
		case err == nil:
			s.sent.Add(uint64(end - b.next))
			b.next = end
		case errors.As(err, &he) && (he.status == http.StatusNotFound || he.status == http.StatusMethodNotAllowed) && s.o.Mode == ModeAuto:
			// No batch route: a falcosidekick-compatible peer.
			s.single.Store(true)
		case errors.As(err, &he) && he.status == http.StatusRequestEntityTooLarge && end-b.next > 1:
			// Retry with smaller requests: the remaining alerts one
			// batch of half the size at a time.
			sub := &batch{alerts: b.alerts[b.next : b.next+(end-b.next)/2]}
			if err := s.postBatchOnly(sub); err != nil {
				return err
			}
			b.next += len(sub.alerts)
		case errors.As(err, &he) && he.permanent():
			// One bad alert fails the whole batch: isolate it by sending
			// this batch's alerts one by one.
			sub := &batch{alerts: b.alerts[b.next:end]}
			if err := s.postEach(sub); err != nil {
				b.next += sub.next
				return err
			}
			b.next = end
		default:
			return err
		}
	}
	return nil
}

// postBatchOnly posts a sub-batch (splitting further on 413).
func (s *HTTPSink) postBatchOnly(b *batch) error {
	saved := s.o.BatchSize
	defer func() { s.o.BatchSize = saved }()
	s.o.BatchSize = max(1, len(b.alerts))
	return s.post(b)
}

// postEach posts a batch's alerts one per batch request, dropping those
// the peer rejects.
func (s *HTTPSink) postEach(b *batch) error {
	for b.next < len(b.alerts) {
		var body bytes.Buffer
		if err := json.NewEncoder(&body).Encode(&b.alerts[b.next]); err != nil {
			s.rejected.Add(1)
			b.next++
			continue
		}
		err := s.do(s.batchURL, "application/x-ndjson", body.Bytes())
		var he *httpError
		switch {
		case err == nil:
			s.sent.Add(1)
		case errors.As(err, &he) && he.permanent():
			s.rejected.Add(1)
			s.setErr(fmt.Errorf("alert %s rejected: %w", b.alerts[b.next].UUID, err))
		default:
			return err
		}
		b.next++
	}
	return nil
}

func (s *HTTPSink) do(u, ctype string, body []byte) error {
	_, err := s.doBody(u, ctype, body)
	return err
}

// doBody posts body and returns the head of a 2xx answer's body.
func (s *HTTPSink) doBody(u, ctype string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(s.runCtx, s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("post %s: %w", u, err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", s.o.UserAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post %s: %w", u, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return nil, &httpError{status: resp.StatusCode, body: string(bytes.TrimSpace(msg))}
	}
	return msg, nil
}

// batchAcked reports whether a 2xx answer to the batch route is the hub's
// ({"count": N, "ids": [...]}). falcosidekick answers POST on any path with
// 200 and an empty body after decoding only the first alert of the body,
// so an answer without a count means a sidekick-like peer. The count's
// value is not compared: a store that deduplicates retried uuids may
// report fewer.
func batchAcked(msg []byte) bool {
	var r struct {
		Count *int `json:"count"`
	}
	return json.Unmarshal(msg, &r) == nil && r.Count != nil
}

// Close stops accepting alerts and keeps delivering until the queue is
// empty or ctx ends; what is left is written to the spool (or counted as
// dropped without one). With the peer down, Close returns only when ctx
// ends: pass a deadline. Alerts left in memory are appended after those
// already spooled, so after a restart with a backlog their order may
// differ from capture order (each alert carries its event time).
func (s *HTTPSink) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closed.Swap(true)
	s.mu.Unlock()
	if already {
		<-s.done
		return nil
	}
	close(s.closing)
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
	}
	s.cancel()
	st := s.Stats()
	if s.spool == nil && st.Dropped > 0 {
		return fmt.Errorf("http_output: %d alerts dropped", st.Dropped)
	}
	return nil
}
