package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// Byte offsets of struct sk_event (bpf/saker.h). TestLayout checks them
// against the bpf2go-generated struct, so the decoder needs no reflection
// and no cgo.
const (
	offTS       = 0
	offCgroupID = 8
	offRes      = 16
	offArgs     = 24
	offCapEff   = 72
	offPID      = 80
	offTID      = 84
	offPPID     = 88
	offVPID     = 92
	offVTID     = 96
	offUID      = 100
	offGID      = 104
	offEUID     = 108
	offEGID     = 112
	offLoginUID = 116
	offTTY      = 120
	offSID      = 124
	offType     = 128
	offCPU      = 130
	offLen      = 132
	offFlags    = 138
	offSaddr    = 140
	offDaddr    = 156
	offSport    = 172
	offDport    = 174
	offFamily   = 176
	offProto    = 178
	offComm     = 180
	offCapPrm   = 200
	offCapInh   = 208
	offIno      = 216
	offUTime    = 224
	offSTime    = 232
	offTStart   = 240
	offDev      = 248
	offNThreads = 252
	headerSize  = 256
)

// Record flags (sk_event.flags).
const (
	flagSock      = 1
	flagArgsTrunc = 2
	flagExeMemfd  = 4
	flagBaseDir   = 8
	flagFDPath    = 16
	flagExeWrite  = 32
	flagExeUpper  = 64
	flagExeLower  = 128
	flagBaseDir1  = 256
	flagFDUpper   = 512
	flagFDLower   = 1024
	flagBaseDir2  = 2048
)

// Sock is the kernel's view of a socket: local (S) and remote (D) ends.
type Sock struct {
	Family       uint16 // AF_INET, AF_INET6, AF_UNIX…
	Proto        uint16 // IPPROTO_*
	SAddr, DAddr netip.Addr
	SPort, DPort uint16
}

// Record is one decoded probe record: the fixed header plus its three
// variable segments. Strings and byte slices alias the ring-buffer sample
// only where noted; Decode copies strings.
type Record struct {
	Type           event.Type
	BootNS         uint64 // bpf_ktime_get_boot_ns
	TS             int64  // wall clock ns, set by the reader
	CgroupID       uint64
	Res            int64
	Args           [6]uint64
	CapEff         uint64
	CapPrm, CapInh uint64 // permitted and inheritable capabilities
	PID, TID, PPID uint32
	VPID, VTID     uint32
	UID, GID       uint32
	EUID, EGID     uint32
	LoginUID       uint32
	TTY            uint32
	CPU            uint16
	Comm           string // the process's main thread's comm at its last exec or fork (proc.name), whichever thread called

	// Str0 is the path / filename / name argument.
	Str0 string
	// Str1 is the second path; for exec records it is empty and Argv holds
	// the argument vector.
	Str1 string
	// Seg2 is the user sockaddr, mount fstype, or (exec/fork) the innermost
	// cgroup directory name. It aliases the sample: copy to keep it.
	Seg2 []byte
	// Data is the head of the I/O buffer (read/write/send/recv family),
	// at most the probe's snaplen; nil for other records. It is reused by
	// the next Decode.
	Data []byte
	// Argv is the exec'd argument vector (exec records only).
	Argv []string
	// Env is the exec'd environment, "NAME=value" (successful exec records
	// only), cut where argv and envp together exceed a segment.
	Env       []string
	ArgsTrunc bool
	// ExeMemfd marks the exec of a memfd; Str0 is then its name
	// ("memfd:<name>"), which Falco reports as proc.exepath.
	ExeMemfd bool
	// ExeWritable, ExeUpperLayer and ExeLowerLayer describe the exec'd
	// file (exec records): writable by the process; in the upper
	// (container-written) or a lower (image) layer of an overlayfs.
	ExeWritable, ExeUpperLayer, ExeLowerLayer bool
	// PGID, VPGID and SID are the process group (host pid namespace and
	// the process's own) and session (its own namespace) at a successful
	// exec; 0 in other records or when unknown.
	PGID, VPGID, SID uint32
	// BaseDir is the directory a relative Str0 was resolved from when the
	// syscall ran (the dirfd's, or the working directory), read by the
	// probe at the event; empty when the probe did not capture it.
	BaseDir string
	// BaseDir1 is the same for a relative Str1 (rename, link and symlink
	// calls' second path).
	BaseDir1 string
	// Ino and Dev identify the file of the event's fd (opens, read/write,
	// dup), read by the probe at the event: inode number and device
	// (new_encode_dev); 0 when the event has no file. FDUpperLayer and
	// FDLowerLayer tell its overlayfs layer.
	Ino                        uint64
	Dev                        uint32
	FDUpperLayer, FDLowerLayer bool
	// UTime and STime are the calling thread's user and system CPU time
	// in ns, TStart its start (boot-time ns, as BootNS), and NThreads its
	// process's live thread count, all as of the event.
	UTime, STime, TStart uint64
	NThreads             uint32
	// Polled are the fds of a poll or ppoll record, in the order of its
	// pollfd array (at most the probe's 16); reused by the next Decode.
	Polled     []PolledFD
	fdList     []event.FD // Fill's FDList storage, kept across records
	HasSock    bool
	Sock       Sock
	seg1, seg2 []byte
	data       []byte // Data's storage, kept across records
}

