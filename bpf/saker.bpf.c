// SPDX-License-Identifier: GPL-2.0
//go:build ignore

/* saker.bpf.c: the Saker capture probe.
 *
 * Hook choice is driven by measured cost: a program on raw sys_enter taxes
 * every syscall (~190 ns, -17% on getpid here), so the probe hooks only the
 * syscalls the loaded rules need, each with one program on its
 * syscalls/sys_exit_<name> tracepoint. At exit the result is known and the
 * arguments are still in the task's saved user registers (bpf_task_pt_regs),
 * so one program emits one complete record and no per-thread enter/exit
 * state is needed. (fentry/fexit and BPF LSM would be cheaper still, but
 * kernels in lockdown=integrity mode refuse to load them.) The process tree
 * comes from the sched_process_{exec,fork,exit} BTF tracepoints.
 *
 * In-kernel filtering: user space attaches only the programs for wanted
 * types and also fills the `wanted` array, which the shared programs (exec,
 * fork, exit) consult. */

#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_tracing.h"
#include "bpf_core_read.h"
#include "bpf_endian.h"
#include "saker.h"
#include "fdfile.h"
#include "dwalk.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load: the sensor's own tgid, whose syscalls are
 * ignored so that the sensor reading /proc does not feed itself events. */
volatile const __u32 self_tgid = 0;

struct sk_buf {
	struct sk_event hdr;
	__u8 data[SK_DATA_SIZE];
	/* for path_dirs: the dirfds seg0's and seg1's paths start from */
	long d0, d1;
	/* path_dirs' walk: the directory fd and where in seg2 it goes */
	long wfd, wstart;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sk_buf);
} scratch SEC(".maps");

/* [0] = path_dirs, [1] = fd_io, [2] = fd_list, set by the loader. */
#define SK_TAIL_PATH_DIRS 0
#define SK_TAIL_FD_IO 1
#define SK_TAIL_FD_LIST 2
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u32);
} path_tail SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SK_NUM_TYPES);
	__type(key, __u32);
	__type(value, __u8);
} wanted SEC(".maps");

/* Set by the loader: 1 when open_prefixes holds the open filter. */
volatile const __u32 open_filter = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sk_prefix_key);
	__type(value, struct sk_prefix_val);
} open_prefixes SEC(".maps");

/* Process name (the main thread's comm, NUL-padded) -> its class. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SK_COMM_CLASSES);
	__type(key, char[SK_COMM_LEN]);
	__type(value, __u8);
} open_comms SEC(".maps");

/* Bit c1<<8|c2 (see SK_HEAD_WORDS): some prefix starts "/c1c2". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SK_HEAD_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} open_heads SEC(".maps");

/* [0]: the outcomes of prefix "/" or "" (all zero without one). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sk_prefix_val);
} open_root SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sk_prefix_key);
} prefix_scratch SEC(".maps");

/* Process (tgid) -> its name as libsinsp knows it: the main thread's comm at
 * the process's last exec, or at the fork that made it. libsinsp never sees
 * a later prctl(PR_SET_NAME) or /proc/PID/comm write: runc's init, forked
 * by "runc:[1:CHILD]", renames itself "runc:[2:INIT]", Falco still reports
 * "runc:[1:CHILD]", and the official rules' runc exclusions test that name.
 * Records carry this name and the open filter judges it, so both agree. A
 * process the probe did not see exec or fork (started before it, or
 * evicted) has its live comm. */
struct proc_name {
	char comm[SK_COMM_LEN];
	__u8 open_class; /* comm's open_comms class, 0 for none */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct proc_name);
} proc_names SEC(".maps");

/* Set by the loader: 1 when held is the response guard's map of the
 * processes it holds (tgid -> hold time), shared with guard.bpf.c. */
volatile const __u32 guarded = 0;

/* held (bpf/held.h): the guard's map, handed in by the loader (shrunk to
 * one entry when there is no guard). */
#include "held.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SK_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Force the generated Go types. */
const struct sk_event *unused_event __attribute__((unused));
const enum sk_type *unused_type __attribute__((unused));
const struct sk_prefix_key *unused_prefix_key __attribute__((unused));
const struct sk_prefix_val *unused_prefix_val __attribute__((unused));

static __always_inline int is_wanted(__u32 type)
{
	__u8 *w = bpf_map_lookup_elem(&wanted, &type);
	return w && *w;
}

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		*c += 1;
}

/* Task fields are read with direct loads through the BTF-typed task
 * pointer (CO-RE relocated, JIT-compiled as plain loads with a fault
 * fixup), which costs a fraction of a bpf_probe_read_kernel call each. */
/* pid_nr_in is pid's number in the pid namespace at level, 0 when it has
 * none there (a process group led from an ancestor namespace). */
static __always_inline __u32 pid_nr_in(struct pid *pid, unsigned int level)
{
	if (!pid || BPF_CORE_READ(pid, level) < level)
		return 0;
	__u32 nr = 0;
	bpf_core_read(&nr, sizeof(nr), &pid->numbers[level & 31].nr);
	return nr;
}

static __always_inline __u32 task_vnr(struct pid *p)
{
	if (!p)
		return 0;
	unsigned int level = BPF_CORE_READ(p, level);
	__u32 nr = 0;
	bpf_core_read(&nr, sizeof(nr), &p->numbers[level].nr);
	return nr;
}

/* full_context also reads the fields user space can take from its process
 * table for known processes; begin() always fills the cheap ones. */
static __always_inline void full_context(struct sk_buf *b, struct task_struct *task)
{
	const struct cred *cred = task->cred;
	b->hdr.euid = cred->euid.val;
	b->hdr.egid = cred->egid.val;
	b->hdr.cap_eff = cred->cap_effective.val;
	b->hdr.cap_prm = cred->cap_permitted.val;
	b->hdr.cap_inh = cred->cap_inheritable.val;
	b->hdr.loginuid = task->loginuid.val;
	b->hdr.vtid = task_vnr(task->thread_pid);
	b->hdr.vpid = task_vnr(task->group_leader->thread_pid);
	b->hdr.tty = 0;
	struct tty_struct *tty = task->signal->tty;
	if (tty) {
		__u32 major = tty->driver->major;
		__u32 minor = tty->driver->minor_start + tty->index;
		/* new_encode_dev, as /proc/PID/stat tty_nr */
		b->hdr.tty = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
	}
}

/* proc_name copies the process's name (proc_names, else the main thread's
 * live comm, NUL-padded) to dst. */
static __always_inline void proc_name(struct task_struct *task, char *dst)
{
	__u32 tgid = task->tgid;
	const struct proc_name *n = bpf_map_lookup_elem(&proc_names, &tgid);
	if (n)
		__builtin_memcpy(dst, n->comm, SK_COMM_LEN);
	else
		bpf_probe_read_kernel(dst, SK_COMM_LEN, task->group_leader->comm);
}

/* remember_name records the name task's process has from now on: its comm
 * just after an exec, or the one a new process was forked with. */
static __always_inline void remember_name(struct task_struct *task)
{
	struct proc_name n = {};
	__u32 tgid = BPF_CORE_READ(task, tgid);
	bpf_probe_read_kernel_str(n.comm, sizeof(n.comm), BPF_CORE_READ(task, comm));
	/* The open filter's class of the name, looked up once here rather
	 * than on every open (open_comms is filled before any attach). */
	__u8 *cls = bpf_map_lookup_elem(&open_comms, n.comm);
	if (cls)
		n.open_class = *cls;
	bpf_map_update_elem(&proc_names, &tgid, &n, BPF_ANY);
}

