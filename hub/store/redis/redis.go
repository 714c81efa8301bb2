// Package redis is the production Store: alerts in a Redis Stream shared by
// every hub replica, with secondary indexes, per-minute counters and one
// consumer group per forwarder. It needs plain Redis 7 (no modules) and
// works with a single server, Sentinel or Cluster through go-redis's
// UniversalClient: every key carries one hash tag (Options.HashTag,
// default {saker}) so multi-key operations stay in one cluster slot. One
// Store is one shard; hub/store/sharded spreads alerts over several Stores
// with different hash tags to use every master of a cluster.
//
// Keys, under Options.KeyPrefix + "{" + Options.HashTag + "}:":
//
//	events          stream; entry field "z" = the alert's JSON, zstd (older entries: "a", plain)
//	i:p:<priority>  sorted sets (all scores 0, members "<ms>-<seq>" zero-
//	i:r:<rule>      padded so lexical order is ID order) indexing the
//	i:s:<source>    stream, trimmed with it
//	i:h:<hostname>
//	i:t:<tag>
//	m:<unix minute> hash of counters: t, p:<priority>, rule:<rule>, …
//	dl:<group>      list of dead letters (JSON), newest first
//
// Durability: Append returns once Redis has executed the write (one Lua
// script per batch, atomic), so the hub answers 200 only after Redis
// acknowledged it. Whether it survives a Redis crash is governed by Redis
// persistence: run Redis with appendonly yes and appendfsync always (every
// write fsynced before the reply) or everysec (up to a second at risk).
//
// Retention: each Append trims the stream exactly to MaxEvents and to MinID
// now-MaxAge (default 7 days) in the same script; reads also hide events
// older than MaxAge. Index entries of trimmed events are removed by a
// background pass every TrimInterval over every index key (reads skip them
// meanwhile), so index keys of hostnames or rules that stopped appearing
// empty and vanish. A forwarder lagging by more than the retention loses
// the trimmed events (they are no longer lag).
//
// Stats: windows filtered only by time are summed from the per-minute
// counters (kept max(MaxAge+1h, 8 days)); partial minutes at the edges are
// read exactly when they hold at most 5000 events. When a window starts
// before the oldest retained event, the first minute's counter may include
// events retention already removed. Other filters aggregate the matching
// events through the indexes (at most 200 000).
package redis

