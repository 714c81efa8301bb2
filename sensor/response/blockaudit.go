package response

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// Results of the records of a block_network block lifted later.
const (
	ResultReleased = "released" // by `saker response release`
	ResultExpired  = "expired"  // its ttl passed
)

// blockAudit records the end of the network blocks: each expiry or
// release becomes a record answering the alert that set the block.
type blockAudit struct {
	mu      sync.Mutex
	origins map[string]blockOrigin // by block name, for blocks set by this sensor
	cancel  context.CancelFunc
	done    chan struct{}
}

// blockOrigin is what the record of a lifted block tells about the block
// set while this sensor ran: the alert and the process it answered.
type blockOrigin struct {
	alert  alert.Alert // UUID, Rule, Priority, Hostname
	target target
	set    time.Time
}

// watchBlocks wires the blocker's callbacks to records and watches for
// releases. Called by New before the blocker restores the pinned blocks.
func (r *Responder) watchBlocks(b *NetBlocker) {
	ba := &blockAudit{origins: map[string]blockOrigin{}, done: make(chan struct{})}
	r.blocks = ba
	b.OnExpire = func(blk Block) { r.blockLifted(blk, ResultExpired) }
	b.OnRelease = func(blk Block) { r.blockLifted(blk, ResultReleased) }
	var ctx context.Context
	ctx, ba.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(ba.done)
		if err := b.Watch(ctx); err != nil {
			r.log.Warn("network blocks: releases will not be recorded", "err", err)
		}
	}()
}

// blockSet remembers where block blk came from.
func (r *Responder) blockSet(blk Block, t target, a *alert.Alert) {
	r.blocks.mu.Lock()
	defer r.blocks.mu.Unlock()
	r.blocks.origins[blk.Name] = blockOrigin{
		alert:  alert.Alert{UUID: a.UUID, Rule: a.Rule, Priority: a.Priority, Hostname: a.Hostname},
		target: t, set: time.Now(),
	}
}

// blockLifted emits the record of a block that expired or was released.
// A block set before this sensor started names its alert (kept in its pin
// names) but not the alert's rule or process.
func (r *Responder) blockLifted(blk Block, result string) {
	r.blocks.mu.Lock()
	o, ok := r.blocks.origins[blk.Name]
	delete(r.blocks.origins, blk.Name)
	r.blocks.mu.Unlock()
	a := o.alert
	if !ok {
		host, _ := os.Hostname()
		a = alert.Alert{UUID: blk.AlertID, Priority: alert.PriorityInformational, Hostname: host}
	}
	cgroup := blk.Cgroup
	if cgroup == "" {
		cgroup = o.target.cgroup
	}
	detail := fmt.Sprintf("block %s of cgroup %s lifted", blk.Name, cgroup)
	switch {
	case result == ResultExpired && !blk.Expires.IsZero():
		detail += fmt.Sprintf(": its ttl passed at %s", blk.Expires.UTC().Format(time.RFC3339))
	case result == ResultReleased:
		detail += " by `saker response release`"
	}
	if ok {
		detail += fmt.Sprintf(" (set %v earlier)", time.Since(o.set).Round(time.Millisecond))
	}
	fields := map[string]any{"container.id": "host"}
	if ok {
		fields["proc.pid"], fields["proc.name"] = o.target.pid, o.target.comm
		if t := o.target; t.inCtr {
			fields["container.id"], fields["container.name"], fields["container.image"] = t.ctr.ID, t.ctr.Name, t.ctr.Image
		}
	}
	rec := NewRecord(&Action{Action: ActionBlockNetwork}, &a, result, detail, 0, fields)
	r.log.Info("response action", "action", ActionBlockNetwork, "result", result, "detail", detail, "alert_id", a.UUID)
	if err := r.emit.Emit(&rec); err != nil {
		r.log.Warn("emit action record", "err", err)
	}
}

// stopBlockWatch ends the release watch.
func (r *Responder) stopBlockWatch() {
	if r.blocks == nil {
		return
	}
	r.blocks.cancel()
	<-r.blocks.done
}
