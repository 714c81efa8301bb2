// Package k8saudit is the k8s_audit rule source: it decodes Kubernetes
// audit events (audit.k8s.io/v1 Event and EventList, as an API server's
// audit webhook sends them or its log backend writes them), provides the
// fields of Falco's k8saudit and json plugins (ka.*, jevt.*, json.*) to the
// rule compiler, and evaluates k8s_audit rules into Falco alerts.
package k8saudit

import (
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fastjson"
)

// Source is the rule source name of Kubernetes audit rules and alerts.
const Source = "k8s_audit"

// Event is one audit event. Obj aliases the parser's memory: it is valid
// until the parser that produced it parses again.
type Event struct {
	Obj *fastjson.Value
	// TS is the event time in ns since the epoch: stageTimestamp, else
	// requestReceivedTimestamp, else the time it was received.
	TS int64

	rawtime string // TS in decimal, built on first use (jevt.rawtime)
	// Scalar paths already read (bit i set: cache[i] holds slot i).
	have  uint32
	cache [cacheSlots]cached
}

// cached is one scalar path's value in an event.
type cached struct {
	s  string
	ok bool
}

func (e *Event) rawTime() string {
	if e.rawtime == "" {
		e.rawtime = strconv.FormatInt(e.TS, 10)
	}
	return e.rawtime
}

// DecodeError is a malformed audit payload.
type DecodeError struct{ Msg string }

func (e *DecodeError) Error() string { return e.Msg }

func badf(format string, args ...any) error {
	return &DecodeError{Msg: fmt.Sprintf(format, args...)}
}

// Decode parses a webhook body: an EventList (the webhook backend's batch)
// or a single Event. The events alias p's memory and are appended to dst.
// now stamps events that carry no timestamp. On error nothing is appended:
// a batch is taken whole or not at all.
func Decode(p *fastjson.Parser, body []byte, now time.Time, dst []Event) ([]Event, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return dst, badf("invalid JSON: %v", err)
	}
	out, err := fromValue(v, now, dst)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func fromValue(v *fastjson.Value, now time.Time, dst []Event) ([]Event, error) {
	if v.Type() != fastjson.TypeObject {
		return dst, badf("audit payload must be a JSON object (EventList or Event), got %s", v.Type())
	}
	if av := string(v.GetStringBytes("apiVersion")); av != "" && av != "audit.k8s.io/v1" && av != "audit.k8s.io/v1beta1" {
		return dst, badf("unsupported apiVersion %q (want audit.k8s.io/v1)", av)
	}
	switch kind := string(v.GetStringBytes("kind")); kind {
	case "EventList":
		items := v.Get("items")
		if items == nil || items.Type() == fastjson.TypeNull {
			return dst, nil
		}
		arr, err := items.Array()
		if err != nil {
			return dst, badf("EventList items must be an array")
		}
		for i, it := range arr {
			ev, err := one(it, now)
			if err != nil {
				return dst, badf("items[%d]: %v", i, err)
			}
			dst = append(dst, ev)
		}
		return dst, nil
	case "Event":
	case "":
		// Log lines and some shippers drop kind; an object with an
		// auditID and a stage is an Event.
		if v.Get("auditID") == nil || v.Get("stage") == nil {
			return dst, badf("not an audit event: no kind, auditID or stage")
		}
	default:
		return dst, badf("unsupported kind %q (want EventList or Event)", kind)
	}
	ev, err := one(v, now)
	if err != nil {
		return dst, err
	}
	return append(dst, ev), nil
}

func one(v *fastjson.Value, now time.Time) (Event, error) {
	if v.Type() != fastjson.TypeObject {
		return Event{}, badf("audit event must be an object, got %s", v.Type())
	}
	ts := now.UnixNano()
	for _, k := range [...]string{"stageTimestamp", "requestReceivedTimestamp"} {
		if s := v.GetStringBytes(k); len(s) > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(s)); err == nil {
				ts = t.UnixNano()
				break
			}
		}
	}
	return Event{Obj: v, TS: ts}, nil
}
