// Package store defines how the hub keeps alerts: the Store interface, the
// query and statistics types the API serves, and the per-consumer delivery
// log the forwarders read. Implementations live in store/redis (production,
// shared by many hub replicas) and store/embedded (single process, persisted
// to a file); both pass the contract suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// ErrNotFound is returned by Get when no stored event has the ID.
var ErrNotFound = errors.New("event not found")

// Event is a stored alert with its store-assigned ID and arrival time.
//
// IDs have the Redis stream form "<unix-ms>-<seq>" in every implementation,
// so they sort by arrival time (compare with CompareIDs) and serve as
// positions in arrival order: for Tail, websocket resume and forwarder
// delivery. Queries and Stats go by the alert's own time instead (see
// EventMs and Position).
type Event struct {
	ID string `json:"id"`
	// Received is when the store accepted the alert (the time in the ID,
	// at millisecond precision); the alert's own time is Alert.Time.
	Received time.Time `json:"received"`
	alert.Alert
}

// Filter selects events. Zero fields select everything.
type Filter struct {
	// Since and Until bound the event time (EventMs), inclusive at
	// millisecond precision; zero = open. An alert a sensor spooled for
	// hours lands where it happened, not at its arrival.
	Since, Until time.Time
	Priorities   []alert.Priority // any of these priorities (exact); empty = all
	MinPriority  alert.Priority   // events at least this severe; PriorityUnset = all. With Priorities, both apply
	Rules        []string         // any of these rules (exact)
	Sources      []string         // any of these sources
	Hostnames    []string         // any of these hostnames
	Tags         []string         // events carrying all of these tags
	Text         string           // case-insensitive substring of output, rule or any output field value
	// Fields maps output field names to the values allowed for each:
	// an event must carry every named field with one of its values,
	// compared as text (42 matches "42"). UUIDs selects events by the
	// alert's uuid. Neither is indexed: combine them with an indexed
	// criterion (a source, a rule) on a large store.
	Fields map[string][]string
	UUIDs  []string
}

// Query is a page request in query order: event time descending, then ID
// descending (newest first; see Position).
type Query struct {
	Filter
	Limit int // page size; implementations cap it at MaxLimit, 0 = DefaultLimit
	// Before is an opaque cursor (a Page.Next): only events strictly after
	// it in query order. A bare event ID is accepted too and stands for
	// the position (its arrival time, that ID).
	Before string
}

// Page limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of a Query.
type Page struct {
	Events []Event `json:"events"`
	// Next is the cursor for the following (older) page: the Position of
	// the page's last event. It is set whenever more matching events may
	// follow (a full page); empty at the end.
	Next string `json:"next,omitempty"`
}

// StatsQuery asks for aggregate counts over the events a Filter selects.
type StatsQuery struct {
	Filter
	// Bucket is the time-series resolution, a multiple of one minute;
	// zero lets the store pick one that gives at most ~120 buckets.
	Bucket time.Duration
	// Top bounds each ranked list (rules, hostnames…); 0 = 10.
	Top int
}

// Count is one entry of a ranked list.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// Bucket is one time-series point: counts per priority of the events whose
// event time (EventMs) is in [Start, Start+Bucket).
type Bucket struct {
	Start  time.Time        `json:"start"`
	Counts map[string]int64 `json:"counts"` // keyed by priority name ("Warning")
}

// Stats aggregates the events a StatsQuery selects.
type Stats struct {
	Total      int64            `json:"total"`
	ByPriority map[string]int64 `json:"by_priority"`
	Rules      []Count          `json:"rules"`
	Hostnames  []Count          `json:"hostnames"`
	Sources    []Count          `json:"sources"`
	Tags       []Count          `json:"tags"`
	Containers []Count          `json:"containers"` // output_fields container.name (not "host")
	Images     []Count          `json:"images"`     // output_fields container.image.repository
	Bucket     time.Duration    `json:"bucket_ns"`
	Series     []Bucket         `json:"series"`
}

