// SPDX-License-Identifier: GPL-2.0
//go:build ignore

/* guard.bpf.c: Saker's response guard.
 *
 * A user-space kill after a rule matched comes milliseconds after the
 * syscall: a fast writer has written its next file by then. For rules whose
 * action is kill, user space compiles a conservative predicate from the
 * rule (open syscalls, write flags, path prefixes, in a container or not):
 * every event the rule can match satisfies it. At the exit of a matching
 * open the guard sends the process SIGSTOP with bpf_send_signal; the signal
 * is delivered on the way back to user space, so the process is held
 * before it runs one more instruction (it cannot write to the fd it just
 * got). The hold is recorded in `held` and announced on the `holds` ring
 * buffer; user space evaluates the full rule on the probe's event and
 * kills (match) or sends SIGCONT (no match, or no decision in time).
 *
 * A separate object from saker.bpf.c: it is loaded only when an action
 * needs it, and its programs run at the exit of open syscalls only. */

#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_tracing.h"
#include "bpf_core_read.h"
#include "fdfile.h"
#include "dwalk.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
volatile const __u32 write_only = 0;      /* hold write-opens only */
volatile const __u32 containers_only = 0; /* hold only outside the host's mount namespace */
volatile const __u32 host_mnt_ns = 0;     /* inode number of the host's mount namespace */

#define GUARD_PATH_MAX 256
#define GUARD_DEPTH 32
#define SIGSTOP 19

struct path_key {
	__u32 prefixlen; /* in bits, as LPM tries want */
	__u8 data[GUARD_PATH_MAX];
};

/* hold is what the ring buffer announces (and `held` keeps, per process). */
struct hold {
	__u32 tgid;
	__u32 tid;
	__u64 ts; /* CLOCK_BOOTTIME ns at the hold */
	char comm[16];
	__u8 path[GUARD_PATH_MAX];
};

struct scratch {
	struct path_key key;
	__u8 spill[GUARD_PATH_MAX]; /* room for the last name read past the key */
	__u64 names[GUARD_DEPTH]; /* const unsigned char *, leaf first */
	struct hold hold;
};

/* armed[0] != 0: hold. The guard is attached before the probe, so that on
 * a shared syscall exit tracepoint it runs first (programs run in attach
 * order) and a hold is in `held` before the probe reports the open; it is
 * armed once the probe is attached, so no process is held that the probe
 * cannot report. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} armed SEC(".maps");

/* The guarded path prefixes (fd.name startswith …), longest match. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__type(key, struct path_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} prefixes SEC(".maps");

/* Processes never held: the sensor and its ancestors. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} exempt_pids SEC(".maps");

/* Process names never held: the response allowlist. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[16]);
	__type(value, __u8);
} exempt_comms SEC(".maps");

/* held: the processes held now (bpf/held.h). */
#include "held.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} holds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* Counters, per CPU: see the Go side's counter names. */
enum {
	GC_CHECKED,
	GC_HELD,
	GC_SIGNAL_FAILED,
	GC_HELD_FULL,
	GC_RING_FULL,
	GC_NUM,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GC_NUM);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Force the generated Go type. */
const struct hold *unused_hold __attribute__((unused));

static __always_inline void count(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &c);
	if (v)
		(*v)++;
}

/* bounded masks an index into the key for the verifier; the barrier keeps
 * the compiler from dropping a mask it can prove redundant. */
static __always_inline __u32 bounded(__u32 off)
{
	asm volatile("" : "+r"(off));
	return off & (GUARD_PATH_MAX - 1);
}

/* walk is the state of the walk up from a file to its root. */
struct walk {
	struct scratch *s;
	struct dwalk at;
	__u32 n;   /* names collected */
	__u32 off; /* bytes written to the key */
	int done;  /* reached the root */
};

/* walk_up is one step of the walk: collect d's name, or cross a mount. */
static long walk_up(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct dentry *parent;
	switch (dwalk_step(&w->at, &parent)) {
	case DWALK_TOP:
		w->done = 1;
		return 1;
	case DWALK_CROSSED:
		return 0;
	}
	struct dentry *d = w->at.d; /* a local: CO-RE must see the kernel type alone */
	if (w->n >= GUARD_DEPTH)
		return 1; /* too deep */
	w->s->names[w->n & (GUARD_DEPTH - 1)] = (__u64)BPF_CORE_READ(d, d_name.name);
	w->n++;
	w->at.d = parent;
	return 0;
}

/* put_name appends "/" and the i-th name from the top to the key. */
static long put_name(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	if (i >= w->n || w->off >= GUARD_PATH_MAX - 1)
		return 1;
	struct scratch *s = w->s;
	s->key.data[bounded(w->off)] = '/';
	w->off++;
	__u32 k = (w->n - 1 - i) & (GUARD_DEPTH - 1);
	long r = bpf_probe_read_kernel_str(&s->key.data[bounded(w->off)], GUARD_PATH_MAX, (const void *)s->names[k]);
	if (r <= 0) {
		w->done = 0;
		return 1;
	}
	w->off += (r - 1) & (GUARD_PATH_MAX - 1); /* the NUL is overwritten by the next '/' */
	return 0;
}

