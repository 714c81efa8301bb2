// Package event is the event model shared by the probe decoder, the process
// and container state, the field extractors and the rule engine. It is a leaf
// package: it imports nothing from Saker.
//
// An Event is one completed syscall (Saker captures at syscall exit, with the
// arguments and the result together, so there is no enter/exit pair to
// correlate: evt.dir is always "<"). Process and container context are
// pointers into the sensor's state tables, so building an event allocates
// nothing for them.
package event

import "net/netip"

// Event is one captured syscall or process-lifecycle event.
type Event struct {
	Num  uint64 // evt.num: sequence number assigned by the sensor
	Type Type   // evt.type
	TS   int64  // evt.time: wall-clock nanoseconds since the Unix epoch
	CPU  uint32
	Res  int64 // evt.rawres: the syscall's return value (negative errno on failure)
	// FirstTS is the timestamp of the capture's first event (evt.reltime
	// counts from it); 0 when the producer does not track it.
	FirstTS int64

	Thread    *Thread    // the calling thread (never nil for syscall events)
	Container *Container // the thread's container, or nil on the host

	FD FD // the file descriptor the syscall used or created, when any

	// Sched is the calling thread's CPU use and its process's thread
	// count as the probe read them at the event; zero when the producer
	// has none.
	Sched Sched

	// Syscall-specific arguments, named as Falco names them (evt.arg.NAME).
	Flags   uint32 // open* flags (O_*), socket type, mount flags, clone/unshare flags, setns nstype, execve Exe* flags…
	Mode    uint32 // open/creat/mkdir/chmod mode, mmap/mprotect prot
	Path    string // name / path / pathname / filename / oldpath / mount dev / symlink target (the link's content), resolved against cwd where Falco does
	Target  string // newpath / linkpath / mount dir
	Request uint64 // ptrace request, ioctl request, kill sig, bpf cmd, prctl option, openat2 resolve
	// AbsPath and AbsTarget are Path and Target made absolute and clean for
	// the path syscalls other than open (unlink*, mkdir*, rmdir, chmod,
	// chown, rename*, link*, symlink*): resolved against the directory the
	// probe read at the event (the dirfd's or the working directory), as
	// Falco's fs.path.* and evt.abspath are. "" when not resolved, and
	// AbsPath stays "" for a symlink's content, which is not a path to
	// resolve.
	AbsPath, AbsTarget string
	// DirFD and NewDirFD are the *at syscalls' directory fds (dirfd /
	// olddirfd / linkdirfd and newdirfd); -100 is AT_FDCWD.
	DirFD, NewDirFD int64
	PID             int64  // ptrace/kill target pid, setns fd…
	UID             uint32 // setuid/setresuid/chown uid
	GID             uint32 // setgid/chown gid
	Domain          uint32 // socket domain (AF_*)
	Proto           uint32 // socket protocol
	Data            []byte // I/O buffer head (read/write/send/recv family), up to the snaplen; nil when none
	// FDList are the fds a poll or ppoll waited on (fdlist.*), as the
	// probe found them at the event; nil for other events.
	FDList []FD

	// Args are extra "name=value" arguments for syscalls the fixed fields
	// above do not cover; evt.arg.NAME falls back to them.
	Args []Arg

	// Plugin is the payload of an event of another source (a Kubernetes
	// audit event for k8s_audit); that source's extractors read it.
	Plugin any
}

// Arg is a named syscall argument rendered as a string.
type Arg struct {
	Name  string
	Value string
}

// Thread is the process context of an event: one entry of the sensor's
// process table. Fields are set once at exec/fork and read concurrently, so
// they must not be mutated after the table publishes the entry (replace the
// entry instead).
type Thread struct {
	TID, PID, PPID int64 // host namespace ids
	VTID, VPID     int64 // ids inside the thread's pid namespace
	SID, VPGID     int64
	UID, GID       uint32
	EUID, EGID     uint32
	LoginUID       int64  // -1 when unset (4294967295 in the kernel)
	User, Group    string // resolved names; "" when unknown
	LoginUser      string
	// HomeDir and Shell are the user's home directory and login shell
	// from the user database; "" when the user is unknown.
	HomeDir, Shell string
	// PGID is the process group id in the host pid namespace (proc.pgid);
	// VPGID above is the one in the process's own namespace.
	PGID int64

	Comm    string   // proc.name: the kernel comm, at most 15 bytes
	Exe     string   // proc.exe: argv[0]
	ExePath string   // proc.exepath: resolved executable path
	Args    []string // proc.args: argv[1:]
	Cwd     string   // proc.cwd, with a trailing slash as Falco prints it
	Env     []string // "NAME=value", when captured
	TTY     uint32   // proc.tty: controlling terminal device number, 0 = none

	StartTS        int64  // process start, ns since epoch (proc.duration)
	CapEffective   uint64 // thread.cap_effective bitmask
	CapPermitted   uint64
	CapInheritable uint64

	ExeUpperLayer bool   // proc.is_exe_upper_layer: exe written in an overlayfs upper layer
	ExeLowerLayer bool   // proc.is_exe_lower_layer: exe from an overlayfs lower (image) layer
	ExeWritable   bool   // proc.is_exe_writable: exe writable by the process
	ExeFromMemfd  bool   // proc.is_exe_from_memfd
	ExeIno        uint64 // proc.exe_ino
	ExeInoCtime   int64  // ns since epoch
	ExeInoMtime   int64

	// Resources as the process had them at exec (or when the sensor first
	// read it): memory in kB, page faults, the open-files limit and count.
	// Falco's own values come from the exec too (and from events Falco
	// does not capture by default), so both go stale alike.
	VMSizeKB, VMRSSKB, VMSwapKB uint64
	PFMajor, PFMinor            uint64
	FDLimit                     int64 // RLIMIT_NOFILE soft limit; 0 when unknown
	FDOpen                      uint64
	HasResources                bool // the figures above were read

	// Std describes fds 0, 1 and 2 (proc.stdin.type, proc.stdout.name…)
	// as the process had them at exec; Type FDUnknown when not read.
	Std [3]StdFD

	CgroupPath string // the process's cgroup v2 path (container id source)
	// Cgroups is thread.cgroups: "controller=path" pairs, space-separated,
	// read from /proc/PID/cgroup at exec (or when the sensor first read
	// the process); "" when unknown.
	Cgroups     string
	ContainerID string // 12-char container id, "" on the host

	// Parent is the parent process entry, nil at the top of the known tree.
	// proc.aname[N], proc.apid[N]… walk this chain.
	Parent *Thread

	// Derived strings, filled by Prepare so extractors allocate nothing.
	// Prepared tells whether they are valid.
	Prepared  bool
	Cmdline   string   // proc.cmdline: Comm + " " + Args joined by spaces
	ArgsLine  string   // proc.args: Args joined by spaces
	ANames    []string // ancestors' Comm, parent first (proc.aname without index)
	AExes     []string // ancestors' Exe
	AExePaths []string // ancestors' ExePath
	ACmdlines []string // ancestors' Cmdline
	APIDs     []string // ancestors' PID in decimal
}

