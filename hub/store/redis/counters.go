package redis

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// Per-minute counters ("m:<unix minute>" hashes) count alerts by event
// minute for Stats. An alert increments one field, counterKey: a JSON
// array of its priority and its dimensions (store.Dimensions) as pairs,
//
//	["Warning","rule","Terminal shell in container","hostname","node-2",…]
//
// so the append script runs one HINCRBY per alert (per distinct
// combination in a batch) where a field per dimension took about ten,
// each a Redis command of its own. Stats expands each field into its
// dimensions. Alerts stored before were counted with a field per
// dimension (counterFields), "p:<priority>", "rule:<rule>", …; Stats
// reads both, and retention undoes each alert the way its stream entry
// says it was counted (countedPerDimension).

// counterKey is the combined counter field of an alert.
func counterKey(a *alert.Alert) string {
	dims := store.Dimensions(a)
	var b strings.Builder
	b.Grow(64 + 32*len(dims))
	b.WriteByte('[')
	jsonString(&b, a.Priority.String())
	for _, d := range dims {
		b.WriteByte(',')
		jsonString(&b, d[0])
		b.WriteByte(',')
		jsonString(&b, d[1])
	}
	b.WriteByte(']')
	return b.String()
}

// jsonString writes s as a JSON string: as it is when nothing in it needs
// escaping (names, hosts, tags), through encoding/json otherwise.
func jsonString(b *strings.Builder, s string) {
	plain := utf8.ValidString(s)
	for i := 0; plain && i < len(s); i++ {
		c := s[i]
		plain = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	if !plain {
		q, _ := json.Marshal(s) // a string always encodes
		b.Write(q)
		return
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// parseCounterKey returns the priority and the dimension pairs of a
// combined counter field; ok is false for any other field.
func parseCounterKey(field string) (priority string, dims [][2]string, ok bool) {
	if !strings.HasPrefix(field, "[") {
		return "", nil, false
	}
	var parts []string
	if err := json.Unmarshal([]byte(field), &parts); err != nil || len(parts)%2 != 1 {
		return "", nil, false
	}
	dims = make([][2]string, 0, len(parts)/2)
	for i := 1; i < len(parts); i += 2 {
		dims = append(dims, [2]string{parts[i], parts[i+1]})
	}
	return parts[0], dims, true
}

// counterField names a per-dimension counter field (older alerts).
func counterField(dim, key string) string { return dim + ":" + key }

// counterFields are the per-dimension counter fields an alert stored
// before the combined field incremented.
func counterFields(a *alert.Alert) []string {
	dims := store.Dimensions(a)
	out := make([]string, 0, 1+len(dims))
	out = append(out, counterField("p", a.Priority.String()))
	for _, d := range dims {
		out = append(out, counterField(d[0], d[1]))
	}
	return out
}
