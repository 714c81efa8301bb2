package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
)

// The floors are what the machine allows any hub, measured in the same
// rounds as saker and falcosidekick (-floor). floor-http reads each
// request's body and answers 200: HTTP over loopback and nothing else.
// floor-redis also waits until Redis holds the alert before it answers:
// one XADD of the body per single POST, one pipeline of XADDs (one per
// NDJSON line, unparsed) per batch. It decodes nothing, indexes nothing,
// dedupes nothing: no hub whose 200 means "in Redis" can beat it, so a
// target floor-redis misses cannot be met on this machine by any design
// that keeps that promise.

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
	var rdb *goredis.Client
	switch kind {
	case "http":
	case "redis":
		rdb = goredis.NewClient(&goredis.Options{Addr: os.Getenv(floorRedisEnv), DB: floorDB})
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
		if rdb != nil {
			if err := floorStore(ctx, rdb, path == "/api/v1/events", c.PostBody()); err != nil {
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

// floorStore XADDs body (a batch: each of its lines) to the floor's stream.
func floorStore(ctx context.Context, rdb *goredis.Client, batch bool, body []byte) error {
	if !batch {
		return rdb.XAdd(ctx, &goredis.XAddArgs{Stream: "floor", Values: []any{"b", body}}).Err()
	}
	pipe := rdb.Pipeline()
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if len(line) > 0 {
			pipe.XAdd(ctx, &goredis.XAddArgs{Stream: "floor", Values: []any{"b", line}})
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}
