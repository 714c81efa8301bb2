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
//	events          stream in arrival order; entry field "n" = the alert's
//	                JSON, S2-compressed ("b" plain; older entries: "c", "s"
//	                S2 with a dictionary, "d", "z" zstd, "a" plain; codec.go)
//	x:r:<rule>      sorted sets indexing the stream in query order (event
//	x:h:<hostname>  time, then ID): all scores 0, 16-byte members (event ms,
//	                stream ID ms and sequence, big-endian) so lexical order
//	                is query order. The rule sets together hold every event
//	                once and serve unfiltered queries.
//	g:p:<priority>  sets of the rules that carried a priority, a source or
//	g:s:<source>    a tag: a query by them walks those rules' indexes (see
//	g:t:<tag>       indexSuffixes); the priority sets list every rule
//	m:<unix minute> hash of counters per event-time minute: one field per
//	                combination of priority and dimensions (counters.go;
//	                older alerts: p:<priority>, rule:<rule>, …)
//	u:<bucket>      uuid → ID of recent appends (dedupe window); field ""
//	                marks a bucket whose expiry is set
//	dl:<group>      list of dead letters (JSON), newest first
//	layout          "4" once the indexes are in this layout
//
// Layout 1 (before event time) indexed arrival order in "i:*" sets, layout
// 2 indexed sources and tags per event ("x:s:*", "x:t:*"), layout 3
// priorities per event ("x:p:*"); a store opening such data re-indexes the
// retained stream in the background and deletes those keys (migrate.go). Layout 1's per-minute counters, by arrival
// minute, are kept as counts of those minutes.
//
// Durability: Append returns once Redis has executed the write (one Lua
// script per batch, atomic), so the hub answers 200 only after Redis
// acknowledged it. Whether it survives a Redis crash is governed by Redis
// persistence: run Redis with appendonly yes and appendfsync always (every
// write fsynced before the reply) or everysec (up to a second at risk).
//
// Retention (retention.go) runs in the background, off the append path:
// every TrimInterval a pass removes the events that arrived more than
// MaxAge ago and those beyond MaxEvents, oldest first, each chunk with its
// index entries and counts in one atomic script. Reads hide events past
// MaxAge meanwhile; MaxEvents may be exceeded by one interval's appends. A
// forwarder lagging by more than the retention loses the trimmed events
// (they are no longer lag).
//
// Event time: see store.EventMs. Retention counts from arrival, so a late
// alert is kept as long as any other.
//
// Stats: windows filtered only by time are summed from the per-minute
// counters; partial minutes at the edges are read exactly when they hold
// at most 5000 events. Other filters aggregate the matching events through
// the indexes (at most 200 000).
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// MaxEvents bounds the stream (applied by the background retention
	// pass); 0 = DefaultMaxEvents.
	MaxEvents int64
	// MaxAge drops events that arrived longer ago than this; 0 =
	// DefaultMaxAge, negative = no age limit.
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
	// TrimInterval is how often the background retention pass runs;
	// 0 = DefaultTrimInterval.
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
	trim   *goredis.Script
	// commits coalesces concurrent Appends into script runs (commit.go).
	commits *committer
	// sets remembers the rule sets written lately (rulesets.go).
	sets ruleSetMemo
	// shapes keeps the alert shapes built lately (shapes.go).
	shapes *shapeMemo
	// bufs are the compressed entries' buffers (codec.go).
	bufs entryBufs
	log  *slog.Logger
	done chan struct{}
	// migrated is set once the data is known to be in this layout.
	migrated atomic.Bool
	wg       sync.WaitGroup
	once     sync.Once
}

//go:embed append.lua
var appendLua string

//go:embed trim.lua
var trimLua string