/* begin fills the record header with the current task's context. */
static __always_inline struct sk_buf *begin(__u16 type)
{
	__u32 zero = 0;
	struct sk_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pt = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();

	b->hdr.ts = bpf_ktime_get_boot_ns();
	b->hdr.cgroup_id = bpf_get_current_cgroup_id();
	b->hdr.res = 0;
	b->hdr.pid = pt >> 32;
	b->hdr.tid = (__u32)pt;
	b->hdr.uid = (__u32)ug;
	b->hdr.gid = ug >> 32;
	b->hdr.ppid = task->real_parent->tgid;
	b->hdr.sid = 0;
	full_context(b, task);
	b->hdr.type = type;
	b->hdr.cpu = bpf_get_smp_processor_id();
	b->hdr.len[0] = 0;
	b->hdr.len[1] = 0;
	b->hdr.len[2] = 0;
	b->hdr.flags = 0;
	b->hdr.ino = 0;
	b->hdr.dev = 0;
	/* thread.cpu*, thread.totexectime, proc.nthreads: plain loads */
	b->hdr.utime = task->utime;
	b->hdr.stime = task->stime;
	b->hdr.tstart = task->start_boottime;
	b->hdr.nthreads = task->signal->nr_threads;
	/* The process's name is its main thread's (threads may name
	 * themselves apart, and the process table and the open filter both
	 * key on the process), as of its last exec or fork. */
	proc_name(task, (char *)b->hdr.comm);
	return b;
}

static __always_inline __u32 seg_off(struct sk_buf *b, int seg)
{
	__u32 off = 0;
	if (seg > 0)
		off += b->hdr.len[0];
	if (seg > 1)
		off += b->hdr.len[1];
	return off & SK_OFF_MASK;
}

/* put_user_str copies a NUL-terminated user string into segment seg. */
static __always_inline void put_user_str(struct sk_buf *b, int seg, const void *ptr)
{
	if (!ptr)
		return;
	__u32 off = seg_off(b, seg);
	long n = bpf_probe_read_user_str(&b->data[off], SK_SEG_MAX, ptr);
	if (n > 0)
		b->hdr.len[seg] = n & SK_SEG_MAX;
}

static __always_inline void put_kernel_str(struct sk_buf *b, int seg, const void *ptr)
{
	if (!ptr)
		return;
	__u32 off = seg_off(b, seg);
	long n = bpf_probe_read_kernel_str(&b->data[off], SK_SEG_MAX, ptr);
	if (n > 0)
		b->hdr.len[seg] = n & SK_SEG_MAX;
}

/* put_user_blob copies len bytes of user memory into segment seg. */
static __always_inline void put_user_blob(struct sk_buf *b, int seg, const void *ptr, __u64 len)
{
	if (!ptr || len == 0)
		return;
	__u32 n = len & SK_SEG_MAX;
	if (len > SK_SEG_MAX)
		n = SK_SEG_MAX;
	__u32 off = seg_off(b, seg);
	if (n == 0)
		return;
	if (bpf_probe_read_user(&b->data[off], n, ptr) == 0)
		b->hdr.len[seg] = n;
}

/* Waking the reader costs the producing syscall an irq_work, raised as a
 * self-IPI: an APIC register write, which in a virtual machine is a VM exit
 * of several microseconds. So the reader polls every few milliseconds, and a
 * record wakes it only when it is the one that takes the backlog across
 * SK_WAKEUP_BYTES. Waking on every record above the mark (as before) made
 * each openat at a high rate pay that exit, since a polling reader lets the
 * backlog stay above it: 10x the cost of the syscall. The reader sleeps only
 * once it has emptied the ring, so the next crossing always comes. */
#define SK_WAKEUP_BYTES (256 << 10)

static __always_inline int submit(struct sk_buf *b)
{
	__u32 size = sizeof(struct sk_event) + b->hdr.len[0] + b->hdr.len[1] + b->hdr.len[2];
	size &= SK_DATA_MASK;
	__u32 type = b->hdr.type;
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (avail <= SK_WAKEUP_BYTES && avail + size > SK_WAKEUP_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	/* A process the guard holds (stopped at this very open: the guard's
	 * program runs first on the shared tracepoint) waits for user space
	 * to judge this record: wake the reader now, not at its next poll. */
	__u32 tgid = b->hdr.pid;
	if (guarded && bpf_map_lookup_elem(&held, &tgid))
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, b, size, flags) != 0) {
		count(SK_NUM_TYPES + (type % SK_NUM_TYPES));
		return 0;
	}
	count(type % SK_NUM_TYPES);
	return 0;
}

/* cgroup_leaf writes the name of the task's innermost cgroup directory
 * ("docker-<id>.scope", "<id>", "cri-containerd-<id>.scope") into seg2: the
 * container id is read from it in user space. It prefers the unified
 * hierarchy and falls back to the memory controller on cgroup v1 hosts. */
static __always_inline void put_cgroup_leaf(struct sk_buf *b, struct task_struct *task)
{
	struct cgroup *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	if (!cg || BPF_CORE_READ(cg, level) == 0) {
		int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		struct css_set *cs = BPF_CORE_READ(task, cgroups);
		struct cgroup_subsys_state *css = 0;
		if (id >= 0 && id < CGROUP_SUBSYS_COUNT)
			bpf_core_read(&css, sizeof(css), &cs->subsys[id]);
		if (css)
			cg = BPF_CORE_READ(css, cgroup);
	}
	if (!cg || BPF_CORE_READ(cg, level) == 0)
		return;
	put_kernel_str(b, 2, BPF_CORE_READ(cg, kn, name));
}

#define SK_PATH_DEPTH 48
#define SK_NAME_MAX 256

/* A path walk in progress (put_path_at): one step per bpf_loop call. */
struct path_walk {
	struct sk_buf *b;
	struct dwalk at;
	__u32 base, len;
	int done; /* 1: reached the root; -1: a name could not be read or did not fit */
};

/* path_step climbs one name or one mount point. It runs as bpf_loop's
 * callback: the verifier checks its body once for every depth, where the
 * walk unrolled in each program that walks a path made the verifier
 * explore ~700,000 instructions per program (most of the probe's load
 * time, and near the kernel's 1,000,000 limit). */
static long path_step(__u64 i, void *ctx)
{
	struct path_walk *w = ctx;
	struct dentry *parent;
	switch (dwalk_step(&w->at, &parent)) {
	case DWALK_TOP:
		w->done = 1;
		return 1;
	case DWALK_CROSSED:
		return 0;
	}
	struct dentry *d = w->at.d; /* a local: CO-RE must see the kernel type alone */
	__u32 len = w->len;
	if (len > SK_SEG_MAX - SK_NAME_MAX) {
		w->done = -1;
		return 1;
	}
	long n = bpf_probe_read_kernel_str(&w->b->data[(w->base + len) & SK_OFF_MASK], SK_NAME_MAX,
					   BPF_CORE_READ(d, d_name.name));
	if (n <= 0) {
		w->done = -1;
		return 1;
	}
	w->len = len + n;
	w->at.d = parent;
	return 0;
}

