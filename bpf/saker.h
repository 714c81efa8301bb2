/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* saker.h: the record layout shared by the probe and the Go decoder
 * (sensor/probe). The event-type numbering mirrors sensor/event/types.go;
 * TestTypeNumbering in sensor/probe checks the two stay in sync. */
#ifndef __SAKER_H
#define __SAKER_H

enum sk_type {
	SK_UNKNOWN = 0,
	SK_EXECVE = 1,
	SK_EXECVEAT = 2,
	SK_CLONE = 3,
	SK_CLONE3 = 4,
	SK_FORK = 5,
	SK_VFORK = 6,
	SK_PROC_EXIT = 7,
	SK_OPEN = 8,
	SK_OPENAT = 9,
	SK_OPENAT2 = 10,
	SK_CREAT = 11,
	SK_UNLINK = 12,
	SK_UNLINKAT = 13,
	SK_RENAME = 14,
	SK_RENAMEAT = 15,
	SK_RENAMEAT2 = 16,
	SK_MKDIR = 17,
	SK_MKDIRAT = 18,
	SK_RMDIR = 19,
	SK_CHMOD = 20,
	SK_FCHMOD = 21,
	SK_FCHMODAT = 22,
	SK_CHOWN = 23,
	SK_FCHOWN = 24,
	SK_FCHOWNAT = 25,
	SK_LCHOWN = 26,
	SK_LINK = 27,
	SK_LINKAT = 28,
	SK_SYMLINK = 29,
	SK_SYMLINKAT = 30,
	SK_CONNECT = 31,
	SK_ACCEPT = 32,
	SK_ACCEPT4 = 33,
	SK_BIND = 34,
	SK_LISTEN = 35,
	SK_SOCKET = 36,
	SK_SENDTO = 37,
	SK_SENDMSG = 38,
	SK_RECVFROM = 39,
	SK_RECVMSG = 40,
	SK_SETUID = 41,
	SK_SETGID = 42,
	SK_SETRESUID = 43,
	SK_SETRESGID = 44,
	SK_SETNS = 45,
	SK_UNSHARE = 46,
	SK_PTRACE = 47,
	SK_MOUNT = 48,
	SK_UMOUNT2 = 49,
	SK_MEMFD_CREATE = 50,
	SK_DUP = 51,
	SK_DUP2 = 52,
	SK_DUP3 = 53,
	SK_INIT_MODULE = 54,
	SK_FINIT_MODULE = 55,
	SK_BPF = 56,
	SK_USERFAULTFD = 57,
	SK_KILL = 58,
	SK_CHROOT = 59,
	SK_IOCTL = 60,
	SK_PRCTL = 61,
	SK_MMAP = 62,
	SK_MPROTECT = 63,
	SK_CAPSET = 64,
	SK_CONTAINER = 65,
	SK_READ = 66,
	SK_WRITE = 67,
	SK_PREAD = 68,
	SK_PWRITE = 69,
	SK_READV = 70,
	SK_WRITEV = 71,
	SK_PREADV = 72,
	SK_PWRITEV = 73,
	SK_SENDMMSG = 74,
	SK_RECVMMSG = 75,
	SK_POLL = 76,
	SK_PPOLL = 77,
	SK_NUM_TYPES = 78,
};

/* Segment bounds: every string/blob segment is at most SK_SEG_MAX bytes, so
 * three segments fit below SK_DATA_MASK and the record stays a bounded size
 * the verifier accepts. */
#define SK_SEG_MAX 4095
#define SK_DATA_SIZE 16384
#define SK_DATA_MASK 16383
#define SK_OFF_MASK 8191
#define SK_COMM_LEN 16
/* Bytes of an I/O buffer captured (evt.buffer): Falco's default snaplen. */
#define SK_SNAPLEN 80

/* struct sk_sock is the socket tuple read from the kernel's struct sock, so
 * accept and connect report both ends even when user space passed no
 * address. Addresses are in network byte order, ports in host order. */
struct sk_sock {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 proto;
};

/* struct sk_event is the fixed header of every ring-buffer record. Three
 * variable segments follow it back to back, len[0], len[1] and len[2] bytes:
 *   seg0  path / filename / name (NUL-terminated string)
 *   seg1  second path, or execve's NUL-separated argv, or the I/O buffer's
 *         first SK_SNAPLEN bytes (read/write/send/recv family)
 *   seg2  user sockaddr, mount fstype, or the cgroup leaf name (exec/fork) */