import (
	"bytes"
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// Defaults for zero Options fields.
const (
	DefaultMaxEvents      = 1_000_000
	DefaultMaxAge         = 7 * 24 * time.Hour
	DefaultMaxDeadLetters = 10_000
	DefaultPoolSize       = 64
	// DefaultHashTag is the hash tag of a single-shard store (the layout
	// every earlier release wrote).
	DefaultHashTag = "saker"
	// DefaultDedupeWindow is how long an alert's uuid is remembered so a
	// retried append of it is not stored twice.
	DefaultDedupeWindow = 5 * time.Minute
	// minCounterTTL keeps per-minute counters at least this long, so stats
	// over the last week work without an age limit.
	minCounterTTL = 8 * 24 * time.Hour
	// statsScanCap bounds how many events a filtered Stats reads.
	statsScanCap = 200_000
	// blockSlice bounds one blocking Redis call so cancellation is noticed.
	blockSlice = 500 * time.Millisecond
)

// Options configure the Redis store.
type Options struct {
	// Addresses of the server, the cluster nodes or the sentinels.
	Addresses []string
	// MasterName selects Sentinel mode.
	MasterName string
	Username   string
	Password   string
	DB         int
	// TLS enables TLS to Redis when non-nil.
	TLS *tls.Config
	// MaxEvents bounds the stream (exact trimming); 0 = DefaultMaxEvents.
	MaxEvents int64
	// MaxAge drops events older than this; 0 = DefaultMaxAge, negative =
	// no age limit.
	MaxAge time.Duration
	// MaxDeadLetters bounds each group's dead-letter list; 0 = default.
	MaxDeadLetters int64
	// KeyPrefix is put before every key (tests use it to share a server).
	// It must not contain '{' or '}'.
	KeyPrefix string
	// HashTag is the cluster hash tag every key carries (without braces);
	// "" = DefaultHashTag. A Redis Cluster keeps all of one Store's keys on
	// the master owning that tag's slot.
	HashTag string
	// PoolSize is the connection pool size; blocking Tail and Claim calls
	// each hold a connection while they wait. 0 = DefaultPoolSize.
	PoolSize int
	// DedupeWindow is how long an appended alert's uuid is remembered: an
	// alert with the same uuid appended again within it is not stored
	// again (its first ID is returned). 0 = DefaultDedupeWindow, negative =
	// no deduplication.
	DedupeWindow time.Duration
	// ReadTimeout bounds waiting for a reply; 0 = go-redis's 3 s.
	ReadTimeout time.Duration
	// TrimInterval is how often index entries of trimmed events are
	// removed (in the background); 0 = DefaultTrimInterval.
	TrimInterval time.Duration
	// Logger receives background errors; nil = slog.Default().
	Logger *slog.Logger
}

// Store is the Redis store. It is safe for concurrent use.
type Store struct {
	opts Options
	c    goredis.UniversalClient
	// w runs the append script. It never retries: a retry after a read
	// timeout would run the script again while the first run may already
	// have been executed (the uuid dedupe would catch it, but only within
	// its window and at the cost of a second round trip).
	w      goredis.UniversalClient
	pfx    string // KeyPrefix + "{" + HashTag + "}:"
	stream string
	script *goredis.Script
	queue  chan *commitReq
	exited chan struct{} // closed once the committers have returned
	log    *slog.Logger
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

//go:embed append.lua
var appendLua string

// New connects to Redis and checks it answers.
func New(ctx context.Context, opts Options) (*Store, error) {
	if len(opts.Addresses) == 0 {
		return nil, errors.New("redis store: no address")
	}
	if strings.ContainsAny(opts.KeyPrefix, "{}") {
		return nil, fmt.Errorf("redis store: key prefix %q must not contain braces", opts.KeyPrefix)
	}
	if opts.HashTag == "" {
		opts.HashTag = DefaultHashTag
	}
	if strings.ContainsAny(opts.HashTag, "{}") {
		return nil, fmt.Errorf("redis store: hash tag %q must not contain braces", opts.HashTag)
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = DefaultMaxEvents
	}
	if opts.MaxDeadLetters <= 0 {
		opts.MaxDeadLetters = DefaultMaxDeadLetters
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = DefaultPoolSize
	}
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow = DefaultDedupeWindow
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.TrimInterval <= 0 {
		opts.TrimInterval = DefaultTrimInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	uo := goredis.UniversalOptions{
		Addrs:       opts.Addresses,
		MasterName:  opts.MasterName,
		Username:    opts.Username,
		Password:    opts.Password,
		DB:          opts.DB,
		TLSConfig:   opts.TLS,
		PoolSize:    opts.PoolSize,
		ReadTimeout: opts.ReadTimeout,
	}
	c := goredis.NewUniversalClient(&uo)
	wo := uo
	wo.MaxRetries = -1
	wo.PoolSize = max(opts.PoolSize/2, 8)
	w := goredis.NewUniversalClient(&wo)
	s := &Store{opts: opts, c: c, w: w, pfx: opts.KeyPrefix + "{" + opts.HashTag + "}:", script: goredis.NewScript(appendLua),
		log: opts.Logger, done: make(chan struct{}), queue: make(chan *commitReq, 1024),
		exited: make(chan struct{})}
	s.stream = s.pfx + "events"
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		w.Close()
		return nil, fmt.Errorf("redis store: ping %s: %w", strings.Join(opts.Addresses, ","), err)
	}
	// XAUTOCLAIM's deleted-entry handling and XINFO GROUPS lag need 7.0.
	if v, err := s.version(ctx); err == nil {
		if major, _, _ := strings.Cut(v, "."); major != "" {
			if n, err := strconv.Atoi(major); err == nil && n < 7 {
				c.Close()
				w.Close()
				return nil, fmt.Errorf("redis store: Redis %s at %s is too old, need 7.0 or newer", v, strings.Join(opts.Addresses, ","))
			}
		}
	}
	s.wg.Add(1 + committers)
	go s.janitor()
	for range committers {
		go s.committer()
	}
	return s, nil
}

// version returns the server's redis_version.
func (s *Store) version(ctx context.Context) (string, error) {
	info, err := s.c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "", errors.New("no redis_version in INFO")
}

// Client exposes the underlying client (for health checks and tests).
func (s *Store) Client() goredis.UniversalClient { return s.c }

// Close implements store.Store.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		s.wg.Wait()
		close(s.exited)
		err = errors.Join(s.c.Close(), s.w.Close())
	})
	return err
}

