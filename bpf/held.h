/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* The response guard's table of the processes it holds, declared once for
 * the guard (guard.bpf.c), which fills it, and the probe (saker.bpf.c),
 * which wakes its reader for their records: the probe's loader hands it
 * the guard's map, which needs the same definition. Include after
 * vmlinux.h and bpf_helpers.h. */
#ifndef SAKER_HELD_H
#define SAKER_HELD_H

/* tgid -> CLOCK_BOOTTIME ns of the hold; user space deletes the entry when
 * it kills or resumes the process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} held SEC(".maps");

#endif
