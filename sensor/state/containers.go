package state

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/saker-sec/saker/sensor/event"
)

// Inspector fetches a container's metadata from its runtime.
type Inspector interface {
	Inspect(ctx context.Context, id string) (*event.Container, error)
}

// Containers caches container metadata by full container id. Metadata comes
// from the runtime API (Docker Engine API) the first time an id is seen and
// again when the runtime reports the container started; when no runtime
// answers, the entry still carries the id and runtime from the cgroup path,
// so container.id works without a runtime socket.
type Containers struct {
	insp    Inspector // nil when no runtime socket is reachable
	timeout time.Duration
	retry   time.Duration
	log     *slog.Logger

	mu    sync.RWMutex
	cache map[string]*containerEntry
}

type containerEntry struct {
	c       *event.Container
	fetched time.Time
	full    bool // metadata came from the runtime
}

// NewContainers returns a cache that asks insp (may be nil).
func NewContainers(insp Inspector, log *slog.Logger) *Containers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Containers{insp: insp, timeout: 3 * time.Second, retry: 30 * time.Second, log: log, cache: map[string]*containerEntry{}}
}

// DockerIfPresent returns a Docker client when the socket exists, else nil.
func DockerIfPresent(path string) *Docker {
	if path == "" {
		path = DefaultDockerSocket
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil
	}
	return NewDocker(path)
}

// Get returns the container for a full id, fetching its metadata on first
// sight (bounded by a three-second timeout: dockerd answers only once its
// start call returns; failures are retried after 30 s).
func (cs *Containers) Get(id, runtime string) *event.Container {
	if id == "" {
		return nil
	}
	cs.mu.RLock()
	e := cs.cache[id]
	cs.mu.RUnlock()
	if e != nil && (e.full || cs.insp == nil || time.Since(e.fetched) < cs.retry) {
		return e.c
	}
	return cs.fetch(id, runtime)
}

// Refresh re-reads a container's metadata (on a runtime start event).
func (cs *Containers) Refresh(id string) {
	cs.fetch(id, RuntimeDocker)
}

func (cs *Containers) fetch(id, runtime string) *event.Container {
	var c *event.Container
	if cs.insp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), cs.timeout)
		got, err := cs.insp.Inspect(ctx, id)
		cancel()
		if err != nil {
			cs.log.Debug("container metadata unavailable", "id", ShortID(id), "err", err)
		} else {
			c = got
		}
	}
	e := &containerEntry{c: c, fetched: time.Now(), full: c != nil}
	if c == nil {
		e.c = &event.Container{ID: ShortID(id), FullID: id, Runtime: runtime}
	}
	cs.mu.Lock()
	cs.cache[id] = e
	cs.mu.Unlock()
	return e.c
}

// Forget drops a container (on its removal) so the cache stays bounded.
func (cs *Containers) Forget(id string) {
	cs.mu.Lock()
	delete(cs.cache, id)
	cs.mu.Unlock()
}

// Len returns the number of cached containers.
func (cs *Containers) Len() int {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return len(cs.cache)
}

// Run follows the Docker engine's start events and refreshes the cache,
// reconnecting with backoff, until ctx ends. It returns at once without a
// Docker client.
func (cs *Containers) Run(ctx context.Context) error {
	d, ok := cs.insp.(*Docker)
	if !ok || d == nil {
		return nil
	}
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := d.WatchStarts(ctx, cs.Refresh)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		cs.log.Debug("docker event stream ended", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	return nil
}
