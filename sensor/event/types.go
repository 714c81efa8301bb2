package event

// Type identifies an event: a syscall or a process-lifecycle event. The
// numbering is Saker's own and shared with the probe (bpf/saker.h mirrors
// it); Falco rules refer to types by name (evt.type = openat).
type Type uint16

// Event types. Keep in sync with bpf/saker.h (the probe's enum).
const (
	TypeUnknown Type = iota
	TypeExecve
	TypeExecveat
	TypeClone
	TypeClone3
	TypeFork
	TypeVfork
	TypeProcExit
	TypeOpen
	TypeOpenat
	TypeOpenat2
	TypeCreat
	TypeUnlink
	TypeUnlinkat
	TypeRename
	TypeRenameat
	TypeRenameat2
	TypeMkdir
	TypeMkdirat
	TypeRmdir
	TypeChmod
	TypeFchmod
	TypeFchmodat
	TypeChown
	TypeFchown
	TypeFchownat
	TypeLchown
	TypeLink
	TypeLinkat
	TypeSymlink
	TypeSymlinkat
	TypeConnect
	TypeAccept
	TypeAccept4
	TypeBind
	TypeListen
	TypeSocket
	TypeSendto
	TypeSendmsg
	TypeRecvfrom
	TypeRecvmsg
	TypeSetuid
	TypeSetgid
	TypeSetresuid
	TypeSetresgid
	TypeSetns
	TypeUnshare
	TypePtrace
	TypeMount
	TypeUmount2
	TypeMemfdCreate
	TypeDup
	TypeDup2
	TypeDup3
	TypeInitModule
	TypeFinitModule
	TypeBpf
	TypeUserfaultfd
	TypeKill
	TypeChroot
	TypeIoctl
	TypePrctl
	TypeMmap
	TypeMprotect
	TypeCapset
	TypeContainer // a container started (Falco's "container" event)
	TypeRead
	TypeWrite
	TypePread64
	TypePwrite64
	TypeReadv
	TypeWritev
	TypePreadv
	TypePwritev
	TypeSendmmsg
	TypeRecvmmsg
	TypePoll
	TypePpoll
	NumTypes
)

var typeNames = [NumTypes]string{
	TypeUnknown: "unknown", TypeExecve: "execve", TypeExecveat: "execveat",
	TypeClone: "clone", TypeClone3: "clone3", TypeFork: "fork", TypeVfork: "vfork",
	TypeProcExit: "procexit", TypeOpen: "open", TypeOpenat: "openat", TypeOpenat2: "openat2",
	TypeCreat: "creat", TypeUnlink: "unlink", TypeUnlinkat: "unlinkat", TypeRename: "rename",
	TypeRenameat: "renameat", TypeRenameat2: "renameat2", TypeMkdir: "mkdir", TypeMkdirat: "mkdirat",
	TypeRmdir: "rmdir", TypeChmod: "chmod", TypeFchmod: "fchmod", TypeFchmodat: "fchmodat",
	TypeChown: "chown", TypeFchown: "fchown", TypeFchownat: "fchownat", TypeLchown: "lchown",
	TypeLink: "link", TypeLinkat: "linkat", TypeSymlink: "symlink", TypeSymlinkat: "symlinkat",
	TypeConnect: "connect", TypeAccept: "accept", TypeAccept4: "accept4", TypeBind: "bind",
	TypeListen: "listen", TypeSocket: "socket", TypeSendto: "sendto", TypeSendmsg: "sendmsg",
	TypeRecvfrom: "recvfrom", TypeRecvmsg: "recvmsg", TypeSetuid: "setuid", TypeSetgid: "setgid",
	TypeSetresuid: "setresuid", TypeSetresgid: "setresgid", TypeSetns: "setns", TypeUnshare: "unshare",
	TypePtrace: "ptrace", TypeMount: "mount", TypeUmount2: "umount2", TypeMemfdCreate: "memfd_create",
	TypeDup: "dup", TypeDup2: "dup2", TypeDup3: "dup3", TypeInitModule: "init_module",
	TypeFinitModule: "finit_module", TypeBpf: "bpf", TypeUserfaultfd: "userfaultfd", TypeKill: "kill",
	TypeChroot: "chroot", TypeIoctl: "ioctl", TypePrctl: "prctl", TypeMmap: "mmap",
	TypeMprotect: "mprotect", TypeCapset: "capset", TypeContainer: "container",
	TypeRead: "read", TypeWrite: "write", TypePread64: "pread", TypePwrite64: "pwrite",
	TypeReadv: "readv", TypeWritev: "writev", TypePreadv: "preadv", TypePwritev: "pwritev",
	TypeSendmmsg: "sendmmsg", TypeRecvmmsg: "recvmmsg", TypePoll: "poll", TypePpoll: "ppoll",
}

var typesByName = func() map[string]Type {
	m := make(map[string]Type, NumTypes)
	for t, n := range typeNames {
		m[n] = Type(t)
	}
	// Falco names the events "pread" and "pwrite" and accepts the syscall
	// names too.
	m["pread64"], m["pwrite64"] = TypePread64, TypePwrite64
	return m
}()

// String returns the event type's name as rules spell it.
func (t Type) String() string {
	if t < NumTypes {
		return typeNames[t]
	}
	return "unknown"
}

// TypeByName looks up an event type by its rule name ("openat").
func TypeByName(name string) (Type, bool) {
	t, ok := typesByName[name]
	return t, ok && t != TypeUnknown
}
