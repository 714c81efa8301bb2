package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseID splits a "<unix-ms>-<seq>" event ID. An ID from a sharded store
// carries its shard after a dot ("<unix-ms>-<seq>.<shard>", see ShardID);
// ParseID ignores it.
func ParseID(id string) (ms, seq uint64, err error) {
	local, _, err := SplitShard(id)
	if err != nil {
		return 0, 0, err
	}
	return parseLocal(id, local)
}

func parseLocal(id, local string) (ms, seq uint64, err error) {
	a, b, ok := strings.Cut(local, "-")
	if !ok {
		b = "0"
	}
	if ms, err = strconv.ParseUint(a, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("bad event id %q", id)
	}
	if seq, err = strconv.ParseUint(b, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("bad event id %q", id)
	}
	return ms, seq, nil
}

// FormatID builds an event ID.
func FormatID(ms, seq uint64) string {
	var b [41]byte // two uint64s and the dash: one allocation, the string's
	return string(AppendID(b[:0], ms, seq))
}

// AppendID appends the event ID FormatID builds to dst.
func AppendID(dst []byte, ms, seq uint64) []byte {
	dst = strconv.AppendUint(dst, ms, 10)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, seq, 10)
}

// MaxShards bounds the shard number an ID may carry.
const MaxShards = 1024

// ShardID names the event local (an ID of one shard's store) in a store
// composed of shards: "<local>.<shard>".
func ShardID(local string, shard int) string {
	return local + "." + strconv.Itoa(shard)
}

// SplitShard splits an ID into the shard's own ID and the shard number;
// an ID without a shard (one written by a single store) is shard 0.
func SplitShard(id string) (local string, shard int, err error) {
	local, sh, ok := strings.Cut(id, ".")
	if !ok {
		return id, 0, nil
	}
	n, err := strconv.Atoi(sh)
	if err != nil || n < 0 || n >= MaxShards || sh != strconv.Itoa(n) {
		return "", 0, fmt.Errorf("bad event id %q", id)
	}
	return local, n, nil
}

// CompareIDs orders two valid event IDs: -1 when a is older, 0, or 1.
// IDs of different shards with the same "<unix-ms>-<seq>" order by shard.
// Invalid IDs sort as zero.
func CompareIDs(a, b string) int {
	am, as, ash := orderKey(a)
	bm, bs, bsh := orderKey(b)
	switch {
	case am != bm:
		return cmp3(am < bm)
	case as != bs:
		return cmp3(as < bs)
	case ash != bsh:
		return cmp3(ash < bsh)
	}
	return 0
}

func cmp3(less bool) int {
	if less {
		return -1
	}
	return 1
}

func orderKey(id string) (ms, seq uint64, shard int) {
	local, shard, err := SplitShard(id)
	if err != nil {
		return 0, 0, 0
	}
	ms, seq, err = parseLocal(id, local)
	if err != nil {
		return 0, 0, 0
	}
	return ms, seq, shard
}

// ErrBadCursor reports a paging cursor (Query.Before) the store cannot
// read; the API answers it with a 400.
var ErrBadCursor = errors.New("bad cursor")
