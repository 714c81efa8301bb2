package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// Helpers shared by the Store implementations, so both answer filters and
// statistics identically (the contract suite compares them).

// IDTime returns the arrival time encoded in an event ID (zero when invalid).
func IDTime(id string) time.Time {
	ms, _, err := ParseID(id)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}

// TimeOnly reports whether the filter constrains nothing but event time,
// which stores can answer from time-ordered data or counters alone.
func (f *Filter) TimeOnly() bool {
	_, restricted := f.PrioritySet()
	return !restricted && len(f.Rules) == 0 && len(f.Sources) == 0 &&
		len(f.Hostnames) == 0 && len(f.Tags) == 0 && f.Text == "" && len(f.Fields) == 0 && len(f.UUIDs) == 0
}

// PrioritySet returns the priorities the filter admits, most severe first,
// and whether that is a restriction at all (false: every priority). It
// combines Priorities and MinPriority, so stores can walk one index per
// admitted priority; an empty set with restricted true matches nothing.
func (f *Filter) PrioritySet() (ps []alert.Priority, restricted bool) {
	if len(f.Priorities) == 0 && f.MinPriority <= alert.PriorityDebug {
		return nil, false
	}
	ps = []alert.Priority{}
	for _, p := range alert.Priorities {
		if f.admitsPriority(p) {
			ps = append(ps, p)
		}
	}
	return ps, true
}

func (f *Filter) admitsPriority(p alert.Priority) bool {
	if f.MinPriority > alert.PriorityUnset && p < f.MinPriority {
		return false
	}
	return len(f.Priorities) == 0 || slices.Contains(f.Priorities, p)
}

// MatchTime reports whether an event time in unix milliseconds lies in
// [Since, Until] (both inclusive, at millisecond precision).
func (f *Filter) MatchTime(ms int64) bool {
	if !f.Since.IsZero() && ms < f.Since.UnixMilli() {
		return false
	}
	if !f.Until.IsZero() && ms > f.Until.UnixMilli() {
		return false
	}
	return true
}

// Match reports whether an event satisfies every criterion of the filter;
// the time bounds apply to its event time (EventMs).
func (f *Filter) Match(e *Event) bool {
	return f.MatchTime(e.EventMs()) && f.MatchAlert(&e.Alert)
}

// MatchAlert applies every criterion except the time bounds.
func (f *Filter) MatchAlert(a *alert.Alert) bool {
	if !f.admitsPriority(a.Priority) {
		return false
	}
	if len(f.Rules) > 0 && !contains(f.Rules, a.Rule) {
		return false
	}
	if len(f.Sources) > 0 && !contains(f.Sources, a.Source) {
		return false
	}
	if len(f.Hostnames) > 0 && !contains(f.Hostnames, a.Hostname) {
		return false
	}
	for _, t := range f.Tags {
		if !contains(a.Tags, t) {
			return false
		}
	}
	if len(f.UUIDs) > 0 && !contains(f.UUIDs, a.UUID) {
		return false
	}
	for k, want := range f.Fields {
		v, _ := a.FieldValue(k)
		if s, ok := fieldText(v); !ok || !contains(want, s) {
			return false
		}
	}
	if f.Text != "" && !MatchText(a, strings.ToLower(f.Text)) {
		return false
	}
	return true
}

// MatchText reports whether lowered (an already lower-cased needle) is a
// substring of the alert's output, rule or any output field value.
func MatchText(a *alert.Alert, lowered string) bool {
	if containsFold(a.Output, lowered) || containsFold(a.Rule, lowered) {
		return true
	}
	for _, v := range a.Fields() {
		if s, ok := fieldText(v); ok && containsFold(s, lowered) {
			return true
		}
	}
	return false
}

// fieldText is an output field value as text; false for null or absent.
func fieldText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case nil:
		return "", false
	default:
		return fmt.Sprint(v), true
	}
}

