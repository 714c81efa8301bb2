// Package faults is the hub's fault suite: it builds the saker binary,
// runs real hub processes (on loopback ports), real redis-servers and a
// recording webhook target, drives them with a load client that records
// every acknowledged alert, injects a fault (kill -9 of the hub or Redis,
// SIGSTOP of Redis, FLUSHALL, a full disk, corrupted or torn log bytes,
// slow clients, target outages and hangs, a replica killed, kill -9 of a
// real `saker sensor` process, the hub down while that sensor keeps
// alerting; and, with no fault, two hubs on a three-master Redis Cluster
// with REDIS_SHARDS=3) and ends with a full read-back: every
// acknowledged alert must be stored and forwarded, duplicates are
// reported, and the time to drain is measured.
//
// `make faults` runs the short variants (also part of `make test`);
// `make faults-long` sets SAKER_FAULTS_LONG=1 for the long ones (minutes
// of load, a 10-minute hub outage under the sensor, a 38 s Redis freeze).
// The package holds only tests.
package faults