// IsIO reports whether records of type t carry an I/O buffer head.
func IsIO(t event.Type) bool {
	switch t {
	case event.TypeRead, event.TypeWrite, event.TypeSendto, event.TypeSendmsg, event.TypeRecvfrom, event.TypeRecvmsg,
		event.TypePread64, event.TypePwrite64, event.TypeReadv, event.TypeWritev, event.TypePreadv, event.TypePwritev,
		event.TypeSendmmsg, event.TypeRecvmmsg:
		return true
	}
	return false
}

// ErrShort reports a record shorter than its header says.
var ErrShort = errors.New("probe record truncated")

// Decode parses one ring-buffer sample into r, reusing r's storage.
func Decode(b []byte, r *Record) error {
	if len(b) < headerSize {
		return fmt.Errorf("%w: %d bytes, header is %d", ErrShort, len(b), headerSize)
	}
	le := binary.LittleEndian
	l0 := int(le.Uint16(b[offLen:]))
	l1 := int(le.Uint16(b[offLen+2:]))
	l2 := int(le.Uint16(b[offLen+4:]))
	if headerSize+l0+l1+l2 > len(b) {
		return fmt.Errorf("%w: segments %d+%d+%d exceed %d bytes", ErrShort, l0, l1, l2, len(b)-headerSize)
	}
	r.Type = event.Type(le.Uint16(b[offType:]))
	r.BootNS = le.Uint64(b[offTS:])
	r.CgroupID = le.Uint64(b[offCgroupID:])
	r.Res = int64(le.Uint64(b[offRes:]))
	for i := range r.Args {
		r.Args[i] = le.Uint64(b[offArgs+8*i:])
	}
	r.CapEff = le.Uint64(b[offCapEff:])
	r.CapPrm = le.Uint64(b[offCapPrm:])
	r.CapInh = le.Uint64(b[offCapInh:])
	r.PID = le.Uint32(b[offPID:])
	r.TID = le.Uint32(b[offTID:])
	r.PPID = le.Uint32(b[offPPID:])
	r.VPID = le.Uint32(b[offVPID:])
	r.VTID = le.Uint32(b[offVTID:])
	r.UID = le.Uint32(b[offUID:])
	r.GID = le.Uint32(b[offGID:])
	r.EUID = le.Uint32(b[offEUID:])
	r.EGID = le.Uint32(b[offEGID:])
	r.LoginUID = le.Uint32(b[offLoginUID:])
	r.TTY = le.Uint32(b[offTTY:])
	r.CPU = le.Uint16(b[offCPU:])
	r.Ino = le.Uint64(b[offIno:])
	r.Dev = le.Uint32(b[offDev:])
	r.UTime = le.Uint64(b[offUTime:])
	r.STime = le.Uint64(b[offSTime:])
	r.TStart = le.Uint64(b[offTStart:])
	r.NThreads = le.Uint32(b[offNThreads:])
	flags := le.Uint16(b[offFlags:])
	r.Comm = cstring(b[offComm : offComm+16])

	data := b[headerSize:]
	r.Str0 = cstring(data[:l0])
	r.seg1 = data[l0 : l0+l1]
	r.seg2 = data[l0+l1 : l0+l1+l2]
	r.Seg2 = r.seg2
	r.ArgsTrunc = flags&flagArgsTrunc != 0
	r.ExeMemfd = flags&flagExeMemfd != 0
	r.ExeWritable = flags&flagExeWrite != 0
	r.ExeUpperLayer = flags&flagExeUpper != 0
	r.ExeLowerLayer = flags&flagExeLower != 0
	r.FDUpperLayer = flags&flagFDUpper != 0
	r.FDLowerLayer = flags&flagFDLower != 0
	r.BaseDir, r.BaseDir1 = "", ""
	if flags&flagBaseDir2 != 0 {
		// Two directories, split at the empty name between them.
		d0, d1 := splitBaseDirs(r.seg2)
		r.BaseDir, r.BaseDir1 = leafFirstPath(d0), leafFirstPath(d1)
	} else if flags&(flagBaseDir|flagBaseDir1) != 0 {
		dir := leafFirstPath(r.seg2)
		if flags&flagBaseDir != 0 {
			r.BaseDir = dir
		}
		if flags&flagBaseDir1 != 0 {
			r.BaseDir1 = dir
		}
	}
	r.Argv = r.Argv[:0]
	r.PGID, r.VPGID, r.SID = 0, 0, 0
	r.Str1 = ""
	r.Data = nil
	r.Env = r.Env[:0]
	if r.Type == event.TypeExecve || r.Type == event.TypeExecveat {
		argv := r.seg1
		if r.Res == 0 {
			// A successful exec record carries the process group (host
			// and namespace numbers) and session.
			r.PGID, r.VPGID, r.SID = uint32(r.Args[1]), uint32(r.Args[2]), uint32(r.Args[3])
		}
		if r.Res == 0 && r.Args[0] <= uint64(len(r.seg1)) {
			// A successful exec carries argv then envp; Args[0] is argv's length.
			argv = r.seg1[:r.Args[0]]
			r.Env = splitArgv(r.Env, r.seg1[r.Args[0]:])
		}
		r.Argv = splitArgv(r.Argv, argv)
	} else if IsIO(r.Type) {
		r.Data = append(r.data[:0], r.seg1...)
		r.data = r.Data
	} else {
		r.Str1 = cstring(r.seg1)
	}
	r.Polled = r.Polled[:0]
	if r.Type == event.TypePoll || r.Type == event.TypePpoll {
		r.Polled = decodePolled(r.Polled, r.seg1, r.seg2)
	}
	if flags&flagFDPath != 0 {
		r.Str0 = leafFirstPath(data[:l0])
	}

	r.HasSock = flags&flagSock != 0
	r.Sock = Sock{}
	if r.HasSock {
		r.Sock.Family = le.Uint16(b[offFamily:])
		r.Sock.Proto = le.Uint16(b[offProto:])
		r.Sock.SPort = le.Uint16(b[offSport:])
		r.Sock.DPort = le.Uint16(b[offDport:])
		r.Sock.SAddr = ipFrom(r.Sock.Family, b[offSaddr:offSaddr+16])
		r.Sock.DAddr = ipFrom(r.Sock.Family, b[offDaddr:offDaddr+16])
	}
	return nil
}