// Store keeps alerts durably and answers queries.
type Store interface {
	// Append stores alerts atomically as a batch, in order, and returns their
	// IDs. When it returns nil the alerts are durable (they survive a hub
	// crash); on error none of them is visible. Appends are idempotent
	// by uuid: an alert whose non-empty UUID was appended within the
	// store's dedupe window (minutes) is not stored again, and its first
	// ID is returned, so a sender retrying after a timeout or a 503 does
	// not store it twice.
	Append(ctx context.Context, alerts []alert.Alert) ([]string, error)
	// Get returns one event, or ErrNotFound.
	Get(ctx context.Context, id string) (Event, error)
	// Query returns a page of matching events in query order (event time
	// descending, then ID descending). A malformed cursor is an error
	// wrapping ErrBadCursor.
	Query(ctx context.Context, q Query) (Page, error)
	// Stats aggregates matching events.
	Stats(ctx context.Context, q StatsQuery) (Stats, error)
	// Tail returns up to max events with IDs after the given one, in
	// arrival order (a late alert comes as it arrives), waiting up to block for the first to arrive. It sees events
	// stored by every replica sharing the store. after "$" means "from now";
	// "" or "0" means from the oldest retained event.
	Tail(ctx context.Context, after string, max int, block time.Duration) ([]Event, error)
	// Head returns the ID of the newest stored event by arrival ("0" for
	// an empty store): Tail(Head()) sees only events stored afterwards.
	// (Query's newest is by event time, which a late alert does not top.)
	Head(ctx context.Context) (string, error)
	// Health reports whether the store is usable, with a short description
	// (e.g. "redis 7.0.15 at 127.0.0.1:6379").
	Health(ctx context.Context) Health
	// Deliveries returns the delivery log of one consumer group (one per
	// forwarder), creating it if needed. A new group starts at events stored
	// from now on.
	Deliveries(ctx context.Context, group string) (DeliveryLog, error)
	// Close releases resources; buffered state is flushed first.
	Close() error
}

// Health is a store's health report.
type Health struct {
	OK     bool   `json:"ok"`
	Kind   string `json:"kind"` // "redis" or "embedded"
	Detail string `json:"detail"`
	Error  string `json:"error,omitempty"`
	Events int64  `json:"events"` // events currently retained
}

// Delivery is an event handed to a consumer for delivery.
type Delivery struct {
	Event
	// Attempts counts how many times this event was handed out, this one
	// included (1 on first delivery).
	Attempts int
}

// DeadLetter is an event a consumer gave up on.
type DeadLetter struct {
	Event
	Reason   string    `json:"reason"`
	Attempts int       `json:"attempts"`
	At       time.Time `json:"at"`
}

// GroupReset reports a consumer group the store found missing (Redis
// restarted without persistence, FLUSHALL, a failover to an empty replica)
// and re-created at the last position known to be fully acknowledged, so
// delivery resumes without skipping anything the store still holds.
type GroupReset struct {
	Group string
	// After is where delivery resumed: events after this ID are delivered
	// (again, for any already delivered but not yet acknowledged).
	After string
	// Lost counts events stored and not yet acknowledged when the group
	// was last observed (every few seconds) that are no longer in the
	// store and that this process did not deliver from memory: they can
	// never be delivered. Events the process held when they vanished are
	// settled first (acknowledged or dead-lettered: not lost; held longer
	// than the Claim's minIdle: lost), so a reset may be reported up to
	// minIdle after the re-creation. Limits: events stored after the last
	// observation and never handed out are not counted, and another
	// replica's held events count as lost even if it delivers them.
	Lost int64
}

// DeliveryLog is one consumer group's at-least-once cursor over the stored
// events. Several consumers (hub replicas) may share a group; each event is
// handed to one of them at a time.
type DeliveryLog interface {
	// Claim hands out up to max events not yet acknowledged by the group:
	// first events whose consumer has held them longer than minIdle without
	// acknowledging (a crashed or stuck replica), then new events, waiting up
	// to block for new ones.
	Claim(ctx context.Context, consumer string, max int, minIdle, block time.Duration) ([]Delivery, error)
	// Ack marks events delivered; they are never handed out again.
	Ack(ctx context.Context, ids ...string) error
	// DeadLetter acknowledges an event and records it as undeliverable.
	DeadLetter(ctx context.Context, d Delivery, reason string) error
	// DeadLetters lists recorded dead letters, newest first.
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// DropDeadLetters removes the dead letters of the given event IDs (a
	// replay delivered them, or a user dropped them) and returns how many
	// it removed; unknown IDs are ignored.
	DropDeadLetters(ctx context.Context, ids ...string) (int, error)
	// Lag reports how many events are not yet acknowledged (pending plus
	// not yet handed out) and the age of the oldest of them.
	Lag(ctx context.Context) (pending int64, oldest time.Duration, err error)
}