/* put_path_at writes the path of dentry d on mount vm into segment seg,
 * after start bytes of it, as its names leaf first, each NUL-terminated,
 * crossing mount points up to the root of the task's mount namespace (a
 * container's paths are the container's, as Falco reports them). It
 * returns 1 when it reached the root, 0 when the path was too deep (over
 * SK_PATH_DEPTH steps) or too long. */
static __always_inline int put_path_at(struct sk_buf *b, int seg, __u32 start, struct dentry *d, struct vfsmount *vm)
{
	struct path_walk w = {
		.b = b,
		.at = dwalk_start(d, vm),
		.base = seg_off(b, seg),
		.len = start & SK_SEG_MAX,
	};
	bpf_loop(SK_PATH_DEPTH, path_step, &w, 0);
	if (w.done != 1)
		return 0;
	b->hdr.len[seg] = w.len & SK_SEG_MAX;
	return 1;
}

/* put_path writes the path at the start of segment seg (see put_path_at,
 * which appends it after start bytes of the segment). */
static __always_inline int put_path(struct sk_buf *b, int seg, struct dentry *d, struct vfsmount *vm)
{
	return put_path_at(b, seg, 0, d, vm);
}

/* put_dir writes the directory dirfd names (the working directory for
 * AT_FDCWD) into seg2 after start bytes, names leaf first; it returns 1
 * when it did, else leaves seg2's length as it was. */
static __always_inline int put_dir(struct sk_buf *b, long dirfd, __u32 start)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct dentry *d;
	struct vfsmount *vm;
	if (dirfd == -100) { /* AT_FDCWD */
		d = BPF_CORE_READ(task, fs, pwd.dentry);
		vm = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct file *f = fd_file(task, dirfd);
		if (!f)
			return 0;
		d = BPF_CORE_READ(f, f_path.dentry);
		vm = BPF_CORE_READ(f, f_path.mnt);
	}
	if (!d || !vm)
		return 0;
	return put_path_at(b, 2, start, d, vm);
}

/* No directory to resolve a segment against. */
#define NO_DIRFD (-1000000)

static __always_inline int seg_relative(struct sk_buf *b, int seg)
{
	return b->hdr.len[seg] > 0 && b->data[seg_off(b, seg) & SK_OFF_MASK] != '/';
}

/* pick_basedir chooses, for the relative paths in seg0 (resolved against
 * d0) and seg1 (against d1), the directory path_dirs walks first: seg0's
 * when it is relative (and seg1's too when it uses the same dirfd), else
 * seg1's. It leaves in b->d0 the flags the walk earns, and in b->d1 the
 * second directory when seg1 is relative to another one (NO_DIRFD
 * otherwise). */
static __always_inline long pick_basedir(struct sk_buf *b, long d0, long d1)
{
	int rel0 = d0 != NO_DIRFD && seg_relative(b, 0);
	int rel1 = d1 != NO_DIRFD && seg_relative(b, 1);
	long dirfd = NO_DIRFD;
	__u16 fl = 0;
	long second = NO_DIRFD;
	if (rel0) {
		dirfd = d0;
		fl = SK_F_BASEDIR;
		if (rel1 && d1 == d0)
			fl |= SK_F_BASEDIR1;
		else if (rel1)
			second = d1;
	} else if (rel1) {
		dirfd = d1;
		fl = SK_F_BASEDIR1;
	}
	b->d0 = fl;
	b->d1 = second;
	return dirfd;
}

/* path_dirfds gives the dirfds seg0's and seg1's paths are resolved
 * against: AT_FDCWD for the calls without one, the argument for the *at
 * calls, NO_DIRFD for a segment that is not a path to resolve (a symlink's
 * content). */
static __always_inline void path_dirfds(__u16 type, __u64 *a, long *d0, long *d1)
{
	*d0 = NO_DIRFD;
	*d1 = NO_DIRFD;
	switch (type) {
	case SK_OPEN:
	case SK_CREAT:
	case SK_UNLINK:
	case SK_RMDIR:
	case SK_MKDIR:
	case SK_CHMOD:
	case SK_CHOWN:
	case SK_LCHOWN:
		*d0 = -100;
		break;
	case SK_OPENAT:
	case SK_UNLINKAT:
	case SK_MKDIRAT:
	case SK_FCHMODAT:
	case SK_FCHOWNAT:
		*d0 = (int)a[0];
		break;
	case SK_RENAME:
	case SK_LINK:
		*d0 = -100;
		*d1 = -100;
		break;
	case SK_RENAMEAT:
	case SK_RENAMEAT2:
	case SK_LINKAT:
		*d0 = (int)a[0];
		*d1 = (int)a[2];
		break;
	case SK_SYMLINK:
		*d1 = -100;
		break;
	case SK_SYMLINKAT:
		*d1 = (int)a[1];
		break;
	}
}

/* put_sock reads the socket tuple of file descriptor fd of the current task. */
static __always_inline void put_sock(struct sk_buf *b, long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *f = fd_file(task, fd);
	if (!f)
		return;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & 00170000) != 0140000) /* S_IFSOCK */
		return;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return;
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	b->hdr.sock.family = family;
	b->hdr.sock.proto = BPF_CORE_READ(sk, sk_protocol);
	b->hdr.sock.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	b->hdr.sock.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == 2) { /* AF_INET */
		__u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memset(b->hdr.sock.saddr, 0, 16);
		__builtin_memset(b->hdr.sock.daddr, 0, 16);
		__builtin_memcpy(b->hdr.sock.saddr, &s, 4);
		__builtin_memcpy(b->hdr.sock.daddr, &d, 4);
	} else if (family == 10) { /* AF_INET6 */
		BPF_CORE_READ_INTO(&b->hdr.sock.saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&b->hdr.sock.daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		__builtin_memset(b->hdr.sock.saddr, 0, 16);
		__builtin_memset(b->hdr.sock.daddr, 0, 16);
	}
	b->hdr.flags |= SK_F_SOCK;
}

#define SK_OVERLAYFS_MAGIC 0x794c7630

/* layer_flags tells which overlayfs layer file f comes from: upper, or
 * lower, or 0 when f is not on an overlayfs. An overlay inode (struct
 * ovl_inode) keeps the upper dentry right after its embedded VFS inode; the
 * VFS inode's size is taken from the running kernel's BTF. A copied-up or
 * newly written file has an upper dentry with an inode: the upper layer,
 * the container's own writes. */
static __always_inline __u16 layer_flags(struct file *f, __u16 upper_flag, __u16 lower_flag)
{
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	if (BPF_CORE_READ(d, d_sb, s_magic) != SK_OVERLAYFS_MAGIC)
		return 0;
	char *vfs_inode = (char *)BPF_CORE_READ(d, d_inode);
	unsigned long size = bpf_core_type_size(struct inode);
	struct dentry *upper = 0;
	if (!vfs_inode || !size)
		return lower_flag;
	bpf_probe_read_kernel(&upper, sizeof(upper), vfs_inode + size);
	if (upper && BPF_CORE_READ(upper, d_inode, i_ino) != 0)
		return upper_flag;
	return lower_flag;
}

/* put_file_id records the inode, device and overlay layer of file f
 * (fd.ino, fd.dev, fd.is_upper_layer, fd.is_lower_layer). */
