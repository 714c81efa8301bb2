package output

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/saker-sec/saker/hub/alert"
)

// Message is one alert ready for the sinks: the alert itself and its
// rendering as the text sinks print it (Falco's text line, or the JSON
// line when json_output is on).
type Message struct {
	Alert *alert.Alert
	Text  []byte // without trailing newline
}

// Sink delivers messages to one destination. Send is called from a single
// goroutine per sink, in order.
type Sink interface {
	Name() string
	Send(ctx context.Context, m *Message) error
	Close() error
}

// Config is the output part of falco.yaml: which sinks are enabled and the
// JSON and priority switches shared by all of them. Nil sink options mean
// the sink is disabled.
type Config struct {
	// Priority is the minimum priority emitted (falco.yaml `priority`);
	// PriorityUnset emits everything.
	Priority alert.Priority
	// JSON renders text sinks' lines as Falco JSON (json_output).
	JSON bool
	// JSONOptions are json_include_output_property / _tags_property.
	JSONOptions JSONOptions
	// QueueSize bounds each local sink's queue (default 4096); a full
	// queue drops (counted) instead of stalling event processing.
	QueueSize int

	Stdout  *StdoutOptions
	File    *FileOptions
	Syslog  *SyslogOptions
	Program *ProgramOptions
	HTTP    *HTTPOptions
}

// Outputs fans alerts out to the configured sinks, each with its own
// worker so a slow destination does not delay the others.
type Outputs struct {
	cfg     Config
	workers []*worker
	http    *HTTPSink
	// mu makes Close wait for Emits in flight before closing the queues
	// (a send on a closed channel would panic).
	mu     sync.RWMutex
	closed bool
}

type worker struct {
	sink    Sink
	ch      chan *Message
	done    chan struct{}
	dropped atomic.Uint64
	failed  atomic.Uint64
	sent    atomic.Uint64
	lastErr atomic.Pointer[string]
}

// SinkStats are one sink's counters.
type SinkStats struct {
	Name    string
	Sent    uint64
	Failed  uint64 // deliveries that returned an error
	Dropped uint64 // messages dropped because the sink's queue was full
	LastErr string
}

// New opens every enabled sink. It fails if any cannot be opened, closing
// those already opened.
func New(cfg Config) (*Outputs, error) {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	o := &Outputs{cfg: cfg}
	var sinks []Sink
	fail := func(err error) (*Outputs, error) {
		for _, s := range sinks {
			s.Close()
		}
		return nil, err
	}
	if cfg.Stdout != nil {
		sinks = append(sinks, NewStdout(*cfg.Stdout))
	}
	if cfg.File != nil {
		s, err := NewFile(*cfg.File)
		if err != nil {
			return fail(err)
		}
		sinks = append(sinks, s)
	}
	if cfg.Syslog != nil {
		s, err := NewSyslog(*cfg.Syslog)
		if err != nil {
			return fail(err)
		}
		sinks = append(sinks, s)
	}
	if cfg.Program != nil {
		s, err := NewProgram(*cfg.Program)
		if err != nil {
			return fail(err)
		}
		sinks = append(sinks, s)
	}
	if cfg.HTTP != nil {
		s, err := NewHTTP(*cfg.HTTP)
		if err != nil {
			return fail(err)
		}
		o.http = s
	}
	for _, s := range sinks {
		w := &worker{sink: s, ch: make(chan *Message, cfg.QueueSize), done: make(chan struct{})}
		go w.run()
		o.workers = append(o.workers, w)
	}
	return o, nil
}

func (w *worker) run() {
	defer close(w.done)
	for m := range w.ch {
		if err := w.sink.Send(context.Background(), m); err != nil {
			w.failed.Add(1)
			s := err.Error()
			w.lastErr.Store(&s)
			continue
		}
		w.sent.Add(1)
	}
}

// Render returns the line text sinks print for an alert.
func (o *Outputs) Render(a *alert.Alert) ([]byte, error) {
	if o.cfg.JSON {
		return MarshalFalcoJSON(a, o.cfg.JSONOptions)
	}
	return []byte(a.Output), nil
}

// Emit delivers an alert to every sink unless it is below the priority
// threshold. It does not block on slow sinks.
func (o *Outputs) Emit(a *alert.Alert) error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return errors.New("outputs closed")
	}
	if o.cfg.Priority.Valid() && a.Priority < o.cfg.Priority {
		return nil
	}
	if len(o.workers) > 0 {
		text, err := o.Render(a)
		if err != nil {
			return err
		}
		m := &Message{Alert: a, Text: text}
		for _, w := range o.workers {
			select {
			case w.ch <- m:
			default:
				w.dropped.Add(1)
			}
		}
	}
	if o.http != nil {
		// The HTTP sink always posts JSON (the hub and falcosidekick need
		// it); with json_output on, the json_include_* switches apply to
		// it as they do to Falco's http_output.
		if o.cfg.JSON && (!o.cfg.JSONOptions.IncludeOutput || !o.cfg.JSONOptions.IncludeTags) {
			c := *a
			if !o.cfg.JSONOptions.IncludeOutput {
				c.Output = ""
			}
			if !o.cfg.JSONOptions.IncludeTags {
				c.Tags = nil
			}
			a = &c
		}
		o.http.Enqueue(a)
	}
	return nil
}

// Stats returns every sink's counters (the HTTP sink's are in HTTPStats).
func (o *Outputs) Stats() []SinkStats {
	out := make([]SinkStats, 0, len(o.workers))
	for _, w := range o.workers {
		s := SinkStats{Name: w.sink.Name(), Sent: w.sent.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load()}
		if e := w.lastErr.Load(); e != nil {
			s.LastErr = *e
		}
		out = append(out, s)
	}
	return out
}

// HTTP returns the HTTP sink, or nil when disabled.
func (o *Outputs) HTTP() *HTTPSink { return o.http }

// Close drains the local sinks' queues, then closes them and the HTTP sink
// (which flushes until ctx ends and spools what it could not deliver):
// pass a context with a deadline.
func (o *Outputs) Close(ctx context.Context) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	for _, w := range o.workers {
		close(w.ch)
	}
	o.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	for _, w := range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-w.done:
			case <-ctx.Done():
			}
		}()
	}
	wg.Wait()
	for _, w := range o.workers {
		if err := w.sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s output: %w", w.sink.Name(), err))
		}
	}
	if o.http != nil {
		if err := o.http.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
