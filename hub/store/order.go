package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event time and query order.
//
// Queries, Stats and their time bounds go by an event's own time, the
// alert's "time" field at millisecond precision, so an alert a sensor
// spooled during an outage lands where it happened. Two cases fall back on
// the arrival time (Event.Received) instead:
//   - a missing time (zero, or before 1970): the alert has no usable time;
//   - a time more than MaxSkew ahead of its arrival: a sender's clock runs
//     fast, and trusting it would pin the alert at the top of every list
//     and outside "last 15 minutes" windows for as long as the skew lasts.
//
// The alert's time field itself is stored and returned as sent.
//
// Query order is event time descending, then ID descending: a total order
// (IDs are unique), so equal times page without gaps or repeats. A
// Position is an event's place in it; cursors encode a Position.

// MaxSkew is how far ahead of its arrival an alert's time is trusted.
const MaxSkew = 5 * time.Minute

// EventMs returns the unix millisecond an alert with time t that arrived at
// receivedMs is filed under (see above).
func EventMs(t time.Time, receivedMs int64) int64 {
	if t.IsZero() || t.Unix() < 0 {
		return receivedMs
	}
	ms := t.UnixMilli()
	if ms > receivedMs+MaxSkew.Milliseconds() {
		return receivedMs
	}
	return ms
}

// EventMs returns the event time e is filed under, unix milliseconds.
func (e *Event) EventMs() int64 { return EventMs(e.Time, e.Received.UnixMilli()) }

// Position is an event's place in query order.
type Position struct {
	Ms int64  // event time, unix milliseconds (EventMs)
	ID string // the event's ID
}

// PositionOf returns e's position in query order.
func PositionOf(e *Event) Position { return Position{Ms: e.EventMs(), ID: e.ID} }

// Compare orders positions by event time, then ID: -1 when p is older
// (comes later in a newest-first page), 0 when equal, 1 when newer.
func (p Position) Compare(q Position) int {
	switch {
	case p.Ms < q.Ms:
		return -1
	case p.Ms > q.Ms:
		return 1
	}
	return CompareIDs(p.ID, q.ID)
}

// CompareEvents orders two events in query order like Position.Compare:
// a newest-first page has CompareEvents(page[i], page[i+1]) == 1.
func CompareEvents(a, b *Event) int { return PositionOf(a).Compare(PositionOf(b)) }

// Cursor encodes the position for Query.Before and Page.Next. Treat it as
// opaque: its form ("<ms>_<id>") may change.
func (p Position) Cursor() string { return strconv.FormatInt(p.Ms, 10) + "_" + p.ID }

// ParseCursor decodes a cursor. A bare event ID (a cursor from before
// event-time order) stands for the position (its arrival time, the ID);
// stores that still hold the event use its own position instead (see
// BareCursor). Errors wrap ErrBadCursor.
func ParseCursor(s string) (Position, error) {
	ms, id, ok := strings.Cut(s, "_")
	if !ok {
		ams, _, err := ParseID(s)
		if err != nil || !strings.Contains(s, "-") {
			return Position{}, fmt.Errorf("%w %q", ErrBadCursor, s)
		}
		return Position{Ms: int64(ams), ID: s}, nil
	}
	p := Position{ID: id}
	var err error
	if p.Ms, err = strconv.ParseInt(ms, 10, 64); err != nil || p.Ms < 0 {
		return Position{}, fmt.Errorf("%w %q", ErrBadCursor, s)
	}
	if _, _, err := ParseID(id); err != nil || !strings.Contains(id, "-") {
		return Position{}, fmt.Errorf("%w %q", ErrBadCursor, s)
	}
	return p, nil
}

// BareCursor reports whether a cursor is a bare event ID, whose event's
// position a store should look up (ParseCursor can only guess it).
func BareCursor(s string) bool { return !strings.Contains(s, "_") }