static __always_inline void put_file_id(struct sk_buf *b, struct file *f)
{
	if (!f)
		return;
	struct inode *in = BPF_CORE_READ(f, f_inode);
	if (!in)
		return;
	b->hdr.ino = BPF_CORE_READ(in, i_ino);
	__u32 dev = BPF_CORE_READ(in, i_sb, s_dev);
	__u32 major = dev >> 20, minor = dev & 0xfffff;
	/* new_encode_dev, as Falco's fd.dev */
	b->hdr.dev = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
	b->hdr.flags |= layer_flags(f, SK_F_FD_UPPER, SK_F_FD_LOWER);
}

/* Argument kinds for the generic syscall handler. */
#define NONE (-1)
#define IO_MSG (-3) /* the I/O buffer is the first iovec of the msghdr in arg 1 */
#define IO_FD (-4)  /* fd_io describes the fd in arg 0 and copies the buffer */
#define IO_NEWFD (-5) /* fd_io describes the returned fd (dup) */

/* put_msg_head copies the head of a sendmsg/recvmsg buffer (its first
 * iovec, up to SK_SNAPLEN and the bytes transferred) into seg1. */
static __always_inline void put_msg_head(struct sk_buf *b, const struct user_msghdr *m, long ret)
{
	if (!m || ret <= 0)
		return;
	struct user_msghdr mh = {};
	struct iovec iov = {};
	if (bpf_probe_read_user(&mh, sizeof(mh), m) != 0 || !mh.msg_iov || mh.msg_iovlen == 0)
		return;
	if (bpf_probe_read_user(&iov, sizeof(iov), mh.msg_iov) != 0)
		return;
	__u64 n = iov.iov_len;
	if (n > (__u64)ret)
		n = ret;
	if (n > SK_SNAPLEN)
		n = SK_SNAPLEN;
	put_user_blob(b, 1, iov.iov_base, n);
}

/* put_fd_path describes the fd of a read or write: a socket's tuple, or a
 * file's path in seg0 (SK_F_FDPATH), read at the event. */
static __always_inline void put_fd_path(struct sk_buf *b, long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *f = fd_file(task, fd);
	if (!f)
		return;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & 00170000) == 0140000) { /* S_IFSOCK */
		put_sock(b, fd);
		return;
	}
	if (put_path(b, 0, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt)))
		b->hdr.flags |= SK_F_FDPATH;
	else
		b->hdr.len[0] = 0;
	put_file_id(b, f);
}

#define SK_ONES 0x0101010101010101ULL
#define SK_LOW7 0x7f7f7f7f7f7f7f7fULL

/* zero_bytes has 0x80 in each byte of x that is zero and 0 elsewhere
 * (exact per byte: no borrow crosses bytes). */
static __always_inline __u64 zero_bytes(__u64 x)
{
	return ~(((x & SK_LOW7) + SK_LOW7) | x | SK_LOW7);
}

/* dotted reports whether the len bytes at data hold "/.", "//" or "./",
 * eight bytes at a time: a pair (c, d) of '/' (0x2f) and '.' (0x2e),
 * which differ only in bit 0, with at least one '/'. Bytes past len (the
 * scratch's earlier paths) are masked off. data has SK_PREFIX_MAX bytes. */
static __always_inline int dotted(const __u8 *data, long len)
{
	__u64 w = *(const __u64 *)data;
	for (int i = 0; i < SK_PREFIX_MAX / 8; i++) {
		long pairs = len - 1 - 8 * i; /* pairs starting in this word */
		if (pairs <= 0)
			break;
		__u64 next = 0;
		if (i < SK_PREFIX_MAX / 8 - 1)
			next = *(const __u64 *)(data + 8 * (i + 1));
		__u64 w2 = (w >> 8) | (next << 56); /* the byte after each byte */
		__u64 m = zero_bytes((w | SK_ONES) ^ (SK_ONES * 0x2f)) &
			  zero_bytes((w2 | SK_ONES) ^ (SK_ONES * 0x2f)) &
			  (((w | w2) & SK_ONES) << 7);
		if (pairs < 8)
			m &= (1ULL << (8 * pairs)) - 1;
		if (m)
			return 1;
		w = next;
	}
	return 0;
}

/* name_class returns the open_comms class of the process's name as the
 * records carry it (proc_name), 0 when it has none: the class remembered
 * with the name, else that of the main thread's live comm, read whole and
 * cut at its NUL (as bpf_probe_read_kernel_str into a zeroed buffer would
 * give it, without the string copy's byte loop). (Two direct loads
 * through the task pointer gave keys that matched nothing once masked:
 * TestOpenFilterMatchesKernel caught it.) */
static __always_inline __u8 name_class(struct task_struct *task)
{
	__u32 tgid = task->tgid;
	const struct proc_name *pn = bpf_map_lookup_elem(&proc_names, &tgid);
	if (pn)
		return pn->open_class;
	__u64 comm[2];
	bpf_probe_read_kernel(comm, sizeof(comm), task->group_leader->comm);
	__u64 z = zero_bytes(comm[0]);
	if (z) {
		/* keep the bytes below the first NUL: z & -z is 0x80 there */
		comm[0] &= ((z & -z) >> 7) - 1;
		comm[1] = 0;
	} else {
		z = zero_bytes(comm[1]);
		if (z)
			comm[1] &= ((z & -z) >> 7) - 1;
	}
	__u8 *cls = bpf_map_lookup_elem(&open_comms, comm);
	return cls ? *cls : 0;
}

/* open_dropped applies the open filter (see sensor/probe/filter.go, whose
 * OpenFilter.Wants is the reference): it returns 1 when no loaded rule can
 * match an open of upath with these flags and result. Paths it cannot judge
 * without resolving them are kept: relative ones, ones with "." or ".."
 * components or doubled slashes (fd.name is the cleaned path), and ones
 * longer than the key. Cheapest tests first: this runs on every open. */
static __always_inline int open_dropped(struct task_struct *task, const void *upath, __u64 flags, long ret)
{
	if (!open_filter || !upath)
		return 0;
	__u32 acc = flags & 3;
	if (acc == 3)
		return 0;
	__u8 bit = 1 << (acc * 2 + (ret < 0 ? 1 : 0));
	__u32 zero = 0;
	struct sk_prefix_key *k = bpf_map_lookup_elem(&prefix_scratch, &zero);
	if (!k)
		return 0;
	long n = bpf_probe_read_user_str(k->data, SK_PREFIX_MAX, upath);
	if (n <= 1 || n >= SK_PREFIX_MAX || k->data[0] != '/')
		return 0;
	if (dotted(k->data, n - 1))
		return 0;
	__u32 head = 0;
	if (n > 2)
		head = (__u32)k->data[1] << 8;
	if (n > 3)
		head |= k->data[2];
	__u32 word = head / 64;
	__u64 *heads = bpf_map_lookup_elem(&open_heads, &word);
	struct sk_prefix_val *v;
	if (heads && (*heads & (1ULL << (head % 64)))) {
		k->prefixlen = (n - 1) * 8;
		v = bpf_map_lookup_elem(&open_prefixes, k);
	} else {
		v = bpf_map_lookup_elem(&open_root, &zero);
	}
	if (!v)
		return 1;
	if (v->outcomes[0] & bit)
		return 0;
	if (!(v->named & bit))
		return 1;
	__u32 cls = name_class(task);
	if (cls == 0)
		return 1;
	barrier_var(cls); /* keep the mask for the verifier */
	return !(v->outcomes[cls & (SK_COMM_CLASSES - 1)] & bit);
}

