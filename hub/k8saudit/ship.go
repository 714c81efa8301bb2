package k8saudit

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/valyala/fastjson"
)

// Shipper follows an API server's audit log file and POSTs its events to a
// hub's /k8s-audit as gzip'd EventLists, as the webhook backend would, so
// clusters that only log to disk are evaluated by the hub too.
type Shipper struct {
	URL      string        // the hub's audit endpoint: http://hub:2801/k8s-audit
	Client   *http.Client  // default: 30 s timeout
	MaxBatch int           // events per POST (default 100)
	Linger   time.Duration // how long a partial batch waits for more (default 200 ms)
	Log      *slog.Logger
}

// Run ships the log at path until ctx ends. A batch the hub cannot take
// now (network error, 5xx, 429) is retried with backoff, which also holds
// back reading; one it refuses (other 4xx) is logged and dropped. Lines
// that are not JSON objects are logged and skipped, so one torn line does
// not cost its batch.
func (s *Shipper) Run(ctx context.Context, path string, fo FollowOptions) error {
	if s.Client == nil {
		s.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if s.MaxBatch <= 0 {
		s.MaxBatch = 100
	}
	if s.Linger <= 0 {
		s.Linger = 200 * time.Millisecond
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if fo.Skipped == nil {
		fo.Skipped = func(reason string) { s.Log.Warn("audit log line skipped", "path", path, "reason", reason) }
	}
	lines := make(chan []byte, s.MaxBatch)
	errc := make(chan error, 1)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(lines)
		errc <- Follow(fctx, path, fo, func(l []byte) error {
			if l[0] != '{' || fastjson.ValidateBytes(l) != nil {
				fo.Skipped("not a JSON object")
				return nil
			}
			select {
			case lines <- append([]byte(nil), l...):
				return nil
			case <-fctx.Done():
				return fctx.Err()
			}
		})
	}()
	var batch [][]byte
	timer := time.NewTimer(s.Linger)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				s.flush(ctx, batch)
				if err := <-errc; err != nil && ctx.Err() == nil {
					return err
				}
				return nil
			}
			if len(batch) == 0 {
				timer.Reset(s.Linger)
			}
			batch = append(batch, l)
			if len(batch) >= s.MaxBatch {
				s.flush(ctx, batch)
				batch = batch[:0]
			}
		case <-timer.C:
			s.flush(ctx, batch)
			batch = batch[:0]
		}
	}
}

// flush POSTs one batch, retrying until it is taken, refused or ctx ends.
func (s *Shipper) flush(ctx context.Context, batch [][]byte) {
	if len(batch) == 0 {
		return
	}
	var raw bytes.Buffer
	raw.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	raw.Write(bytes.Join(batch, []byte{','}))
	raw.WriteString(`]}`)
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	zw.Write(raw.Bytes())
	zw.Close()
	backoff := 100 * time.Millisecond
	for {
		retry, err := s.post(ctx, body.Bytes())
		if err == nil {
			return
		}
		if !retry {
			s.Log.Error("hub refused audit batch; dropped", "events", len(batch), "err", err)
			return
		}
		s.Log.Warn("audit batch not delivered; retrying", "events", len(batch), "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			s.Log.Error("audit batch not delivered before shutdown", "events", len(batch))
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (s *Shipper) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := s.Client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return true, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return false, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
}