// freshLayout sets the layout key (KEYS[2]) to ARGV[1] when the stream
// (KEYS[1]) does not exist, atomically, so an append of another replica
// cannot slip in between.
var freshLayout = goredis.NewScript(`if redis.call("EXISTS", KEYS[1]) == 0 then
  redis.call("SET", KEYS[2], ARGV[1], "NX")
end
return 0`)

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
	s := &Store{opts: opts, c: c, w: w, pfx: opts.KeyPrefix + "{" + opts.HashTag + "}:", script: goredis.NewScript(appendLua), trim: goredis.NewScript(trimLua),
		shapes: newShapeMemo(), log: opts.Logger, done: make(chan struct{})}
	s.commits = newCommitter(maxWrites, maxCoalesced, s.write)
	s.sets.ttl = ruleSetTTL
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
	// A store with no events yet starts in this layout: marked before the
	// first append, so the janitor never takes those appends for an older
	// layout's and re-indexes them.
	if err := freshLayout.Run(ctx, c, []string{s.stream, s.pfx + "layout"}, layout).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		c.Close()
		w.Close()
		return nil, fmt.Errorf("redis store: mark the layout of a new store: %w", err)
	}
	s.wg.Add(1)
	go s.janitor()
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
		s.commits.close()
		s.wg.Wait()
		err = errors.Join(s.c.Close(), s.w.Close())
	})
	return err
}

// memberLen is the size of an index member: event ms (6 bytes), the
// stream ID's ms (6) and sequence (4), big-endian.
const memberLen = 16

// member builds the index member of an event.
func member(evMs int64, ms, seq uint64) string {
	var b [memberLen]byte
	putBE(b[0:6], uint64(evMs))
	putBE(b[6:12], ms)
	putBE(b[12:16], seq)
	return string(b[:])
}

// timeBound is the smallest member with event time evMs: with "[" an
// inclusive lower bound, with "(" an exclusive upper bound for evMs-1.
func timeBound(evMs int64) string {
	var b [6]byte
	putBE(b[:], uint64(max(evMs, 0)))
	return string(b[:])
}