static __always_inline void count_filtered(__u32 type)
{
	count(2 * SK_NUM_TYPES + (type % SK_NUM_TYPES));
}

/* sys_exit is the generic sys_exit_<name> body: it records the six raw arguments and
 * the result, copies up to two user strings (arg indexes s0, s1) and one
 * user blob (arg index bl, length from arg index bllen, or a string when
 * bllen is NONE), and for socket syscalls the kernel socket tuple of the fd
 * in argument sockarg (or of the returned fd when sockarg is -2: accept, and
 * dup, whose new fd is what the old one was). */
static __always_inline int sys_exit(void *ctx, __u16 type, long ret,
				    int s0, int s1, int bl, int bllen, int sockarg, int io)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (self_tgid && task->tgid == self_tgid)
		return 0;
	if (!is_wanted(type))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if ((type == SK_OPEN && open_dropped(task, (const void *)regs->di, regs->si, ret)) ||
	    (type == SK_OPENAT && open_dropped(task, (const void *)regs->si, regs->dx, ret)) ||
	    (type == SK_CREAT && open_dropped(task, (const void *)regs->di, 1 /* O_WRONLY */, ret))) {
		count_filtered(type);
		return 0;
	}
	struct sk_buf *b = begin(type);
	if (!b)
		return 0;
	__u64 a[6];
	a[0] = regs->di;
	a[1] = regs->si;
	a[2] = regs->dx;
	a[3] = regs->r10;
	a[4] = regs->r8;
	a[5] = regs->r9;
	b->hdr.args[0] = a[0];
	b->hdr.args[1] = a[1];
	b->hdr.args[2] = a[2];
	b->hdr.args[3] = a[3];
	b->hdr.args[4] = a[4];
	b->hdr.args[5] = a[5];
	b->hdr.res = ret;
	if (s0 >= 0 && s0 < 6)
		put_user_str(b, 0, (const void *)a[s0]);
	if (s1 >= 0 && s1 < 6)
		put_user_str(b, 1, (const void *)a[s1]);
	if (io == IO_FD || (io == IO_NEWFD && ret >= 0)) {
		/* The fd's path walk and the buffer copy run in one program,
		 * fd_io, verified once for every I/O and dup syscall. */
		b->d0 = io == IO_FD ? (int)a[0] : ret;
		bpf_tail_call(ctx, &path_tail, SK_TAIL_FD_IO);
		return submit(b); /* fd_io missing: send without them */
	}
	if (io == IO_MSG)
		put_msg_head(b, (const struct user_msghdr *)a[1], ret);
	else if (io >= 0 && io < 6 && ret > 0)
		put_user_blob(b, 1, (const void *)a[io], ret < SK_SNAPLEN ? ret : SK_SNAPLEN);
	if (bl >= 0 && bl < 6) {
		if (bllen >= 0 && bllen < 6)
			put_user_blob(b, 2, (const void *)a[bl], a[bllen]);
		else
			put_user_str(b, 2, (const void *)a[bl]);
	}
	long d0, d1;
	path_dirfds(type, a, &d0, &d1);
	if (d0 != NO_DIRFD || d1 != NO_DIRFD) {
		/* The directory walk runs in one program, path_dirs, which
		 * submits the record: verified once instead of in every path
		 * syscall's program (inlined, it made loading 6x slower). */
		b->d0 = d0;
		b->d1 = d1;
		bpf_tail_call(ctx, &path_tail, SK_TAIL_PATH_DIRS);
		/* not reached unless path_dirs is missing: send without them */
	}
	if (sockarg == -2)
		put_sock(b, ret);
	else if (sockarg >= 0 && sockarg < 6)
		put_sock(b, (long)a[sockarg]);
	return submit(b);
}

static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

#define SYS(name, type, s0, s1, bl, bllen, sockarg)                              \
	SYSIO(name, type, s0, s1, bl, bllen, sockarg, NONE)

/* SYSIO also captures the head of the I/O buffer in argument io (or the
 * msghdr's first iovec for IO_MSG), up to SK_SNAPLEN and the result. */
#define SYSIO(name, type, s0, s1, bl, bllen, sockarg, io)                         \
	SEC("tracepoint/syscalls/sys_exit_" #name)                               \
	int sys_##name(struct trace_event_raw_sys_exit *ctx)                     \
	{                                                                        \
		return sys_exit(ctx, type, ctx->ret, s0, s1, bl, bllen, sockarg, io);    \
	}

/* Files */
SYS(open, SK_OPEN, 0, NONE, NONE, NONE, NONE)
SYS(openat, SK_OPENAT, 1, NONE, NONE, NONE, NONE)
SYS(creat, SK_CREAT, 0, NONE, NONE, NONE, NONE)
SYS(unlink, SK_UNLINK, 0, NONE, NONE, NONE, NONE)
SYS(unlinkat, SK_UNLINKAT, 1, NONE, NONE, NONE, NONE)
SYS(rename, SK_RENAME, 0, 1, NONE, NONE, NONE)
SYS(renameat, SK_RENAMEAT, 1, 3, NONE, NONE, NONE)
SYS(renameat2, SK_RENAMEAT2, 1, 3, NONE, NONE, NONE)
SYS(mkdir, SK_MKDIR, 0, NONE, NONE, NONE, NONE)
SYS(mkdirat, SK_MKDIRAT, 1, NONE, NONE, NONE, NONE)
SYS(rmdir, SK_RMDIR, 0, NONE, NONE, NONE, NONE)
SYS(chmod, SK_CHMOD, 0, NONE, NONE, NONE, NONE)
SYS(fchmod, SK_FCHMOD, NONE, NONE, NONE, NONE, NONE)
SYS(fchmodat, SK_FCHMODAT, 1, NONE, NONE, NONE, NONE)
SYS(chown, SK_CHOWN, 0, NONE, NONE, NONE, NONE)
SYS(fchown, SK_FCHOWN, NONE, NONE, NONE, NONE, NONE)
SYS(fchownat, SK_FCHOWNAT, 1, NONE, NONE, NONE, NONE)
SYS(lchown, SK_LCHOWN, 0, NONE, NONE, NONE, NONE)
SYS(link, SK_LINK, 0, 1, NONE, NONE, NONE)
SYS(linkat, SK_LINKAT, 1, 3, NONE, NONE, NONE)
SYS(symlink, SK_SYMLINK, 0, 1, NONE, NONE, NONE)
SYS(symlinkat, SK_SYMLINKAT, 0, 2, NONE, NONE, NONE)
SYS(memfd_create, SK_MEMFD_CREATE, 0, NONE, NONE, NONE, NONE)
SYS(chroot, SK_CHROOT, 0, NONE, NONE, NONE, NONE)
SYSIO(dup, SK_DUP, NONE, NONE, NONE, NONE, NONE, IO_NEWFD)
SYSIO(dup2, SK_DUP2, NONE, NONE, NONE, NONE, NONE, IO_NEWFD)
SYSIO(dup3, SK_DUP3, NONE, NONE, NONE, NONE, NONE, IO_NEWFD)

/* openat2 passes flags and mode in a struct open_how; they replace the raw
 * args[2]/args[3] (the struct pointer and its size) in the record. */
SEC("tracepoint/syscalls/sys_exit_openat2")
int sys_openat2(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();
	long ret = ctx->ret;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (self_tgid && tgid == self_tgid)
		return 0;
	if (!is_wanted(SK_OPENAT2))
		return 0;
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)BPF_CORE_READ(regs, dx));
	/* resolve flags (RESOLVE_IN_ROOT…) change what an absolute path names */
	if (how.resolve == 0 && open_dropped(bpf_get_current_task_btf(), (const void *)BPF_CORE_READ(regs, si), how.flags, ret)) {
		count_filtered(SK_OPENAT2);
		return 0;
	}
	struct sk_buf *b = begin(SK_OPENAT2);
	if (!b)
		return 0;
	b->hdr.args[0] = BPF_CORE_READ(regs, di);
	b->hdr.args[1] = BPF_CORE_READ(regs, si);
	b->hdr.args[2] = how.flags;
	b->hdr.args[3] = how.mode;
	b->hdr.args[4] = how.resolve;
	b->hdr.args[5] = 0;
	b->hdr.res = ret;
	put_user_str(b, 0, (const void *)b->hdr.args[1]);
	b->d0 = (int)b->hdr.args[0];
	b->d1 = NO_DIRFD;
	bpf_tail_call(ctx, &path_tail, SK_TAIL_PATH_DIRS);
	return submit(b);
}