// StdFD is one of a process's standard fds: its kind and name (a path,
// "pipe:[inode]", or local->remote for an IP socket).
type StdFD struct {
	Type FDType
	Name string
}

// Container is a container's metadata, shared by all its threads.
type Container struct {
	ID         string // 12-char short id
	FullID     string
	Name       string
	Image      string // as the runtime reports it, "nginx:1.25"
	Repository string // container.image.repository
	Tag        string // container.image.tag
	ImageID    string
	Runtime    string // docker, containerd, cri-o, podman
	Privileged bool
	StartTS    int64 // ns since epoch
	Labels     map[string]string
	Mounts     []Mount

	// Kubernetes metadata from the CRI / kubelet labels.
	PodName, PodUID, Namespace string
	PodLabels                  map[string]string
}

// Mount is one container mount.
type Mount struct {
	Source, Dest string
	Mode         string
	RW           bool
	Propagation  string
}

// FDType is the kind of object a file descriptor refers to (fd.typechar).
type FDType uint8

// File descriptor kinds, with Falco's type characters.
const (
	FDUnknown   FDType = iota
	FDFile             // f
	FDIPv4             // 4
	FDIPv6             // 6
	FDUnix             // u
	FDPipe             // p
	FDEvent            // e
	FDSignal           // s
	FDEventPoll        // l
	FDInotify          // i
	FDTimer            // t
	FDNetlink          // n
	FDBPF              // b
	FDUserfault        // u (Falco reuses the unix socket letter)
	FDIOUring          // r
	FDMemfd            // m
	FDDirectory        // d
	FDPidfd            // o
)

// FD describes the file descriptor an event used or created. An event
// without a file descriptor has Type FDUnknown and an empty Name: fd.*
// fields are then missing. A failed open keeps Type FDFile, Name (the path)
// and Num -1, as Falco reports fd.typechar=f fd.num=-1 for it.
type FD struct {
	Num  int64 // fd.num, -1 when none
	Type FDType
	Name string // fd.name: path, or "cip:cport->sip:sport" for sockets
	// NameRaw is the path exactly as the syscall passed it, before
	// resolution against the cwd (fd.nameraw); "" means same as Name.
	NameRaw string
	// NameChanged is set when the syscall changed the fd's name (a connect
	// or sendto on an unconnected UDP socket: fd.name_changed).
	NameChanged bool
	// Network endpoints for IPv4/IPv6 sockets; zero Addr when not a socket.
	ClientIP, ServerIP     netip.Addr
	ClientPort, ServerPort uint16
	L4Proto                uint8 // IPPROTO_TCP (6), IPPROTO_UDP (17), IPPROTO_ICMP (1), 255 raw
	// Local is true when the local end of the connection is the client
	// (connect); false for accept (the local end is the server).
	LocalIsClient bool
	Connected     bool
	Flags         uint32 // open flags the fd was created with
	// Ino and Dev identify the fd's file (fd.ino, fd.dev: new_encode_dev
	// numbering); Ino 0 when unknown. UpperLayer and LowerLayer tell
	// which overlayfs layer it is in (both false off overlayfs).
	Ino                    uint64
	Dev                    uint32
	UpperLayer, LowerLayer bool
}

// Sched is a thread's CPU accounting at an event, read from the kernel's
// task (utime/stime, as /proc/PID/task/TID/stat reports them).
type Sched struct {
	UserNS, SystemNS uint64 // CPU time used in user and kernel mode
	AgeNS            uint64 // time since the thread started
	NThreads         uint32 // live threads of the process, leader included; 0 = unknown
}