func containsFold(s, lowered string) bool {
	return strings.Contains(strings.ToLower(s), lowered)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Dimensions of Stats rankings, also the counter names stores may keep.
const (
	DimRule      = "rule"
	DimHostname  = "hostname"
	DimSource    = "source"
	DimTag       = "tag"
	DimContainer = "container"
	DimImage     = "image"
)

// Dimensions returns, for one alert, the (dimension, key) pairs Stats
// ranks: rule, hostname, source, each tag, container name and image.
// Empty values and the pseudo container "host" are left out.
func Dimensions(a *alert.Alert) [][2]string {
	out := make([][2]string, 0, 5+len(a.Tags))
	add := func(dim, key string) {
		if key != "" {
			out = append(out, [2]string{dim, key})
		}
	}
	add(DimRule, a.Rule)
	add(DimHostname, a.Hostname)
	add(DimSource, a.Source)
	for _, t := range a.Tags {
		add(DimTag, t)
	}
	if c, ok := a.Field("container.name"); ok && c != "host" {
		add(DimContainer, c)
	}
	if img, ok := a.Field("container.image.repository"); ok {
		add(DimImage, img)
	}
	return out
}

// StatsBuilder accumulates counts into a Stats answer. Stores feed it
// either matching events (Add) or pre-aggregated counters (AddCount,
// AddSeries, AddTotal); Result lays out the ranked lists and the series.
type StatsBuilder struct {
	q      StatsQuery
	total  int64
	byPrio map[string]int64
	dims   map[string]map[string]int64
	// minutes holds per-minute counts per priority, keyed by unix minute.
	minutes map[int64]map[string]int64
}

// NewStatsBuilder starts an empty aggregation for q.
func NewStatsBuilder(q StatsQuery) *StatsBuilder {
	return &StatsBuilder{q: q, byPrio: map[string]int64{}, dims: map[string]map[string]int64{}, minutes: map[int64]map[string]int64{}}
}

// Add counts one event whose event time is ms (unix milliseconds).
func (b *StatsBuilder) Add(ms int64, a *alert.Alert) {
	p := a.Priority.String()
	b.total++
	b.byPrio[p]++
	for _, d := range Dimensions(a) {
		b.AddCount(d[0], d[1], 1)
	}
	b.AddSeries(ms/60000, p, 1)
}

// AddTotal adds n events of priority p to the totals (not the series).
func (b *StatsBuilder) AddTotal(p string, n int64) {
	b.total += n
	b.byPrio[p] += n
}

// AddCount adds n to key in a ranked dimension (DimRule…).
func (b *StatsBuilder) AddCount(dim, key string, n int64) {
	m := b.dims[dim]
	if m == nil {
		m = map[string]int64{}
		b.dims[dim] = m
	}
	m[key] += n
}

// AddSeries adds n events of priority p in the given unix minute.
func (b *StatsBuilder) AddSeries(minute int64, p string, n int64) {
	m := b.minutes[minute]
	if m == nil {
		m = map[string]int64{}
		b.minutes[minute] = m
	}
	m[p] += n
}

// MaxBuckets bounds a series; a requested bucket giving more is widened.
const MaxBuckets = 2000

// niceBuckets are the widths an automatic bucket is rounded up to.
var niceBuckets = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour}

// ChooseBucket returns the series resolution for a window: the requested
// one rounded up to whole minutes, or the smallest "nice" width giving at
// most ~120 buckets.
func ChooseBucket(requested, span time.Duration) time.Duration {
	if requested > 0 {
		b := (requested + time.Minute - 1) / time.Minute * time.Minute
		for span/b > MaxBuckets {
			b *= 2
		}
		return b
	}
	for _, b := range niceBuckets {
		if span/b < 120 {
			return b
		}
	}
	days := span/(120*24*time.Hour) + 1
	return days * 24 * time.Hour
}

// Result returns the aggregated Stats. The series covers [Since, Until]
// (Since defaults to the oldest counted minute, Until to now or the newest
// counted minute if later) in buckets
// aligned to multiples of the bucket width since the Unix epoch, empty
// buckets included.
func (b *StatsBuilder) Result(now time.Time) Stats {
	top := b.q.Top
	if top <= 0 {
		top = 10
	}
	st := Stats{
		Total:      b.total,
		ByPriority: b.byPrio,
		Rules:      rank(b.dims[DimRule], top),
		Hostnames:  rank(b.dims[DimHostname], top),
		Sources:    rank(b.dims[DimSource], top),
		Tags:       rank(b.dims[DimTag], top),
		Containers: rank(b.dims[DimContainer], top),
		Images:     rank(b.dims[DimImage], top),
		Series:     []Bucket{},
	}
	from, to := b.q.Since, b.q.Until
	if to.IsZero() {
		// Up to now, or to the newest counted minute: event times may run
		// up to store.MaxSkew ahead.
		to = now
		for m := range b.minutes {
			if t := time.Unix(m*60, 0); t.After(to) {
				to = t
			}
		}
	}
	if from.IsZero() {
		first := int64(-1)
		for m := range b.minutes {
			if first < 0 || m < first {
				first = m
			}
		}
		if first < 0 {
			st.Bucket = ChooseBucket(b.q.Bucket, 0)
			return st
		}
		from = time.Unix(first*60, 0)
	}
	if to.Before(from) {
		to = from
	}
	step := ChooseBucket(b.q.Bucket, to.Sub(from))
	st.Bucket = step
	stepMin := int64(step / time.Minute)
	firstB := floorDiv(from.Unix()/60, stepMin)
	lastB := floorDiv(to.Unix()/60, stepMin)
	for i := firstB; i <= lastB; i++ {
		st.Series = append(st.Series, Bucket{Start: time.Unix(i*stepMin*60, 0).UTC(), Counts: map[string]int64{}})
	}
	for m, counts := range b.minutes {
		i := floorDiv(m, stepMin) - firstB
		if i < 0 || i >= int64(len(st.Series)) {
			continue
		}
		for p, n := range counts {
			st.Series[i].Counts[p] += n
		}
	}
	return st
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func rank(m map[string]int64, top int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Key: k, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	if len(out) > top {
		out = out[:top]
	}
	return out
}