// pad turns "<ms>-<seq>" into the fixed-width index member.
func pad(ms, seq uint64) string { return fmt.Sprintf("%015d-%012d", ms, seq) }

const maxPaddedSeq = 999_999_999_999

// unpad turns an index member back into an event ID.
func unpad(m string) string {
	a, b, _ := strings.Cut(m, "-")
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if a == "" {
		a = "0"
	}
	if b == "" {
		b = "0"
	}
	return a + "-" + b
}

func indexSuffixes(a *alert.Alert) []string {
	out := make([]string, 0, 4+len(a.Tags))
	out = append(out, "p:"+a.Priority.String(), "r:"+a.Rule, "s:"+a.Source, "h:"+a.Hostname)
	for _, t := range a.Tags {
		out = append(out, "t:"+t)
	}
	return out
}

// counterField names a per-minute counter hash field.
func counterField(dim, key string) string { return dim + ":" + key }

func (s *Store) counterTTL() time.Duration {
	return max(s.opts.MaxAge+time.Hour, minCounterTTL)
}

// Append implements store.Store: one atomic Lua script run stores the batch,
// together with the batches of concurrent Appends (group commit).
func (s *Store) Append(ctx context.Context, alerts []alert.Alert) ([]string, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(alerts)*16)
	for i := range alerts {
		a := &alerts[i]
		if !a.Priority.Valid() {
			return nil, fmt.Errorf("append alert %d: invalid priority %d", i, int(a.Priority))
		}
		body, err := a.Encoded, error(nil) // encoded once by ingest
		if len(body) == 0 {
			body, err = json.Marshal(a)
			if err == nil {
				// Refused here rather than stored and later unreadable.
				err = alert.CheckDepth(body)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("append alert %d: encode: %w", i, err)
		}
		idx := indexSuffixes(a)
		field, entry := fieldPlain, body
		if z := compress(body); len(z) < len(body) {
			field, entry = fieldZstd, z
		}
		args = append(args, a.UUID, field, entry, len(idx))
		for _, k := range idx {
			args = append(args, k)
		}
		dims := store.Dimensions(a)
		args = append(args, 2+len(dims), "t", counterField("p", a.Priority.String()))
		for _, d := range dims {
			args = append(args, counterField(d[0], d[1]))
		}
	}
	return s.commit(ctx, len(alerts), args)
}

