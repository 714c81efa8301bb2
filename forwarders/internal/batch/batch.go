// Package batch defines how a forwarder reports a batch that was only
// partly delivered, shared by the dispatcher and the forwarders.
package batch

import (
	"context"
	"fmt"
	"strings"

	"github.com/saker-sec/saker/hub/alert"
)

// Failure is one alert of a batch that was not delivered.
type Failure struct {
	Index int // position in the batch
	Retry bool
	Err   error
	// Skipped marks an alert that was not sent at all (an earlier one of
	// the batch failed first): it does not use up a delivery attempt.
	Skipped bool
}

// PartialError reports that the alerts not listed in Failures were
// delivered and the listed ones were not.
type PartialError struct {
	Failures []Failure
}

func (e *PartialError) Error() string {
	if len(e.Failures) == 0 {
		return "partial delivery"
	}
	return fmt.Sprintf("%d alert(s) not delivered, first: %v", len(e.Failures), e.Failures[0].Err)
}

// Each delivers alerts one by one with send, stopping at the first failure:
// the failed alert and every later one are reported as failures sharing its
// retry decision (later ones were not attempted, so they are retryable).
func Each(ctx context.Context, alerts []alert.Alert, send func(context.Context, *alert.Alert) (bool, error)) (bool, error) {
	for i := range alerts {
		retry, err := send(ctx, &alerts[i])
		if err == nil {
			continue
		}
		if len(alerts) == 1 {
			return retry, err
		}
		pe := &PartialError{Failures: []Failure{{Index: i, Retry: retry, Err: err}}}
		for j := i + 1; j < len(alerts); j++ {
			pe.Failures = append(pe.Failures, Failure{Index: j, Retry: true, Skipped: true, Err: fmt.Errorf("not attempted: %w", err)})
		}
		return retry, pe
	}
	return false, nil
}

// Snippet shortens a string for error messages.
func Snippet(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
