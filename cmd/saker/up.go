package main

import (
	"context"
	"maps"
)

// `saker up` is the one-command start (`make run`): the hub on :2801 with the
// embedded store unless REDIS_ADDRESS is set, the dashboard on :2802, and
// every part registered in upParts — the sensor registers itself there from
// its own file (cmd/saker/sensor.go) and runs only when root.
func init() {
	commands["up"] = command{"hub + dashboard (+ sensor when root) in one process", func(ctx context.Context, args []string) error {
		parts := maps.Clone(hubParts)
		maps.Copy(parts, upParts)
		return runHub(ctx, "up", args, parts)
	}}
}