func ipFrom(family uint16, b []byte) netip.Addr {
	switch family {
	case unix.AF_INET:
		return netip.AddrFrom4([4]byte(b[:4]))
	case unix.AF_INET6:
		return netip.AddrFrom16([16]byte(b[:16])).Unmap()
	}
	return netip.Addr{}
}

// leafFirstPath joins the probe's NUL-terminated path names, which come
// leaf first, into an absolute path.
func leafFirstPath(b []byte) string {
	var names []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		names = append(names, string(b[:i]))
		b = b[min(i+1, len(b)):]
	}
	if len(names) == 0 {
		return "/"
	}
	var sb strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		sb.WriteByte('/')
		sb.WriteString(names[i])
	}
	return sb.String()
}

// PolledFD is one fd of a poll: its number and what the probe found it to
// be: a socket (HasSock, Sock) or a file (Path); neither when the fd was
// not open or is another kind.
type PolledFD struct {
	Num     int64
	HasSock bool
	Sock    Sock
	Path    string
}

// Kinds of the probe's poll fd descriptions (bpf/saker.h SK_FDL_*).
const (
	fdlNone = 0
	fdlSock = 1
	fdlFile = 2
	sockLen = 40 // sizeof(struct sk_sock)
)

// decodePolled reads a poll record's pollfd array (8 bytes each: int fd,
// short events, short revents) and the per-fd descriptions after it.
func decodePolled(dst []PolledFD, pollfds, desc []byte) []PolledFD {
	le := binary.LittleEndian
	for len(pollfds) >= 8 {
		p := PolledFD{Num: int64(int32(le.Uint32(pollfds)))}
		pollfds = pollfds[8:]
		if len(desc) > 0 {
			kind := desc[0]
			desc = desc[1:]
			switch kind {
			case fdlSock:
				if len(desc) < sockLen {
					desc = nil
					break
				}
				s := desc[:sockLen]
				p.HasSock = true
				p.Sock.Family = le.Uint16(s[36:])
				p.Sock.Proto = le.Uint16(s[38:])
				p.Sock.SPort = le.Uint16(s[32:])
				p.Sock.DPort = le.Uint16(s[34:])
				p.Sock.SAddr = ipFrom(p.Sock.Family, s[0:16])
				p.Sock.DAddr = ipFrom(p.Sock.Family, s[16:32])
				desc = desc[sockLen:]
			case fdlFile:
				names, rest := splitBaseDirs(desc)
				p.Path = leafFirstPath(names)
				desc = rest
			}
		}
		dst = append(dst, p)
	}
	return dst
}