/* path_dirs is tail-called by the path syscalls' programs with the record
 * in scratch and its dirfds in d0/d1: it records the directories relative
 * paths start from (read here, at the event, because user space reading
 * /proc later may find the fd number reused by another directory, or the
 * process gone), then submits the record. When the second path is relative
 * to another directory (renameat's newdirfd, linkat's…) it tail-calls
 * itself to append that one after an empty name: one walk per run, so the
 * program is verified once. */
#define SK_PHASE_DIR2 (-2000000)
SEC("tracepoint")
int path_dirs(void *ctx)
{
	__u32 zero = 0;
	struct sk_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;
	if (b->d0 == SK_PHASE_DIR2) {
		__u32 l = b->hdr.len[2] & SK_SEG_MAX;
		if (l >= SK_SEG_MAX - 1)
			return submit(b);
		b->data[(seg_off(b, 2) + l) & SK_OFF_MASK] = 0;
		b->wfd = b->d1;
		b->wstart = l + 1;
		b->d0 = SK_F_BASEDIR1 | SK_F_BASEDIR2;
		b->d1 = NO_DIRFD;
	} else {
		__u16 type = b->hdr.type;
		if ((type == SK_OPEN || type == SK_OPENAT || type == SK_OPENAT2 || type == SK_CREAT) && b->hdr.res >= 0)
			put_file_id(b, fd_file(bpf_get_current_task_btf(), b->hdr.res));
		b->wfd = pick_basedir(b, b->d0, b->d1);
		b->wstart = 0;
	}
	/* Read back through memory: the two phases then reach the walk in
	 * one verifier state. */
	long dirfd = *(volatile long *)&b->wfd;
	__u32 start = *(volatile long *)&b->wstart & SK_SEG_MAX;
	if (dirfd != NO_DIRFD && put_dir(b, dirfd, start)) {
		b->hdr.flags |= b->d0;
		if (b->d1 != NO_DIRFD) {
			b->d0 = SK_PHASE_DIR2;
			bpf_tail_call(ctx, &path_tail, SK_TAIL_PATH_DIRS);
		}
	}
	return submit(b);
}

/* put_iov_head copies the head of an iovec array's data (readv, writev,
 * preadv, pwritev) into seg1: up to SK_SNAPLEN bytes and the bytes
 * transferred, across the first SK_IOV_MAX vectors. */
#define SK_IOV_MAX 8
static __always_inline void put_iov_head(struct sk_buf *b, const struct iovec *vec, __u64 cnt, long ret)
{
	__u32 off = seg_off(b, 1);
	__u32 got = 0;
	for (int i = 0; i < SK_IOV_MAX; i++) {
		if (i >= cnt || got >= SK_SNAPLEN || got >= ret)
			break;
		struct iovec iov = {};
		if (bpf_probe_read_user(&iov, sizeof(iov), &vec[i]) != 0)
			break;
		__u64 n = iov.iov_len;
		if (n > SK_SNAPLEN - got)
			n = SK_SNAPLEN - got;
		if (n > (__u64)ret - got)
			n = ret - got;
		__u64 m = n;
		/* m <= SK_SNAPLEN already; the mask, which clang would drop, is
		 * the bound the verifier sees */
		asm volatile("%0 &= 0x7f" : "+r"(m));
		if (m == 0)
			continue;
		if (bpf_probe_read_user(&b->data[(off + got) & SK_OFF_MASK], m, iov.iov_base) != 0)
			break;
		got += m;
	}
	b->hdr.len[1] = got & SK_SEG_MAX;
}

/* fd_io is tail-called by the I/O and dup programs with the record in
 * scratch and the fd in d0: it describes the fd (a socket's tuple, or a
 * file's path, inode and device, read at the event), copies the head of
 * the transferred buffer, then submits the record. */
SEC("tracepoint")
int fd_io(void *ctx)
{
	__u32 zero = 0;
	struct sk_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;
	put_fd_path(b, b->d0);
	__u16 type = b->hdr.type;
	long ret = b->hdr.res;
	const void *buf = (const void *)b->hdr.args[1];
	if (ret <= 0)
		return submit(b);
	switch (type) {
	case SK_READ:
	case SK_WRITE:
	case SK_PREAD:
	case SK_PWRITE:
		put_user_blob(b, 1, buf, ret < SK_SNAPLEN ? ret : SK_SNAPLEN);
		break;
	case SK_READV:
	case SK_WRITEV:
	case SK_PREADV:
	case SK_PWRITEV:
		put_iov_head(b, buf, b->hdr.args[2], ret);
		break;
	case SK_SENDMMSG:
	case SK_RECVMMSG: {
		/* the first message: its msghdr and the bytes it moved */
		struct mmsghdr mm = {};
		if (bpf_probe_read_user(&mm, sizeof(mm), buf) == 0)
			put_msg_head(b, (const struct user_msghdr *)buf, mm.msg_len);
		break;
	}
	}
	return submit(b);
}

/* fd_list describes the polled fd number d0 (an index into the pollfd
 * array in seg1, d1 entries long) into seg2, then tail-calls itself for
 * the next one: one fd, one path walk per program run, so the program is
 * verified once whatever the count. The last one submits. */
