package sharded

import "fmt"

// ClusterSlots is the number of hash slots of a Redis Cluster.
const ClusterSlots = 16384

// Slot is the Redis Cluster hash slot of a key's hash tag: CRC16
// (XMODEM) of the tag, modulo 16384.
func Slot(tag string) int {
	var crc uint16
	for i := 0; i < len(tag); i++ {
		crc ^= uint16(tag[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % ClusterSlots
}

// Tags returns the hash tags of n shards. Shard 0 keeps base, the tag a
// single-shard store uses, so events stored before growing to several
// shards stay readable as shard 0's. The others get tags whose slots sit in
// the middle of the remaining n-1 of n equal slot ranges: a cluster whose
// slots are split evenly over n masters (or over a divisor of n), as
// `redis-cli --cluster create` splits them, holds the same number of shards
// on each master.
func Tags(base string, n int) []string {
	tags := []string{base}
	if n <= 1 {
		return tags
	}
	span := ClusterSlots / n
	home := min(Slot(base)/span, n-1)
	for r := 0; r < n; r++ {
		if r == home {
			continue
		}
		lo, hi := r*span+span/4, r*span+span*3/4
		k := len(tags)
		for i := 0; ; i++ {
			tag := fmt.Sprintf("%s-%d", base, k)
			if i > 0 {
				tag = fmt.Sprintf("%s-%d-%d", base, k, i)
			}
			if s := Slot(tag); s >= lo && s < hi {
				tags = append(tags, tag)
				break
			}
		}
	}
	return tags
}