/* file_path writes the path of the opened file f, as the process sees it
 * (up to the root of its mount namespace), into s->key. It returns 0 when
 * the path is too deep to resolve. */
static __always_inline int file_path(struct scratch *s, struct file *f)
{
	struct vfsmount *vm = BPF_CORE_READ(f, f_path.mnt);
	struct walk w = {
		.s = s,
		.at = dwalk_start(BPF_CORE_READ(f, f_path.dentry), vm),
	};
	bpf_loop(GUARD_DEPTH * 2, walk_up, &w, 0);
	if (!w.done)
		return 0;
	bpf_loop(GUARD_DEPTH, put_name, &w, 0);
	if (!w.done)
		return 0;
	if (w.off == 0) /* the root directory itself */
		s->key.data[w.off++] = '/';
	if (w.off > GUARD_PATH_MAX)
		w.off = GUARD_PATH_MAX;
	s->key.prefixlen = w.off * 8;
	return 1;
}

static __always_inline int prefix_match(struct scratch *s)
{
	return bpf_map_lookup_elem(&prefixes, &s->key) != 0;
}

/* guard decides, at the exit of an open that returned fd ret with open
 * flags flags and user path upath, whether to hold the process. */
static __always_inline int guard(long ret, __u64 flags, const char *upath)
{
	if (ret < 0)
		return 0;
	__u32 zero = 0;
	__u32 *on = bpf_map_lookup_elem(&armed, &zero);
	if (!on || !*on)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (tgid <= 1)
		return 0;
	if (write_only && (flags & 3) != 1 && (flags & 3) != 2)
		return 0;
	count(GC_CHECKED);
	if (bpf_map_lookup_elem(&exempt_pids, &tgid))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (containers_only && BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == host_mnt_ns)
		return 0;
	if (bpf_map_lookup_elem(&held, &tgid))
		return 0; /* already held: the stop is on its way */
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	char comm[16] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	if (bpf_map_lookup_elem(&exempt_comms, comm))
		return 0;

	/* The path as the process wrote it, when absolute (the rule sees
	 * that one), then the file actually opened (relative paths, dirfd). */
	int hit = 0;
	long n = bpf_probe_read_user_str(s->key.data, GUARD_PATH_MAX, upath);
	if (n > 1 && s->key.data[0] == '/') {
		s->key.prefixlen = (n - 1) * 8;
		hit = prefix_match(s);
	}
	if (!hit) {
		struct file *f = fd_file(task, ret);
		if (!f)
			return 0;
		if (!file_path(s, f))
			hit = 1; /* too deep to tell: hold, user space decides */
		else
			hit = prefix_match(s);
	}
	if (!hit)
		return 0;

	if (bpf_send_signal(SIGSTOP) < 0) {
		count(GC_SIGNAL_FAILED);
		return 0;
	}
	__u64 now = bpf_ktime_get_boot_ns();
	if (bpf_map_update_elem(&held, &tgid, &now, BPF_ANY) < 0)
		count(GC_HELD_FULL); /* user space still resumes it on the ring record or its event */
	count(GC_HELD);
	struct hold *h = &s->hold;
	h->tgid = tgid;
	h->tid = (__u32)pid_tgid;
	h->ts = now;
	__builtin_memcpy(h->comm, comm, sizeof(comm));
	bpf_probe_read_kernel(h->path, sizeof(h->path), s->key.data);
	if (bpf_ringbuf_output(&holds, h, sizeof(*h), 0) < 0)
		count(GC_RING_FULL);
	return 0;
}

static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The arguments are still in the task's saved user registers at exit. */

SEC("tracepoint/syscalls/sys_exit_openat")
int guard_openat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = user_regs();
	return guard(ctx->ret, BPF_CORE_READ(r, dx), (const char *)BPF_CORE_READ(r, si));
}

SEC("tracepoint/syscalls/sys_exit_open")
int guard_open(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = user_regs();
	return guard(ctx->ret, BPF_CORE_READ(r, si), (const char *)BPF_CORE_READ(r, di));
}

SEC("tracepoint/syscalls/sys_exit_creat")
int guard_creat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = user_regs();
	return guard(ctx->ret, 1 /* O_WRONLY|O_CREAT|O_TRUNC */, (const char *)BPF_CORE_READ(r, di));
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int guard_openat2(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = user_regs();
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)BPF_CORE_READ(r, dx));
	return guard(ctx->ret, how.flags, (const char *)BPF_CORE_READ(r, si));
}