SEC("tracepoint")
int fd_list(void *ctx)
{
	__u32 zero = 0;
	struct sk_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;
	long i = b->d0;
	if (i < 0 || i >= b->d1 || i >= SK_POLL_MAX)
		return submit(b);
	b->d0 = i + 1;
	__u32 l = b->hdr.len[2] & SK_SEG_MAX;
	if (l > SK_SEG_MAX - 64)
		return submit(b);
	struct pollfd pfd = {};
	bpf_probe_read_kernel(&pfd, sizeof(pfd), &b->data[(seg_off(b, 1) + i * sizeof(pfd)) & SK_OFF_MASK]);
	__u32 at = (seg_off(b, 2) + l) & SK_OFF_MASK;
	b->data[at] = SK_FDL_NONE;
	b->hdr.len[2] = (l + 1) & SK_SEG_MAX;
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *f = fd_file(task, pfd.fd);
	if (f) {
		umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
		if ((mode & 00170000) == 0140000) { /* S_IFSOCK */
			__u16 flags = b->hdr.flags;
			struct sk_sock saved = b->hdr.sock;
			put_sock(b, pfd.fd);
			if (b->hdr.flags & SK_F_SOCK) {
				b->data[at] = SK_FDL_SOCK;
				__builtin_memcpy(&b->data[(at + 1) & SK_OFF_MASK], &b->hdr.sock, sizeof(struct sk_sock));
				b->hdr.len[2] = (l + 1 + sizeof(struct sk_sock)) & SK_SEG_MAX;
			}
			b->hdr.flags = flags;
			b->hdr.sock = saved;
		} else if (put_path_at(b, 2, l + 1, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt))) {
			__u32 e = b->hdr.len[2] & SK_SEG_MAX;
			if (e < SK_SEG_MAX) {
				b->data[at] = SK_FDL_FILE;
				b->data[(seg_off(b, 2) + e) & SK_OFF_MASK] = 0; /* the empty name ending it */
				b->hdr.len[2] = (e + 1) & SK_SEG_MAX;
			} else {
				b->hdr.len[2] = (l + 1) & SK_SEG_MAX;
			}
		}
	}
	bpf_tail_call(ctx, &path_tail, SK_TAIL_FD_LIST);
	return submit(b);
}

/* poll and ppoll copy the pollfd array (fd, events, revents after the
 * call) into seg1, then fd_list describes each fd (fdlist.*). */
static __always_inline int sys_poll_exit(void *ctx, __u16 type, struct pt_regs *regs, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (self_tgid && tgid == self_tgid)
		return 0;
	if (!is_wanted(type))
		return 0;
	struct sk_buf *b = begin(type);
	if (!b)
		return 0;
	b->hdr.args[0] = regs->di;
	b->hdr.args[1] = regs->si;
	b->hdr.args[2] = regs->dx;
	b->hdr.args[3] = regs->r10;
	b->hdr.args[4] = regs->r8;
	b->hdr.args[5] = 0;
	b->hdr.res = ret;
	__u64 n = regs->si;
	if (n > SK_POLL_MAX)
		n = SK_POLL_MAX;
	put_user_blob(b, 1, (const void *)regs->di, n * sizeof(struct pollfd));
	b->d0 = 0;
	b->d1 = b->hdr.len[1] / sizeof(struct pollfd);
	bpf_tail_call(ctx, &path_tail, SK_TAIL_FD_LIST);
	return submit(b);
}

