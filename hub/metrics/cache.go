package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// seriesCache remembers the counters of a vector's series by a comparable
// key, so that counting an alert costs one lookup in a Go map instead of
// hashing every label value and comparing them in the vector's own map
// (BenchmarkFalcoEventsInc). Nothing deletes series from the hub's
// vectors, so a remembered counter stays the one the vector exports. It
// remembers at most max keys; the vector is asked for the others.
type seriesCache[K comparable] struct {
	mu  sync.RWMutex // every alert reads; a new series writes
	m   map[K]prometheus.Counter
	max int
}

func newSeriesCache[K comparable](max int) *seriesCache[K] {
	return &seriesCache[K]{m: map[K]prometheus.Counter{}, max: max}
}

// get returns the counter of k, asking series for it the first time.
func (c *seriesCache[K]) get(k K, series func() prometheus.Counter) prometheus.Counter {
	c.mu.RLock()
	ctr, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return ctr
	}
	ctr = series()
	c.mu.Lock()
	if len(c.m) < c.max {
		c.m[k] = ctr
	}
	c.mu.Unlock()
	return ctr
}