func putBE(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func getBE(b string) uint64 {
	var v uint64
	for i := 0; i < len(b); i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// memberID returns the event ID of an index member.
func memberID(m string) (string, bool) {
	if len(m) != memberLen {
		return "", false
	}
	return store.FormatID(getBE(m[6:12]), getBE(m[12:16])), true
}

// maxEventMs is the largest event time an index member can hold.
const maxEventMs = 1<<48 - 1

// eventMsArg is the event time passed to the append script: the alert's
// time, or 0 when it has none (the script files it under its arrival, as
// store.EventMs does).
func eventMsArg(a *alert.Alert) int64 {
	if a.Time.IsZero() || a.Time.Unix() < 0 || a.Time.UnixMilli() > maxEventMs {
		return 0
	}
	return a.Time.UnixMilli()
}

// indexSuffixes names the sorted sets an alert is indexed in: its rule and
// its hostname. Priority, tags and source are properties of a rule in
// Falco, so they are not indexed per event: ruleSets and prioritySet record
// which rules carried each (a few members per value, not an entry per
// event), and a query by them walks those rules' indexes and checks each
// event. An index entry costs Redis about 130 bytes and 2 µs of CPU per
// alert (BenchmarkAppendScriptParts); the rule indexes together hold every
// event once and serve unfiltered queries.
func indexSuffixes(a *alert.Alert) []string {
	return []string{"r:" + a.Rule, "h:" + a.Hostname}
}

// prioritySet names the set ("g:p:<priority>") that must hold an alert's
// rule. Unlike ruleSets it is written with every append (one SADD per rule
// in a batch), not only when ruleSetMemo has not seen it lately: every
// unfiltered query finds the events through these sets, so a FLUSHALL must
// not hide a rule's new alerts from them for ruleSetTTL.
func prioritySet(a *alert.Alert) string {
	return "g:p:" + a.Priority.String()
}

// ruleSets names the sets ("g:t:<tag>", "g:s:<source>") that must hold an
// alert's rule.
func ruleSets(a *alert.Alert) []string {
	out := make([]string, 0, 1+len(a.Tags))
	out = append(out, "g:s:"+a.Source)
	for _, t := range a.Tags {
		out = append(out, "g:t:"+t)
	}
	return out
}

func (s *Store) counterTTL() time.Duration {
	return max(s.opts.MaxAge+time.Hour, minCounterTTL)
}

// Append implements store.Store: one atomic Lua script run stores the batch,
// together with the batches of concurrent Appends (group commit).
func (s *Store) Append(ctx context.Context, alerts []alert.Alert) ([]string, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	now := time.Now()
	req, sent, err := s.request(alerts, now)
	if err != nil {
		return nil, err
	}
	ids, err := s.commits.commit(ctx, req)
	if err == nil {
		for _, w := range sent {
			s.sets.written(w.rule, w.sets, now)
		}
	}
	return ids, err
}

// setsOf are rule sets an append writes.
type setsOf struct {
	rule string
	sets []string
}

// request builds alerts' part of the append script's arguments, and the
// rule sets it writes (to remember once Redis acknowledged them).
func (s *Store) request(alerts []alert.Alert, now time.Time) (*commitReq, []setsOf, error) {
	req := newCommitReq(len(alerts))
	var sent []setsOf // rule sets this append writes
	// The shapes in req, numbered from 1: the first few in an array (a
	// lone alert allocates no map), the rest in shapeOf.
	var few [8]*shape
	var shapeOf map[*shape]int
	for i := range alerts {
		a := &alerts[i]
		if !a.Priority.Valid() {
			return nil, nil, fmt.Errorf("append alert %d: invalid priority %d", i, int(a.Priority))
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
			return nil, nil, fmt.Errorf("append alert %d: encode: %w", i, err)
		}
		sh := s.shapes.of(a)
		n := slices.Index(few[:min(req.shapes, len(few))], sh) + 1
		if n == 0 && shapeOf != nil {
			n = shapeOf[sh]
		}
		if n == 0 {
			missing := s.sets.missing(sh.rule, sh.sets, now)
			if len(missing) > 0 {
				sent = append(sent, setsOf{sh.rule, missing})
			}
			req.addCachedShape(sh, missing)
			n = req.shapes
			if n <= len(few) {
				few[n-1] = sh
			} else {
				if shapeOf == nil {
					shapeOf = make(map[*shape]int)
				}
				shapeOf[sh] = n
			}
		}
		buf := s.bufs.get()
		field, entry := encodeEntryTo(*buf, body)
		if field == fieldS2 {
			*buf = entry
			req.bufs = append(req.bufs, buf)
		} else {
			s.bufs.put(buf)
		}
		uuid := a.UUID
		if a.UUIDGenerated {
			uuid = "" // made up by the hub: no retry can carry it, not remembered
		}
		fieldArg := any(fieldJSON) // a constant: boxed without allocating
		if field == fieldS2 {
			fieldArg = fieldS2
		}
		req.alerts = append(req.alerts, uuid, fieldArg, entry, eventMsArg(a), n)
	}
	return req, sent, nil
}

func decodeMessage(m goredis.XMessage) (store.Event, bool) {
	body, ok := entryJSON(m.Values)
	if !ok {
		return store.Event{}, false
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	e := store.Event{ID: m.ID, Received: store.IDTime(m.ID)}
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

// window is a query's bounds as index member ranges (ZRANGE BYLEX).
type window struct {
	lo, hi string // lexical bounds: "-", "[<member>"; "+", "(<member>"
	cutoff int64  // arrival ms below which events are expired
	empty  bool
}

func (s *Store) window(ctx context.Context, f *store.Filter, before string, now time.Time) (window, error) {
	w := window{lo: "-", hi: "+", cutoff: s.cutoff(now)}
	if !f.Since.IsZero() {
		w.lo = "[" + timeBound(f.Since.UnixMilli())
	}
	var hi string // exclusive upper member, "" = none
	if !f.Until.IsZero() {
		u := f.Until.UnixMilli()
		if u < 0 || (!f.Since.IsZero() && u < f.Since.UnixMilli()) {
			w.empty = true
			return w, nil
		}
		if u < maxEventMs {
			hi = timeBound(u + 1)
		}
	}
	if before != "" {
		p, err := store.ParseCursor(before)
		if err != nil {
			return w, err
		}
		ms, seq, err := store.ParseID(p.ID)
		if err != nil {
			return w, fmt.Errorf("%w: %w", store.ErrBadCursor, err)
		}
		if store.BareCursor(before) {
			if e, err := s.Get(ctx, p.ID); err == nil {
				p = store.PositionOf(&e)
			}
		}
		if m := member(min(p.Ms, maxEventMs), ms, seq); hi == "" || m < hi {
			hi = m
		}
	}
	if hi != "" {
		w.hi = "(" + hi
		if w.lo != "-" && w.lo[1:] >= hi {
			w.empty = true
		}
	}
	return w, nil
}

// rulesOf returns the index keys ("r:<rule>") of the rules in the
// priority sets of ps ("g:p:<priority>"), and, until the store knows its
// data is in this layout, the priority indexes of layout 3 ("p:<priority>",
// which hold that layout's events while the migration adds their rules to
// the sets; an event in both is merged once, see nextMembers).
func (s *Store) rulesOf(ctx context.Context, ps []alert.Priority) ([]string, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ps))
	for i, p := range ps {
		keys[i] = s.pfx + "g:p:" + p.String()
	}
	rules, err := s.c.SUnion(ctx, keys...).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: rules by priority: %w", err)
	}
	out := make([]string, 0, len(rules)+len(ps))
	for _, r := range rules {
		out = append(out, "r:"+r)
	}
	if !s.migrated.Load() {
		for _, p := range ps {
			out = append(out, "p:"+p.String())
		}
	}
	return out, nil
}

// everyEvent returns index keys that together hold every event: the
// indexes of every rule that carried a priority.
func (s *Store) everyEvent(ctx context.Context) ([]string, error) {
	return s.rulesOf(ctx, alert.Priorities)
}

// each calls fn with matching events in query order (newest event time
// first) until fn returns false. It walks the smallest matching index, or
// every rule's index (every event) when no indexed criterion applies.
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
	dims, err := s.indexDims(ctx, f)
	if err != nil {
		return err
	}
	if len(dims) == 0 {
		all, err := s.everyEvent(ctx)
		if err != nil {
			return err
		}
		dims = [][]string{all}
	}
	var curs []*lexCursor
	best := 0 // the dimension walked
	if len(dims) == 1 {
		// Nothing to choose: the cursors' first reads find the empty ones
		// (an unfiltered query has one per rule: counting them first was
		// another round of a command per rule).
		for _, k := range dims[0] {
			curs = append(curs, &lexCursor{key: s.pfx + "x:" + k, hi: w.hi, lo: w.lo})
		}
	} else {
		// Pick the dimension with the fewest members in the window.
		pipe := s.c.Pipeline()
		counts := make([][]*goredis.IntCmd, len(dims))
		for d, keys := range dims {
			for _, k := range keys {
				counts[d] = append(counts[d], pipe.ZLexCount(ctx, s.pfx+"x:"+k, w.lo, w.hi))
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return fmt.Errorf("redis store: count index: %w", err)
		}
		best = -1
		bestN := int64(0)
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
		for i, k := range dims[best] {
			if counts[best][i].Val() > 0 {
				curs = append(curs, &lexCursor{key: s.pfx + "x:" + k, hi: w.hi, lo: w.lo})
			}
		}
	}
	idChunk := chunk
	if len(dims) > 1 {
		// Candidates are checked against the other indexes before their
		// bodies are read, so read members in bigger steps.
		idChunk = min(max(4*chunk, 256), 2000)
	}
	for {
		members, err := s.nextMembers(ctx, curs, idChunk)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return nil
		}
		if members, err = s.prune(ctx, dims, best, members); err != nil {
			return err
		}
		if len(members) == 0 {
			continue
		}
		evs, err := s.fetch(ctx, members, w.cutoff)
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

// prune keeps the members present in every indexed dimension other than
// the one they were read from (in any of its keys), using ZMSCORE.
func (s *Store) prune(ctx context.Context, dims [][]string, from int, members []string) ([]string, error) {
	if len(dims) < 2 {
		return members, nil
	}
	args := make([]any, len(members))
	for i, m := range members {
		args[i] = m
	}
	pipe := s.c.Pipeline()
	cmds := make([][]*goredis.Cmd, len(dims))
	for d, keys := range dims {
		if d == from {
			continue
		}
		for _, k := range keys {
			cmds[d] = append(cmds[d], pipe.Do(ctx, append([]any{"zmscore", s.pfx + "x:" + k}, args...)...))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: check indexes: %w", err)
	}
	keep := make([]bool, len(members))
	for i := range keep {
		keep[i] = true
	}
	in := make([]bool, len(members))
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
	out := members[:0]
	for i, m := range members {
		if keep[i] {
			out = append(out, m)
		}
	}
	return out, nil
}

// indexDims returns the index keys a filter can walk, one list per
// criterion (an event matches a criterion when it is in any key of its
// list). Sources and tags resolve to the rules that carried them.
func (s *Store) indexDims(ctx context.Context, f *store.Filter) ([][]string, error) {
	var dims [][]string
	if ps, ok := f.PrioritySet(); ok {
		keys, err := s.rulesOf(ctx, ps)
		if err != nil {
			return nil, err
		}
		dims = append(dims, keys) // nil when no rule ever carried them: nothing matches
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
	add("h:", f.Hostnames)
	if len(f.Sources) == 0 && len(f.Tags) == 0 {
		return dims, nil
	}
	pipe := s.c.Pipeline()
	var sets []*goredis.StringSliceCmd
	if len(f.Sources) > 0 {
		keys := make([]string, len(f.Sources))
		for i, src := range f.Sources {
			keys[i] = s.pfx + "g:s:" + src
		}
		sets = append(sets, pipe.SUnion(ctx, keys...))
	}
	for _, t := range f.Tags {
		sets = append(sets, pipe.SMembers(ctx, s.pfx+"g:t:"+t))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: rules by source and tag: %w", err)
	}
	for _, c := range sets {
		add("r:", c.Val())
		if len(c.Val()) == 0 {
			dims = append(dims, nil) // no rule ever carried it: nothing matches
		}
	}
	return dims, nil
}

// lexCursor walks one index newest first in chunks.
type lexCursor struct {
	key    string
	hi, lo string
	buf    []string
	done   bool
	// step is how many members its next read asks for: a merge of many
	// cursors (an unfiltered query has one per rule) starts each with a
	// share of the page and doubles the reads of those it drains, rather
	// than reading a whole page from every one.
	step int
}

// nextMembers merges the cursors into the next n members in query order.
// The sets are disjoint (one rule, one hostname… per event) but for a
// store migrating from layout 3, whose events are in a priority set and a
// rule set both: a member equal to the one before it is skipped.
func (s *Store) nextMembers(ctx context.Context, curs []*lexCursor, n int) ([]string, error) {
	var out []string
	for len(out) < n {
		pipe := s.c.Pipeline()
		type read struct {
			cmd   *goredis.StringSliceCmd
			count int
		}
		refill := map[*lexCursor]read{}
		for _, c := range curs {
			if len(c.buf) == 0 && !c.done {
				if c.step == 0 {
					c.step = min(n, max(4, 2*n/len(curs)))
				}
				refill[c] = read{pipe.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: c.key, Start: c.hi, Stop: c.lo, ByLex: true, Rev: true, Count: int64(c.step)}), c.step}
				c.step = min(2*c.step, max(n, c.step))
			}
		}
		if len(refill) > 0 {
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
				return nil, fmt.Errorf("redis store: read index: %w", err)
			}
			for c, r := range refill {
				c.buf = r.cmd.Val()
				if len(c.buf) < r.count {
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
		m := pick.buf[0]
		out = append(out, m)
		// Every cursor not done has its next member buffered (refilled
		// above), so a copy of m elsewhere is at the head of its buffer.
		for _, c := range curs {
			if len(c.buf) > 0 && c.buf[0] == m {
				c.buf = c.buf[1:]
			}
		}
	}
	return out, nil
}

// fetch reads the events of index members in one round trip; events
// trimmed, or arrived before cutoff (expired, awaiting the retention
// pass), are skipped.
func (s *Store) fetch(ctx context.Context, members []string, cutoff int64) ([]store.Event, error) {
	pipe := s.c.Pipeline()
	cmds := make([]*goredis.XMessageSliceCmd, 0, len(members))
	for _, m := range members {
		id, ok := memberID(m)
		if !ok || int64(getBE(m[6:12])) < cutoff {
			continue
		}
		cmds = append(cmds, pipe.XRange(ctx, s.stream, id, id))
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: fetch events: %w", err)
	}
	out := make([]store.Event, 0, len(cmds))
	for _, c := range cmds {
		for _, m := range c.Val() {
			if e, ok := decodeMessage(m); ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	w, err := s.window(ctx, &q.Filter, q.Before, time.Now())
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
			page.Next = store.PositionOf(&page.Events[limit-1]).Cursor()
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
	w, err := s.window(ctx, &q.Filter, "", now)
	if err != nil {
		return store.Stats{}, err
	}
	n := 0
	err = s.each(ctx, &q.Filter, w, 1000, func(e store.Event) bool {
		b.Add(e.EventMs(), &e.Alert)
		n++
		return n < statsScanCap
	})
	if err != nil {
		return store.Stats{}, err
	}
	return b.Result(now), nil
}

// eventSpan returns the oldest and newest event time indexed, from the
// ends of the rule indexes; ok is false when they are empty.
func (s *Store) eventSpan(ctx context.Context) (first, last int64, ok bool, err error) {
	all, err := s.everyEvent(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	pipe := s.c.Pipeline()
	var cmds []*goredis.StringSliceCmd
	for _, k := range all {
		cmds = append(cmds, pipe.ZRange(ctx, s.pfx+"x:"+k, 0, 0), pipe.ZRange(ctx, s.pfx+"x:"+k, -1, -1))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return 0, 0, false, fmt.Errorf("redis store: stats: %w", err)
	}
	for i, c := range cmds {
		for _, m := range c.Val() {
			if len(m) != memberLen {
				continue
			}
			t := int64(getBE(m[:6]))
			switch {
			case !ok:
				first, last, ok = t, t, true
			case i%2 == 0:
				first = min(first, t)
			default:
				last = max(last, t)
			}
		}
	}
	return first, last, ok, nil
}

func (s *Store) statsFromCounters(ctx context.Context, q store.StatsQuery, b *store.StatsBuilder, now time.Time) error {
	// The window [from, to] in unix ms of event time, clamped to the
	// event times indexed.
	first, last, ok, err := s.eventSpan(ctx)
	if err != nil || !ok {
		return err
	}
	from, to := first, last
	fromOpen, toOpen := true, true // nothing indexed lies beyond
	if !q.Since.IsZero() && q.Since.UnixMilli() > first {
		from, fromOpen = q.Since.UnixMilli(), false
	}
	if !q.Until.IsZero() && q.Until.UnixMilli() < last {
		to, toOpen = q.Until.UnixMilli(), false
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
	type combined struct {
		priority string
		dims     [][2]string
	}
	parsed := map[string]combined{} // the same combinations recur minute after minute
	for m, c := range cmds {
		for field, v := range c.Val() {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				continue
			}
			if strings.HasPrefix(field, "[") {
				k, seen := parsed[field]
				if !seen {
					var ok bool
					if k.priority, k.dims, ok = parseCounterKey(field); !ok {
						continue
					}
					parsed[field] = k
				}
				b.AddTotal(k.priority, n)
				b.AddSeries(m, k.priority, n)
				for _, d := range k.dims {
					b.AddCount(d[0], d[1], n)
				}
				continue
			}
			dim, key, ok := strings.Cut(field, ":")
			if !ok {
				continue // "t", a total layout 1 kept
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
		w := window{lo: "[" + timeBound(r[0]), hi: "(" + timeBound(r[1]+1), cutoff: s.cutoff(now)}
		err := s.each(ctx, &store.Filter{}, w, 1000, func(e store.Event) bool {
			b.Add(e.EventMs(), &e.Alert)
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

// edge decides how to count a partial minute [a, z] of event time: it
// queues an exact read and returns false when few events fall in it
// (counted cheaply from the rule indexes, which hold every event once),
// else returns true to use the whole minute's counter.
func (s *Store) edge(ctx context.Context, partial *[][2]int64, a, z int64) bool {
	all, err := s.everyEvent(ctx)
	if err != nil {
		*partial = append(*partial, [2]int64{a, z})
		return false
	}
	pipe := s.c.Pipeline()
	var cmds []*goredis.IntCmd
	for _, k := range all {
		cmds = append(cmds, pipe.ZLexCount(ctx, s.pfx+"x:"+k, "["+timeBound(a), "("+timeBound(z+1)))
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

// Head implements store.Store: the stream's newest ID.
func (s *Store) Head(ctx context.Context) (string, error) {
	id, err := s.lastID(ctx)
	if id == "0-0" {
		id = "0"
	}
	return id, err
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