struct sk_event {
	__u64 ts;        /* bpf_ktime_get_boot_ns */
	__u64 cgroup_id; /* cgroup v2 id */
	__s64 res;       /* syscall return value; child pid for clone */
	__u64 args[6];   /* raw syscall arguments */
	__u64 cap_eff;
	__u32 pid, tid, ppid;
	__u32 vpid, vtid;
	__u32 uid, gid, euid, egid;
	__u32 loginuid;
	__u32 tty;       /* tty_nr encoding, as /proc/PID/stat */
	__u32 sid;
	__u16 type;
	__u16 cpu;
	__u16 len[3];
	__u16 flags;     /* SK_F_* */
	struct sk_sock sock;
	char comm[SK_COMM_LEN];
	__u64 cap_prm;   /* permitted capabilities */
	__u64 cap_inh;   /* inheritable capabilities */
	/* The file of the event's fd (opens, read/write, dup), read at the
	 * event: inode number and device (new_encode_dev, as Falco's fd.dev);
	 * 0 when the event has no file. */
	__u64 ino;
	/* The calling thread's CPU time in ns (user, system) and start
	 * (boot-time ns), and its process's live thread count. */
	__u64 utime;
	__u64 stime;
	__u64 tstart;
	__u32 dev;
	__u32 nthreads;
};

/* poll/ppoll records: seg1 is the pollfd array (up to SK_POLL_MAX), seg2
 * describes each of those fds in turn: a kind byte, then for SK_FDL_SOCK a
 * struct sk_sock, for SK_FDL_FILE the path's names leaf first, each
 * NUL-terminated, ended by an empty name; SK_FDL_NONE has no payload. */
#define SK_POLL_MAX 16
#define SK_FDL_NONE 0
#define SK_FDL_SOCK 1
#define SK_FDL_FILE 2

/* sk_event.flags */
#define SK_F_SOCK 1      /* sock holds a socket tuple */
#define SK_F_ARGS_TRUNC 2 /* argv did not fit in seg1 */
#define SK_F_EXE_MEMFD 4  /* exec of a memfd: seg0 is its name "memfd:…" */
#define SK_F_BASEDIR 8    /* seg2: the directory a relative seg0 path starts
			   * from (the dirfd's, or the working directory),
			   * as its names leaf first, each NUL-terminated */
#define SK_F_FDPATH 16    /* seg0: the path of the fd (read/write), names
			   * leaf first as for SK_F_BASEDIR */
#define SK_F_EXE_WRITABLE 32 /* exec: the executable is writable by the process */
#define SK_F_EXE_UPPER 64    /* exec: the executable is in an overlayfs upper layer */
#define SK_F_EXE_LOWER 128   /* exec: the executable is in an overlayfs lower layer */
#define SK_F_BASEDIR1 256    /* seg2: the directory a relative seg1 path starts
			      * from (with SK_F_BASEDIR: the same for both) */
#define SK_F_BASEDIR2 2048   /* with SK_F_BASEDIR and SK_F_BASEDIR1: seg2 holds
			      * seg0's directory, an empty name, then seg1's */
#define SK_F_FD_UPPER 512    /* the fd's file is in an overlayfs upper layer */
#define SK_F_FD_LOWER 1024   /* the fd's file is in an overlayfs lower layer */

/* Per-CPU counters: [type] events emitted, [SK_NUM_TYPES + type] dropped
 * because the ring buffer was full, [2 * SK_NUM_TYPES + type] left in the
 * kernel by the open filter (no loaded rule could match them). */
#define SK_COUNTERS (3 * SK_NUM_TYPES)

/* The open filter (sensor/probe/filter.go): a longest-prefix-match trie of
 * absolute path prefixes, each with the open outcomes (bit 2*accmode +
 * failed) some rule may match, per process-name class: class 0 is any
 * name, class k a name in open_comms. */
#define SK_PREFIX_MAX 256
#define SK_COMM_CLASSES 128

struct sk_prefix_key {
	__u32 prefixlen; /* in bits */
	__u8 data[SK_PREFIX_MAX];
};

struct sk_prefix_val {
	__u8 outcomes[SK_COMM_CLASSES];
	__u8 named; /* the union of outcomes[1..]: no name lookup without it */
};

/* open_heads: bit (c1 << 8 | c2) is set when a prefix longer than "/"
 * starts "/c1c2" (all c2 for a prefix "/c1"); a path whose head has no
 * bit takes open_root (prefix "/" or "") without the trie. */
#define SK_HEAD_WORDS 1024

#endif