func decodeMessage(m goredis.XMessage) (store.Event, bool) {
	body, ok := entryJSON(m.Values)
	if !ok {
		return store.Event{}, false
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	e := store.Event{ID: m.ID}
	if err := d.Decode(&e.Alert); err != nil {
		return store.Event{}, false
	}
	return e, true
}

// cutoff is the oldest retained arrival time in unix ms (0 = none).
func (s *Store) cutoff(now time.Time) int64 {
	if s.opts.MaxAge <= 0 {
		return 0
	}
	return max(now.Add(-s.opts.MaxAge).UnixMilli(), 0)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (store.Event, error) {
	ms, _, err := store.ParseID(id)
	if err != nil || !strings.Contains(id, "-") {
		return store.Event{}, store.ErrNotFound
	}
	if int64(ms) < s.cutoff(time.Now()) {
		return store.Event{}, store.ErrNotFound
	}
	msgs, err := s.c.XRange(ctx, s.stream, id, id).Result()
	if err != nil {
		return store.Event{}, fmt.Errorf("redis store: get %s: %w", id, err)
	}
	if len(msgs) == 0 {
		return store.Event{}, store.ErrNotFound
	}
	e, ok := decodeMessage(msgs[0])
	if !ok {
		return store.Event{}, fmt.Errorf("redis store: event %s is not a Saker alert", id)
	}
	return e, nil
}

// window is a query's bounds as stream IDs and index members.
type window struct {
	startID, endID string // XRANGE bounds; endID may be exclusive "(id"
	loMem, hiMem   string // ZRANGE BYLEX bounds
	empty          bool
}

func (s *Store) window(f *store.Filter, before string, now time.Time) (window, error) {
	lo := s.cutoff(now)
	if !f.Since.IsZero() {
		lo = max(lo, f.Since.UnixMilli())
	}
	w := window{startID: fmt.Sprintf("%d-0", lo), loMem: "[" + pad(uint64(lo), 0), endID: "+", hiMem: "+"}
	hiMs := int64(-1)
	if !f.Until.IsZero() {
		u := f.Until.UnixMilli()
		if u < 0 || u < lo {
			w.empty = true
			return w, nil
		}
		hiMs = u
		w.endID = fmt.Sprintf("%d-%d", u, uint64(1<<64-1))
		w.hiMem = "[" + pad(uint64(u), maxPaddedSeq)
	}
	if before != "" {
		bms, bseq, err := store.ParseID(before)
		if err != nil {
			return w, fmt.Errorf("%w: %w", store.ErrBadCursor, err)
		}
		if hiMs < 0 || int64(bms) <= hiMs {
			w.endID = "(" + store.FormatID(bms, bseq)
			w.hiMem = "(" + pad(bms, bseq)
			if bms == 0 && bseq == 0 || int64(bms) < lo {
				w.empty = true
			}
		}
	}
	return w, nil
}

// each calls fn with matching events, newest first, until fn returns false.
// With indexed criteria it walks the smallest matching index; otherwise the
// stream itself.
func (s *Store) each(ctx context.Context, f *store.Filter, w window, chunk int, fn func(store.Event) bool) error {
	if w.empty {
		return nil
	}
	match := f.MatchAlert
	if f.Text != "" {
		g := *f
		g.Text = ""
		lowered := strings.ToLower(f.Text)
		match = func(a *alert.Alert) bool { return g.MatchAlert(a) && store.MatchText(a, lowered) }
	}
	dims := indexDims(f)
	if len(dims) == 0 {
		return s.eachStream(ctx, w, chunk, match, fn)
	}
	// Pick the dimension with the fewest members in the window.
	pipe := s.c.Pipeline()
	counts := make([][]*goredis.IntCmd, len(dims))
	for d, keys := range dims {
		for _, k := range keys {
			counts[d] = append(counts[d], pipe.ZLexCount(ctx, s.pfx+"i:"+k, w.loMem, w.hiMem))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("redis store: count index: %w", err)
	}
	best, bestN := -1, int64(0)
	for d := range dims {
		var n int64
		for _, c := range counts[d] {
			n += c.Val()
		}
		if best < 0 || n < bestN {
			best, bestN = d, n
		}
	}
	if bestN == 0 {
		return nil
	}
	var curs []*lexCursor
	for i, k := range dims[best] {
		if counts[best][i].Val() > 0 {
			curs = append(curs, &lexCursor{key: s.pfx + "i:" + k, hi: w.hiMem, lo: w.loMem})
		}
	}
	idChunk := chunk
	if len(dims) > 1 {
		// Candidates are checked against the other indexes before their
		// bodies are read, so read IDs in bigger steps.
		idChunk = min(max(4*chunk, 256), 2000)
	}
	for {
		ids, err := s.nextIDs(ctx, curs, idChunk)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if ids, err = s.prune(ctx, dims, best, ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			continue
		}
		evs, err := s.fetch(ctx, ids)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if match(&e.Alert) && !fn(e) {
				return nil
			}
		}
	}
}

// prune keeps the IDs present in every indexed dimension other than the
// one they were read from (in any of its keys), using ZMSCORE.
func (s *Store) prune(ctx context.Context, dims [][]string, from int, ids []string) ([]string, error) {
	if len(dims) < 2 {
		return ids, nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		ms, seq, _ := store.ParseID(id)
		members[i] = pad(ms, seq)
	}
	pipe := s.c.Pipeline()
	cmds := make([][]*goredis.Cmd, len(dims))
	for d, keys := range dims {
		if d == from {
			continue
		}
		for _, k := range keys {
			args := append([]any{"zmscore", s.pfx + "i:" + k}, members...)
			cmds[d] = append(cmds[d], pipe.Do(ctx, args...))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: check indexes: %w", err)
	}
	keep := make([]bool, len(ids))
	for i := range keep {
		keep[i] = true
	}
	in := make([]bool, len(ids))
	for d := range dims {
		if d == from {
			continue
		}
		clear(in)
		for _, c := range cmds[d] {
			vals, err := c.Slice()
			if err != nil {
				return nil, fmt.Errorf("redis store: check indexes: %w", err)
			}
			for i, v := range vals {
				if v != nil && i < len(in) {
					in[i] = true
				}
			}
		}
		for i := range keep {
			keep[i] = keep[i] && in[i]
		}
	}
	out := ids[:0]
	for i, id := range ids {
		if keep[i] {
			out = append(out, id)
		}
	}
	return out, nil
}

func indexDims(f *store.Filter) [][]string {
	var dims [][]string
	if ps, ok := f.PrioritySet(); ok {
		keys := make([]string, len(ps))
		for i, p := range ps {
			keys[i] = "p:" + p.String()
		}
		dims = append(dims, keys)
	}
	add := func(prefix string, vals []string) {
		if len(vals) == 0 {
			return
		}
		keys := make([]string, len(vals))
		for i, v := range vals {
			keys[i] = prefix + v
		}
		dims = append(dims, keys)
	}
	add("r:", f.Rules)
	add("s:", f.Sources)
	add("h:", f.Hostnames)
	for _, t := range f.Tags {
		dims = append(dims, []string{"t:" + t})
	}
	return dims
}

// lexCursor walks one index newest first in chunks.
type lexCursor struct {
	key    string
	hi, lo string
	buf    []string
	done   bool
}

// nextIDs merges the cursors (disjoint sets: one priority, one rule… per
// event) into the next n IDs, newest first.
func (s *Store) nextIDs(ctx context.Context, curs []*lexCursor, n int) ([]string, error) {
	var out []string
	for len(out) < n {
		pipe := s.c.Pipeline()
		refill := map[*lexCursor]*goredis.StringSliceCmd{}
		for _, c := range curs {
			if len(c.buf) == 0 && !c.done {
				refill[c] = pipe.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: c.key, Start: c.hi, Stop: c.lo, ByLex: true, Rev: true, Count: int64(n)})
			}
		}
		if len(refill) > 0 {
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
				return nil, fmt.Errorf("redis store: read index: %w", err)
			}
			for c, cmd := range refill {
				c.buf = cmd.Val()
				if len(c.buf) < n {
					c.done = true
				}
				if len(c.buf) > 0 {
					c.hi = "(" + c.buf[len(c.buf)-1]
				}
			}
		}
		var pick *lexCursor
		for _, c := range curs {
			if len(c.buf) > 0 && (pick == nil || c.buf[0] > pick.buf[0]) {
				pick = c
			}
		}
		if pick == nil {
			break
		}
		// Take from pick while it stays the newest, up to a buffer's end.
		out = append(out, unpad(pick.buf[0]))
		pick.buf = pick.buf[1:]
	}
	return out, nil
}

