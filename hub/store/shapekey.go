package store

import (
	"encoding/binary"

	"github.com/saker-sec/saker/hub/alert"
)

// AppendShapeKey appends to dst the key of a's shape: what a store indexes
// and counts an alert by — its priority, rule, source, hostname, tags (in
// order) and container name and image (present or not). Stores intern or
// memoise per shape, since senders repeat a few shapes over and over. Each
// part is length-prefixed, so two alerts share a key only when every part
// is equal, whatever bytes their strings hold.
func AppendShapeKey(dst []byte, a *alert.Alert) []byte {
	dst = append(dst, byte(a.Priority))
	for _, s := range [...]string{a.Rule, a.Source, a.Hostname} {
		dst = appendPart(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(a.Tags)))
	for _, t := range a.Tags {
		dst = appendPart(dst, t)
	}
	for _, f := range [...]string{"container.name", "container.image.repository"} {
		v, ok := a.Field(f)
		if !ok {
			dst = append(dst, 0)
			continue
		}
		dst = appendPart(append(dst, 1), v)
	}
	return dst
}

func appendPart(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}
