// Package status holds the forwarder status the dashboard shows, apart
// from the forwarders themselves so that the dashboard can import it
// without the outputs' SDKs.
package status

import (
	"context"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// Target is one forwarder target's state for the dashboard's info view.
// Counters are this process's since start; Pending, Lag and DeadLetters
// come from the shared store and cover every replica.
type Target struct {
	Name          string             `json:"name"`
	Endpoint      string             `json:"endpoint,omitempty"`
	MinPriority   string             `json:"minimum_priority,omitempty"`
	Healthy       bool               `json:"healthy"`
	LastError     string             `json:"last_error,omitempty"`
	LastErrorAt   time.Time          `json:"last_error_at,omitzero"`
	LastSuccessAt time.Time          `json:"last_success_at,omitzero"`
	Sent          int64              `json:"sent"`
	Failed        int64              `json:"failed"`
	Retried       int64              `json:"retried"`
	DeadLettered  int64              `json:"dead_lettered"`
	Filtered      int64              `json:"filtered"`
	Lost          int64              `json:"lost"` // gone from the store before delivery
	Pending       int64              `json:"pending"`
	LagSeconds    float64            `json:"lag_seconds"`
	DeadLetters   []store.DeadLetter `json:"dead_letters,omitempty"` // newest first, up to 10
}

// Func reports every target (forwarders.Dispatcher.Status); ctx bounds the
// store reads it makes.
type Func func(ctx context.Context) []Target