// fetch reads events by ID in one round trip; trimmed ones are skipped.
func (s *Store) fetch(ctx context.Context, ids []string) ([]store.Event, error) {
	pipe := s.c.Pipeline()
	cmds := make([]*goredis.XMessageSliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.XRange(ctx, s.stream, id, id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: fetch events: %w", err)
	}
	out := make([]store.Event, 0, len(ids))
	for _, c := range cmds {
		for _, m := range c.Val() {
			if e, ok := decodeMessage(m); ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func (s *Store) eachStream(ctx context.Context, w window, chunk int, match func(*alert.Alert) bool, fn func(store.Event) bool) error {
	hi := w.endID
	for {
		msgs, err := s.c.XRevRangeN(ctx, s.stream, hi, w.startID, int64(chunk)).Result()
		if err != nil {
			return fmt.Errorf("redis store: read stream: %w", err)
		}
		for _, m := range msgs {
			e, ok := decodeMessage(m)
			if ok && match(&e.Alert) && !fn(e) {
				return nil
			}
		}
		if len(msgs) < chunk {
			return nil
		}
		hi = "(" + msgs[len(msgs)-1].ID
	}
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	w, err := s.window(&q.Filter, q.Before, time.Now())
	if err != nil {
		return store.Page{}, err
	}
	page := store.Page{Events: []store.Event{}}
	chunk := limit + 1
	if q.Text != "" {
		chunk = max(chunk, 500)
	}
	err = s.each(ctx, &q.Filter, w, chunk, func(e store.Event) bool {
		if len(page.Events) == limit {
			page.Next = page.Events[limit-1].ID
			return false
		}
		page.Events = append(page.Events, e)
		return true
	})
	if err != nil {
		return store.Page{}, err
	}
	return page, nil
}

// Stats implements store.Store. Windows filtered only by time are answered
// from the per-minute counters (whole minutes) plus an exact read of the
// partial minutes at the edges; other filters read the matching events
// through the indexes (at most statsScanCap of them).
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	now := time.Now()
	b := store.NewStatsBuilder(q)
	if q.TimeOnly() {
		if err := s.statsFromCounters(ctx, q, b, now); err != nil {
			return store.Stats{}, err
		}
		return b.Result(now), nil
	}
	w, err := s.window(&q.Filter, "", now)
	if err != nil {
		return store.Stats{}, err
	}
	n := 0
	err = s.each(ctx, &q.Filter, w, 1000, func(e store.Event) bool {
		ms, _, _ := store.ParseID(e.ID)
		b.Add(int64(ms), &e.Alert)
		n++
		return n < statsScanCap
	})
	if err != nil {
		return store.Stats{}, err
	}
	return b.Result(now), nil
}

func (s *Store) statsFromCounters(ctx context.Context, q store.StatsQuery, b *store.StatsBuilder, now time.Time) error {
	// The window [from, to] in unix ms, clamped to retained events.
	from := s.cutoff(now)
	if !q.Since.IsZero() {
		from = max(from, q.Since.UnixMilli())
	}
	first, err := s.c.XRangeN(ctx, s.stream, "-", "+", 1).Result()
	if err != nil {
		return fmt.Errorf("redis store: stats: %w", err)
	}
	if len(first) == 0 {
		return nil
	}
	fms, _, _ := store.ParseID(first[0].ID)
	// When the window starts before the oldest retained event, the first
	// minute's counter is used whole: it may include events retention
	// already dropped from that minute, an error confined to one minute.
	fromOpen := from <= int64(fms)
	from = max(from, int64(fms))
	to := now.UnixMilli()
	toOpen := q.Until.IsZero() // nothing newer than now exists
	if !toOpen {
		to = q.Until.UnixMilli()
	}
	if to < from {
		return nil
	}
	fromMin, toMin := from/60000, to/60000
	fromFull := fromOpen || from%60000 == 0
	toFull := toOpen || to%60000 == 59999
	var partial [][2]int64 // exact ranges to read instead of a counter
	useCounter := func(m int64) bool {
		switch {
		case fromMin == toMin:
			if fromFull && toFull {
				return true
			}
			return s.edge(ctx, &partial, from, to)
		case m == fromMin:
			return fromFull || s.edge(ctx, &partial, from, m*60000+59999)
		case m == toMin:
			return toFull || s.edge(ctx, &partial, m*60000, to)
		}
		return true
	}
	pipe := s.c.Pipeline()
	cmds := map[int64]*goredis.MapStringStringCmd{}
	for m := fromMin; m <= toMin; m++ {
		if useCounter(m) {
			cmds[m] = pipe.HGetAll(ctx, s.pfx+"m:"+strconv.FormatInt(m, 10))
		}
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return fmt.Errorf("redis store: read counters: %w", err)
		}
	}
	for m, c := range cmds {
		for field, v := range c.Val() {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || field == "t" {
				continue
			}
			dim, key, ok := strings.Cut(field, ":")
			if !ok {
				continue
			}
			if dim == "p" {
				b.AddTotal(key, n)
				b.AddSeries(m, key, n)
				continue
			}
			b.AddCount(dim, key, n)
		}
	}
	for _, r := range partial {
		w := window{startID: fmt.Sprintf("%d-0", r[0]), endID: fmt.Sprintf("%d-%d", r[1], uint64(1<<64-1))}
		err := s.eachStream(ctx, w, 1000, func(*alert.Alert) bool { return true }, func(e store.Event) bool {
			ms, _, _ := store.ParseID(e.ID)
			b.Add(int64(ms), &e.Alert)
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// edgeScanMax is the most events an edge minute is read for exactly;
// busier edge minutes are counted whole from their counter.
const edgeScanMax = 5000

// edge decides how to count a partial minute [a, z]: it queues an exact
// read and returns false when few events fall in it (counted cheaply from
// the priority indexes, which hold every event once), else returns true
// to use the whole minute's counter.
func (s *Store) edge(ctx context.Context, partial *[][2]int64, a, z int64) bool {
	pipe := s.c.Pipeline()
	var cmds []*goredis.IntCmd
	for _, p := range alert.Priorities {
		cmds = append(cmds, pipe.ZLexCount(ctx, s.pfx+"i:p:"+p.String(), "["+pad(uint64(a), 0), "["+pad(uint64(z), maxPaddedSeq)))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		*partial = append(*partial, [2]int64{a, z})
		return false
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	if n > edgeScanMax {
		return true
	}
	if n > 0 {
		*partial = append(*partial, [2]int64{a, z})
	}
	return false
}

// lastID resolves "$": the newest ID the stream ever had.
func (s *Store) lastID(ctx context.Context) (string, error) {
	info, err := s.c.XInfoStream(ctx, s.stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return "0-0", nil
		}
		return "", fmt.Errorf("redis store: stream info: %w", err)
	}
	return info.LastGeneratedID, nil
}

// Tail implements store.Store with XREAD, so it sees every replica's writes.
func (s *Store) Tail(ctx context.Context, after string, count int, block time.Duration) ([]store.Event, error) {
	if count <= 0 {
		count = store.DefaultLimit
	}
	switch after {
	case "", "0":
		after = "0-0"
	case "$":
		if block <= 0 {
			return nil, nil
		}
		var err error
		if after, err = s.lastID(ctx); err != nil {
			return nil, err
		}
	default:
		ms, seq, err := store.ParseID(after)
		if err != nil {
			return nil, err
		}
		after = store.FormatID(ms, seq)
	}
	deadline := time.Now().Add(block)
	for {
		if c := s.cutoff(time.Now()); c > 0 {
			if ms, _, _ := store.ParseID(after); int64(ms) < c {
				after = fmt.Sprintf("%d-%d", c-1, uint64(1<<64-1))
			}
		}
		wait := min(time.Until(deadline), blockSlice)
		args := &goredis.XReadArgs{Streams: []string{s.stream, after}, Count: int64(count), Block: -1}
		if wait > 0 {
			args.Block = max(wait, time.Millisecond)
		}
		res, err := s.c.XRead(ctx, args).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("redis store: tail: %w", err)
		}
		var out []store.Event
		for _, st := range res {
			for _, m := range st.Messages {
				if e, ok := decodeMessage(m); ok {
					out = append(out, e)
				}
			}
		}
		if len(out) > 0 || wait <= 0 {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
	}
}

// Health implements store.Store.
func (s *Store) Health(ctx context.Context) store.Health {
	h := store.Health{Kind: "redis"}
	version, err := s.version(ctx)
	if err != nil {
		h.Error = err.Error()
		h.Detail = "redis at " + strings.Join(s.opts.Addresses, ",")
		return h
	}
	h.Detail = fmt.Sprintf("redis %s at %s", version, strings.Join(s.opts.Addresses, ","))
	// A write, since Redis answers reads while refusing writes (maxmemory
	// reached, a read-only replica, min-replicas-to-write unmet, a failed
	// RDB save with stop-writes-on-bgsave-error).
	if err := s.c.Set(ctx, s.pfx+"health", time.Now().UnixMilli(), time.Minute).Err(); err != nil {
		h.Error = "writes refused: " + err.Error()
		return h
	}
	n, err := s.c.XLen(ctx, s.stream).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		h.Error = err.Error()
		return h
	}
	h.OK, h.Events = true, n
	return h
}

var _ store.Store = (*Store)(nil)