// splitBaseDirs splits the probe's two leaf-first directories at the
// empty name between them.
func splitBaseDirs(b []byte) (first, second []byte) {
	for i := 0; i < len(b); {
		if b[i] == 0 { // an empty name: the separator
			return b[:i], b[i+1:]
		}
		j := bytes.IndexByte(b[i:], 0)
		if j < 0 {
			break
		}
		i += j + 1
	}
	return b, nil
}

// cstring returns b up to its first NUL as a string.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// splitArgv splits a NUL-separated argument area into strings.
func splitArgv(dst []string, b []byte) []string {
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			dst = append(dst, string(b))
			break
		}
		dst = append(dst, string(b[:i]))
		b = b[i+1:]
	}
	return dst
}

// Clock converts the probe's boot-time nanoseconds to wall-clock time.
type Clock struct{ offset int64 }

// NewClock samples the offset between CLOCK_REALTIME and CLOCK_BOOTTIME.
func NewClock() Clock {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return Clock{offset: time.Now().UnixNano() - ts.Nano()}
}

// Wall returns the wall-clock ns for a boot-time ns.
func (c Clock) Wall(boot uint64) int64 { return int64(boot) + c.offset }

// SockAddr is a decoded user sockaddr.
type SockAddr struct {
	Family uint16
	Addr   netip.Addr
	Port   uint16
	Path   string // AF_UNIX
}

// ParseSockaddr decodes a struct sockaddr as passed to connect/bind/sendto.
func ParseSockaddr(b []byte) (SockAddr, bool) {
	if len(b) < 2 {
		return SockAddr{}, false
	}
	fam := binary.LittleEndian.Uint16(b)
	sa := SockAddr{Family: fam}
	switch fam {
	case unix.AF_INET:
		if len(b) < 8 {
			return sa, false
		}
		sa.Port = binary.BigEndian.Uint16(b[2:])
		sa.Addr = netip.AddrFrom4([4]byte(b[4:8]))
	case unix.AF_INET6:
		if len(b) < 24 {
			return sa, false
		}
		sa.Port = binary.BigEndian.Uint16(b[2:])
		sa.Addr = netip.AddrFrom16([16]byte(b[8:24])).Unmap()
	case unix.AF_UNIX:
		p := b[2:]
		if len(p) > 0 && p[0] == 0 { // abstract socket
			sa.Path = "@" + cstring(p[1:])
		} else {
			sa.Path = cstring(p)
		}
	default:
		return sa, false
	}
	return sa, true
}