SEC("tracepoint/syscalls/sys_exit_poll")
int sys_poll(struct trace_event_raw_sys_exit *ctx)
{
	return sys_poll_exit(ctx, SK_POLL, user_regs(), ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_ppoll")
int sys_ppoll(struct trace_event_raw_sys_exit *ctx)
{
	return sys_poll_exit(ctx, SK_PPOLL, user_regs(), ctx->ret);
}

/* Network */
SYS(connect, SK_CONNECT, NONE, NONE, 1, 2, 0)
SYS(accept, SK_ACCEPT, NONE, NONE, NONE, NONE, -2)
SYS(accept4, SK_ACCEPT4, NONE, NONE, NONE, NONE, -2)
SYS(bind, SK_BIND, NONE, NONE, 1, 2, 0)
SYS(listen, SK_LISTEN, NONE, NONE, NONE, NONE, 0)
SYS(socket, SK_SOCKET, NONE, NONE, NONE, NONE, NONE)
SYSIO(sendto, SK_SENDTO, NONE, NONE, 4, 5, 0, 1)
SYSIO(sendmsg, SK_SENDMSG, NONE, NONE, NONE, NONE, 0, IO_MSG)
SYSIO(recvfrom, SK_RECVFROM, NONE, NONE, NONE, NONE, 0, 1)
SYSIO(recvmsg, SK_RECVMSG, NONE, NONE, NONE, NONE, 0, IO_MSG)
SYSIO(read, SK_READ, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(write, SK_WRITE, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(pread64, SK_PREAD, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(pwrite64, SK_PWRITE, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(readv, SK_READV, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(writev, SK_WRITEV, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(preadv, SK_PREADV, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(pwritev, SK_PWRITEV, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(sendmmsg, SK_SENDMMSG, NONE, NONE, NONE, NONE, NONE, IO_FD)
SYSIO(recvmmsg, SK_RECVMMSG, NONE, NONE, NONE, NONE, NONE, IO_FD)

/* Credentials, namespaces, kernel */
SYS(setuid, SK_SETUID, NONE, NONE, NONE, NONE, NONE)
SYS(setgid, SK_SETGID, NONE, NONE, NONE, NONE, NONE)
SYS(setresuid, SK_SETRESUID, NONE, NONE, NONE, NONE, NONE)
SYS(setresgid, SK_SETRESGID, NONE, NONE, NONE, NONE, NONE)
SYS(setns, SK_SETNS, NONE, NONE, NONE, NONE, NONE)
SYS(unshare, SK_UNSHARE, NONE, NONE, NONE, NONE, NONE)
SYS(ptrace, SK_PTRACE, NONE, NONE, NONE, NONE, NONE)
SYS(mount, SK_MOUNT, 0, 1, 2, NONE, NONE)
SYS(umount, SK_UMOUNT2, 0, NONE, NONE, NONE, NONE)
SYS(init_module, SK_INIT_MODULE, 2, NONE, NONE, NONE, NONE)
SYS(finit_module, SK_FINIT_MODULE, 1, NONE, NONE, NONE, NONE)
SYS(bpf, SK_BPF, NONE, NONE, NONE, NONE, NONE)
SYS(userfaultfd, SK_USERFAULTFD, NONE, NONE, NONE, NONE, NONE)
SYS(kill, SK_KILL, NONE, NONE, NONE, NONE, NONE)
SYS(ioctl, SK_IOCTL, NONE, NONE, NONE, NONE, NONE)
SYS(prctl, SK_PRCTL, NONE, NONE, NONE, NONE, NONE)
SYS(mmap, SK_MMAP, NONE, NONE, NONE, NONE, NONE)
SYS(mprotect, SK_MPROTECT, NONE, NONE, NONE, NONE, NONE)
SYS(capset, SK_CAPSET, NONE, NONE, NONE, NONE, NONE)

/* Process lifecycle.
 *
 * A successful execve replaces the address space and the registers, so its
 * arguments are gone by the time the syscall returns: the record is built in
 * sched_process_exec from bprm->filename and the new stack's argument area.
 * Failed execs are reported at sys_exit, whose registers and pointers are
 * still the caller's. */

static __always_inline int exec_failed(void *ctx, __u16 type, long ret, int fnarg)
{
	if (ret == 0)
		return 0;
	return sys_exit(ctx, type, ret, fnarg, NONE, NONE, NONE, NONE, NONE);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int sys_execve(struct trace_event_raw_sys_exit *ctx)
{
	return exec_failed(ctx, SK_EXECVE, ctx->ret, 0);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int sys_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return exec_failed(ctx, SK_EXECVEAT, ctx->ret, 1);
}

#define SK_SB_RDONLY 1
#define SK_S_IMMUTABLE 8
#define SK_MAY_WRITE 2
#define SK_CAP_DAC_OVERRIDE 1
#define SK_CAP_FOWNER 3

/* exe_writable approximates the kernel's write permission check on the
 * executable for the task's filesystem credentials: not on a read-only
 * mount or immutable; owner, group (primary) or other write bits as they
 * apply; or CAP_DAC_OVERRIDE / CAP_FOWNER. POSIX ACLs and supplementary
 * groups are not consulted. */
static __always_inline int exe_writable(struct task_struct *task, struct file *f)
{
	struct inode *in = BPF_CORE_READ(f, f_inode);
	if (!in)
		return 0;
	if (BPF_CORE_READ(in, i_sb, s_flags) & SK_SB_RDONLY)
		return 0;
	if (BPF_CORE_READ(in, i_flags) & SK_S_IMMUTABLE)
		return 0;
	const struct cred *cred = task->cred;
	__u32 fsuid = cred->fsuid.val, fsgid = cred->fsgid.val;
	__u32 uid = BPF_CORE_READ(in, i_uid.val), gid = BPF_CORE_READ(in, i_gid.val);
	umode_t mode = BPF_CORE_READ(in, i_mode);
	if (fsuid == uid)
		return 1; /* the owner can always chmod it writable */
	if (fsgid == gid)
		mode >>= 3;
	if (mode & SK_MAY_WRITE)
		return 1;
	__u64 caps = cred->cap_effective.val;
	return (caps & (1ULL << SK_CAP_DAC_OVERRIDE)) || (caps & (1ULL << SK_CAP_FOWNER));
}

/* Inode times across kernels: i_ctime_sec/i_mtime_sec and their _nsec
 * (6.11 on; from 6.13 i_ctime_nsec's top bit flags a queried ctime, not
 * time), __i_ctime and i_mtime (6.6 to 6.10), i_ctime and i_mtime. */
struct inode___v66 {
	struct timespec64 __i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline void inode_times(struct inode *in, __u64 *ctime, __u64 *mtime)
{
	if (bpf_core_field_exists(in->i_ctime_sec)) {
		*ctime = BPF_CORE_READ(in, i_ctime_sec) * 1000000000ULL + (BPF_CORE_READ(in, i_ctime_nsec) & 0x7fffffff);
		*mtime = BPF_CORE_READ(in, i_mtime_sec) * 1000000000ULL + BPF_CORE_READ(in, i_mtime_nsec);
	} else if (bpf_core_field_exists(((struct inode___v66 *)in)->__i_ctime)) {
		struct inode___v66 *i = (void *)in;
		*ctime = BPF_CORE_READ(i, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, __i_ctime.tv_nsec);
		*mtime = BPF_CORE_READ(i, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, i_mtime.tv_nsec);
	} else {
		struct inode___old *i = (void *)in;
		*ctime = BPF_CORE_READ(i, i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, i_ctime.tv_nsec);
		*mtime = BPF_CORE_READ(i, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(i, i_mtime.tv_nsec);
	}
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	/* The saved registers still hold the syscall number: execve or
	 * execveat, without a sys_enter hook (which would cost every
	 * syscall a perf_syscall_enter dispatch). */
	__u16 type = SK_EXECVE;
	if (BPF_CORE_READ(user_regs(), orig_ax) == 322) /* __NR_execveat */
		type = SK_EXECVEAT;
	remember_name(p);
	if (self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	struct sk_buf *b = begin(type);
	if (!b)
		return 0;
	/* A memfd's file is named "memfd:<name>": Falco reports that name as
	 * proc.exepath ("memfd:runc_cloned:/proc/self/exe") and sets
	 * proc.is_exe_from_memfd; other execs report the path exec'd. */
	const unsigned char *dname = BPF_CORE_READ(bprm, file, f_path.dentry, d_name.name);
	char pfx[6] = {};
	bpf_probe_read_kernel(pfx, sizeof(pfx), dname);
	if (pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' && pfx[5] == ':') {
		b->hdr.flags |= SK_F_EXE_MEMFD;
		put_kernel_str(b, 0, dname);
	} else {
		put_kernel_str(b, 0, BPF_CORE_READ(bprm, filename));
	}
	struct file *exe = BPF_CORE_READ(bprm, file);
	/* proc.exe_ino and its ctime/mtime (args 4, 5), as Falco's execve. */
	struct inode *ein = BPF_CORE_READ(exe, f_inode);
	if (ein) {
		b->hdr.ino = BPF_CORE_READ(ein, i_ino);
		inode_times(ein, &b->hdr.args[4], &b->hdr.args[5]);
	}
	b->hdr.flags |= layer_flags(exe, SK_F_EXE_UPPER, SK_F_EXE_LOWER);
	if (exe_writable(p, exe))
		b->hdr.flags |= SK_F_EXE_WRITABLE;
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	if (end > start) {
		if (end - start > SK_SEG_MAX)
			b->hdr.flags |= SK_F_ARGS_TRUNC;
		put_user_blob(b, 1, (const void *)start, end - start);
	}
	/* seg1 = argv then envp (proc.env), in the room argv leaves; args[0]
	 * tells user space where argv ends. */
	b->hdr.args[0] = b->hdr.len[1];
	unsigned long env_start = BPF_CORE_READ(mm, env_start);
	unsigned long env_end = BPF_CORE_READ(mm, env_end);
	__u32 used = b->hdr.len[1] & SK_SEG_MAX;
	if (env_end > env_start && used < SK_SEG_MAX) {
		__u64 n = env_end - env_start;
		__u32 room = SK_SEG_MAX - used;
		if (n > room)
			n = room;
		n &= SK_SEG_MAX;
		__u32 off = (seg_off(b, 1) + used) & SK_OFF_MASK;
		if (n > 0 && bpf_probe_read_user(&b->data[off], n, (const void *)env_start) == 0)
			b->hdr.len[1] = (used + n) & SK_SEG_MAX;
	}
	/* The process group and session as the process's pid namespace numbers
	 * them (proc.vpgid, proc.sid): a child may have left its parent's
	 * (setsid, setpgid) between fork and exec. args[1] = host pgid. */
	unsigned int level = p->thread_pid->level;
	b->hdr.args[1] = pid_nr_in(p->signal->pids[PIDTYPE_PGID], 0);
	b->hdr.args[2] = pid_nr_in(p->signal->pids[PIDTYPE_PGID], level);
	b->hdr.args[3] = pid_nr_in(p->signal->pids[PIDTYPE_SID], level);
	put_cgroup_leaf(b, p);
	return submit(b);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 cpid = BPF_CORE_READ(child, pid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	/* Threads share their process's table entry: only new processes. */
	if (cpid != ctgid)
		return 0;
	remember_name(child);
	if (self_tgid && (bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	struct sk_buf *b = begin(SK_CLONE);
	if (!b)
		return 0;
	b->hdr.res = ctgid;
	b->hdr.args[0] = BPF_CORE_READ(child, pid);
	b->hdr.args[1] = task_vnr(BPF_CORE_READ(child, thread_pid));
	/* The child's real parent: the caller, or the caller's parent for
	 * CLONE_PARENT (runc's init stages), as libsinsp takes it. */
	b->hdr.args[2] = BPF_CORE_READ(child, real_parent, tgid);
	put_cgroup_leaf(b, child);
	return submit(b);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_exit, struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (pid != tgid)
		return 0;
	if (self_tgid && tgid == self_tgid)
		return 0;
	struct sk_buf *b = begin(SK_PROC_EXIT);
	if (!b) {
		bpf_map_delete_elem(&proc_names, &tgid);
		return 0;
	}
	b->hdr.res = BPF_CORE_READ(p, exit_code);
	submit(b);
	bpf_map_delete_elem(&proc_names, &tgid);
	return 0;
}
