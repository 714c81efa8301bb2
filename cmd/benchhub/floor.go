package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
)

// The floors are what the machine allows any hub, measured in the same
// rounds as saker and falcosidekick (-floor). floor-http reads each
// request's body and answers 200: HTTP over loopback and nothing else.
// floor-redis also waits until Redis holds the alert before it answers:
// one XADD per alert (the body of a single POST, each NDJSON line of a
// batch, unparsed), the XADDs of all requests that arrive while a write
// is in flight sent as one pipeline (group commit, as the Redis store
// does). It decodes nothing, indexes nothing, dedupes nothing: a target
// floor-redis misses is out of reach on this machine for any hub whose
// 200 means "Redis holds the alert" and that stores an entry per alert.

// floorEnv, set in a re-executed benchhub, makes it serve a floor:
// "http", or "redis" with floorRedisEnv naming the Redis address.
const (
	floorEnv      = "BENCHHUB_FLOOR"
	floorRedisEnv = "BENCHHUB_FLOOR_REDIS"
	floorDB       = 15 // floor-redis's database: no saker target uses it
)

// startFloor runs this program again as the floor server kind ("http" or
// "redis").
func startFloor(kind, redisAddr string) (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), floorEnv+"="+kind, floorRedisEnv+"="+redisAddr, "LISTENPORT="+strconv.Itoa(port))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	name := "floor-" + kind
	stop, err := startProcess(name, url+"/ping", cmd)
	if err != nil {
		return nil, err
	}
	return &target{name: name, url: url, batch: true, floor: true, stop: stop, pids: []int{cmd.Process.Pid}}, nil
}

// serveFloor is the floor server's main.
func serveFloor(kind string) error {
	var gc *groupCommit
	switch kind {
	case "http":
	case "redis":
		gc = &groupCommit{rdb: goredis.NewClient(&goredis.Options{Addr: os.Getenv(floorRedisEnv), DB: floorDB})}
	default:
		return fmt.Errorf("%s=%q: want http or redis", floorEnv, kind)
	}
	ctx := context.Background()
	handler := func(c *fasthttp.RequestCtx) {
		path := string(c.Path())
		if path == "/ping" {
			c.SetBodyString("pong")
			return
		}
		if gc != nil {
			lines := [][]byte{c.PostBody()}
			if path == "/api/v1/events" {
				lines = bytes.Split(c.PostBody(), []byte("\n"))
			}
			if err := gc.store(ctx, lines); err != nil {
				c.Error(err.Error(), fasthttp.StatusServiceUnavailable)
				return
			}
		}
		c.SetContentType("application/json")
		c.SetBodyString("{}")
	}
	srv := &fasthttp.Server{Handler: handler, MaxRequestBodySize: 64 << 20}
	return srv.ListenAndServe("127.0.0.1:" + os.Getenv("LISTENPORT"))
}

// groupCommit writes the alerts of concurrent requests as one pipeline:
// the request that finds no write in flight writes its own alerts; those
// arriving meanwhile queue, and the finished writer hands the whole queue
// to its first request, which writes it as one pipeline for all of them.
type groupCommit struct {
	rdb     *goredis.Client
	mu      sync.Mutex
	busy    bool
	pending []*commitWait
}

// commitWait is one request's alerts waiting for Redis.
type commitWait struct {
	lines [][]byte
	// done receives the outcome, or first a batch (starting with this
	// request) that its caller writes.
	done chan commitDone
}

type commitDone struct {
	err  error
	lead []*commitWait
}

// store returns once Redis holds lines (empty ones are skipped).
func (g *groupCommit) store(ctx context.Context, lines [][]byte) error {
	w := &commitWait{lines: lines, done: make(chan commitDone, 1)}
	g.mu.Lock()
	if g.busy {
		g.pending = append(g.pending, w)
		g.mu.Unlock()
		d := <-w.done
		if d.lead == nil {
			return d.err
		}
		g.write(ctx, d.lead)
	} else {
		g.busy = true
		g.mu.Unlock()
		g.write(ctx, []*commitWait{w})
	}
	return (<-w.done).err
}

// write sends batch as one pipeline, answers its requests, then hands the
// queue to its first request or marks the writer free.
func (g *groupCommit) write(ctx context.Context, batch []*commitWait) {
	pipe := g.rdb.Pipeline()
	for _, w := range batch {
		for _, line := range w.lines {
			if len(line) > 0 {
				pipe.XAdd(ctx, &goredis.XAddArgs{Stream: "floor", Values: []any{"b", line}})
			}
		}
	}
	_, err := pipe.Exec(ctx)
	for _, w := range batch {
		w.done <- commitDone{err: err}
	}
	g.mu.Lock()
	next := g.pending
	g.pending = nil
	g.busy = len(next) > 0
	g.mu.Unlock()
	if len(next) > 0 {
		next[0].done <- commitDone{lead: next}
	}
}
