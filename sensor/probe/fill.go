package probe

import (
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// AtFDCWD is the dirfd meaning "relative to the working directory".
const AtFDCWD = -100

// Fill sets ev's event-level fields (type, time, result, syscall arguments
// and the fd) from r, in Falco's argument naming. Thread and Container are
// left to the caller (the process table). Relative paths are left as the
// program passed them; FD.Name gets the same value and DirFD tells the
// caller which directory to resolve against.
func (r *Record) Fill(ev *event.Event) (dirfd int64) {
	*ev = event.Event{
		Type:  r.Type,
		TS:    r.TS,
		CPU:   uint32(r.CPU),
		Res:   r.Res,
		FD:    event.FD{Num: -1},
		Sched: event.Sched{UserNS: r.UTime, SystemNS: r.STime, NThreads: r.NThreads},
	}
	if r.TStart != 0 && r.BootNS > r.TStart {
		ev.Sched.AgeNS = r.BootNS - r.TStart
	}
	a := &r.Args
	dirfd = AtFDCWD
	fileFD := func(path string, flags uint32) {
		ev.FD.Type = event.FDFile
		ev.FD.Name = path
		ev.FD.Flags = flags
		if r.Res >= 0 {
			ev.FD.Num = r.Res
		}
	}
	switch r.Type {
	case event.TypeExecve, event.TypeExecveat:
		ev.Path = r.Str0
		if r.Type == event.TypeExecveat && r.Res < 0 {
			dirfd = int64(int32(a[0]))
			ev.Flags = uint32(a[4])
		}
	case event.TypeClone, event.TypeClone3, event.TypeFork, event.TypeVfork:
		// Res is the child's pid, as in the parent's clone exit.
	case event.TypeProcExit:
	case event.TypeOpen:
		ev.Path, ev.Flags, ev.Mode = r.Str0, uint32(a[1]), uint32(a[2])
		fileFD(r.Str0, ev.Flags)
	case event.TypeOpenat, event.TypeOpenat2:
		dirfd = int64(int32(a[0]))
		ev.Path, ev.Flags, ev.Mode = r.Str0, uint32(a[2]), uint32(a[3])
		if r.Type == event.TypeOpenat2 {
			ev.Request = a[4] // open_how.resolve
		}
		fileFD(r.Str0, ev.Flags)
	case event.TypeCreat:
		ev.Path, ev.Mode = r.Str0, uint32(a[1])
		ev.Flags = unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC
		fileFD(r.Str0, ev.Flags)
	case event.TypeUnlink, event.TypeRmdir, event.TypeChroot:
		ev.Path = r.Str0
	case event.TypeUnlinkat:
		dirfd = int64(int32(a[0]))
		ev.Path, ev.Flags = r.Str0, uint32(a[2])
	case event.TypeRename, event.TypeLink, event.TypeSymlink:
		ev.Path, ev.Target = r.Str0, r.Str1
	case event.TypeRenameat, event.TypeLinkat:
		dirfd = int64(int32(a[0]))
		ev.NewDirFD = int64(int32(a[2]))
		ev.Path, ev.Target = r.Str0, r.Str1
		if r.Type == event.TypeLinkat {
			ev.Flags = uint32(a[4])
		}
	case event.TypeRenameat2:
		dirfd = int64(int32(a[0]))
		ev.NewDirFD = int64(int32(a[2]))
		ev.Path, ev.Target, ev.Flags = r.Str0, r.Str1, uint32(a[4])
	case event.TypeSymlinkat:
		dirfd = int64(int32(a[1]))
		ev.Path, ev.Target = r.Str0, r.Str1
	case event.TypeMkdir:
		ev.Path, ev.Mode = r.Str0, uint32(a[1])
	case event.TypeMkdirat:
		dirfd = int64(int32(a[0]))
		ev.Path, ev.Mode = r.Str0, uint32(a[2])
	case event.TypeChmod:
		ev.Path, ev.Mode = r.Str0, uint32(a[1])
	case event.TypeFchmod:
		ev.FD.Num, ev.Mode = int64(int32(a[0])), uint32(a[1])
	case event.TypeFchmodat:
		dirfd = int64(int32(a[0]))
		ev.Path, ev.Mode = r.Str0, uint32(a[2])
	case event.TypeChown, event.TypeLchown:
		ev.Path, ev.UID, ev.GID = r.Str0, uint32(a[1]), uint32(a[2])
	case event.TypeFchown:
		ev.FD.Num, ev.UID, ev.GID = int64(int32(a[0])), uint32(a[1]), uint32(a[2])
	case event.TypeFchownat:
		dirfd = int64(int32(a[0]))
		ev.Path, ev.UID, ev.GID, ev.Flags = r.Str0, uint32(a[2]), uint32(a[3]), uint32(a[4])
	case event.TypeMemfdCreate:
		ev.Path, ev.Flags = r.Str0, uint32(a[1])
		if r.Res >= 0 {
			ev.FD = event.FD{Num: r.Res, Type: event.FDMemfd, Name: "memfd:" + r.Str0}
		}
	case event.TypeDup, event.TypeDup2, event.TypeDup3:
		ev.FD.Num = int64(int32(a[0]))
		ev.Args = append(ev.Args, event.Arg{Name: "oldfd", Value: strconv.FormatInt(int64(int32(a[0])), 10)})
		if r.Type != event.TypeDup {
			ev.Args = append(ev.Args, event.Arg{Name: "newfd", Value: strconv.FormatInt(int64(int32(a[1])), 10)})
		}
		if r.Type == event.TypeDup3 {
			ev.Flags = uint32(a[2])
		}
		// As Falco's dup exit: the event's fd is the new one (the result),
		// described as what it is — a socket's tuple or a file's path —
		// read by the probe at the event (in fd_io, shared with the I/O
		// programs, so the path walk is verified once).
		if r.Res >= 0 {
			ev.FD.Num = r.Res
			r.fillFD(ev)
		}
	case event.TypeSocket:
		ev.Domain, ev.Flags, ev.Proto = uint32(a[0]), uint32(a[1]), uint32(a[2])
		if r.Res >= 0 {
			ev.FD.Num = r.Res
			ev.FD.Type = sockFDType(uint16(a[0]))
		}
	case event.TypeConnect, event.TypeSendto, event.TypeSendmsg, event.TypeRecvfrom, event.TypeRecvmsg:
		ev.FD.Num = int64(int32(a[0]))
		r.fillSock(ev, true)
		if r.Type == event.TypeSendto {
			ev.Flags = uint32(a[3])
		}
		r.fillData(ev)
	case event.TypeRead, event.TypeWrite, event.TypeReadv, event.TypeWritev, event.TypeSendmmsg, event.TypeRecvmmsg:
		ev.FD.Num = int64(int32(a[0]))
		r.fillFD(ev)
		r.fillData(ev)
	case event.TypePread64, event.TypePwrite64, event.TypePreadv, event.TypePwritev:
		ev.FD.Num = int64(int32(a[0]))
		r.fillFD(ev)
		r.fillData(ev)
		// pread64/pwrite64 (fd, buf, count, pos) and, on 64-bit,
		// preadv/pwritev (fd, iov, iovcnt, pos_l, pos_h) hold the whole
		// offset in the fourth argument.
		ev.Args = append(ev.Args, event.Arg{Name: "pos", Value: strconv.FormatUint(a[3], 10)})
	case event.TypePoll, event.TypePpoll:
		ev.Args = append(ev.Args, event.Arg{Name: "timeout", Value: strconv.FormatInt(int64(int32(a[2])), 10)})
		r.fdList = r.fdList[:0]
		for _, p := range r.Polled {
			r.fdList = append(r.fdList, p.fd())
		}
		ev.FDList = r.fdList
	case event.TypeAccept, event.TypeAccept4:
		if r.Res >= 0 {
			ev.FD.Num = r.Res
		}
		if r.Type == event.TypeAccept4 {
			ev.Flags = uint32(a[3])
		}
		r.fillSock(ev, false)
	case event.TypeBind, event.TypeListen:
		ev.FD.Num = int64(int32(a[0]))
		r.fillSock(ev, false)
		if r.Type == event.TypeListen {
			ev.Args = append(ev.Args, event.Arg{Name: "backlog", Value: strconv.FormatInt(int64(int32(a[1])), 10)})
		}
	case event.TypeSetuid:
		ev.UID = uint32(a[0])
		ev.Args = append(ev.Args, event.Arg{Name: "uid", Value: strconv.FormatUint(uint64(uint32(a[0])), 10)})
	case event.TypeSetgid:
		ev.GID = uint32(a[0])
		ev.Args = append(ev.Args, event.Arg{Name: "gid", Value: strconv.FormatUint(uint64(uint32(a[0])), 10)})
	case event.TypeSetresuid, event.TypeSetresgid:
		names := [3]string{"ruid", "euid", "suid"}
		if r.Type == event.TypeSetresgid {
			names = [3]string{"rgid", "egid", "sgid"}
			ev.GID = uint32(a[1])
		} else {
			ev.UID = uint32(a[1])
		}
		for i, n := range names {
			ev.Args = append(ev.Args, event.Arg{Name: n, Value: strconv.FormatInt(int64(int32(a[i])), 10)})
		}
	case event.TypeSetns:
		ev.FD.Num = int64(int32(a[0]))
		ev.PID = int64(int32(a[0]))
		ev.Flags = uint32(a[1])
	case event.TypeUnshare:
		ev.Flags = uint32(a[0])
	case event.TypePtrace:
		ev.Request, ev.PID = a[0], int64(int32(a[1]))
	case event.TypeKill:
		ev.PID = int64(int32(a[0]))
		ev.Request = a[1] // sig
	case event.TypeMount:
		ev.Path, ev.Target, ev.Flags = r.Str0, r.Str1, uint32(a[3])
		ev.Args = append(ev.Args, event.Arg{Name: "type", Value: cstring(r.seg2)})
	case event.TypeUmount2:
		ev.Path, ev.Flags = r.Str0, uint32(a[1])
	case event.TypeInitModule:
		ev.Args = append(ev.Args, event.Arg{Name: "uargs", Value: r.Str0},
			event.Arg{Name: "len", Value: strconv.FormatUint(a[1], 10)})
	case event.TypeFinitModule:
		ev.FD.Num = int64(int32(a[0]))
		ev.Flags = uint32(a[2])
		ev.Args = append(ev.Args, event.Arg{Name: "uargs", Value: r.Str0})
	case event.TypeIoctl:
		ev.FD.Num = int64(int32(a[0]))
		ev.Request = a[1]
	case event.TypePrctl:
		ev.Request = a[0] // option
	case event.TypeMmap:
		ev.Mode, ev.Flags = uint32(a[2]), uint32(a[3]) // prot, flags
	case event.TypeMprotect:
		ev.Mode = uint32(a[2]) // prot
	case event.TypeBpf:
		ev.Request = a[0] // cmd
	case event.TypeUserfaultfd:
		ev.Flags = uint32(a[0])
		if r.Res >= 0 {
			ev.FD = event.FD{Num: r.Res, Type: event.FDUserfault}
		}
	}
	if r.Ino != 0 && (ev.FD.Type == event.FDFile || ev.FD.Type == event.FDMemfd) {
		ev.FD.Ino, ev.FD.Dev = r.Ino, r.Dev
		ev.FD.UpperLayer, ev.FD.LowerLayer = r.FDUpperLayer, r.FDLowerLayer
	}
	ev.DirFD = dirfd
	return dirfd
}

// fd describes a polled fd as fdlist.* reads it. A socket's ends are
// told apart by port: the lower one is taken as the server (a listening or
// unconnected socket's local end is), since a poll does not say which end
// dialled.
func (p PolledFD) fd() event.FD {
	fd := event.FD{Num: p.Num}
	switch {
	case p.HasSock:
		fd.Type = sockFDType(p.Sock.Family)
		if fd.Type != event.FDIPv4 && fd.Type != event.FDIPv6 {
			return fd
		}
		fd.L4Proto = uint8(p.Sock.Proto)
		local := netip.AddrPortFrom(p.Sock.SAddr, p.Sock.SPort)
		remote := netip.AddrPortFrom(p.Sock.DAddr, p.Sock.DPort)
		client, server := local, remote
		fd.LocalIsClient = true
		if p.Sock.DPort == 0 || (p.Sock.SPort != 0 && p.Sock.SPort < p.Sock.DPort) {
			client, server = remote, local
			fd.LocalIsClient = false
		}
		fd.ClientIP, fd.ClientPort = client.Addr(), client.Port()
		fd.ServerIP, fd.ServerPort = server.Addr(), server.Port()
		fd.Name = apString(client) + "->" + apString(server)
	case p.Path != "":
		fd.Type, fd.Name = event.FDFile, p.Path
	}
	return fd
}

// fillFD describes the fd the probe read at the event: a socket's tuple,
// or a file's path.
func (r *Record) fillFD(ev *event.Event) {
	switch {
	case r.HasSock:
		r.fillSock(ev, true)
	case r.Str0 != "":
		ev.FD.Type, ev.FD.Name = event.FDFile, r.Str0
	}
}

// fillData sets the I/O buffer head of a successful transfer (Falco's
// evt.buffer; empty, not missing, for a transfer of 0 bytes).
func (r *Record) fillData(ev *event.Event) {
	if r.Res < 0 {
		return
	}
	ev.Data = r.Data
	if ev.Data == nil {
		ev.Data = []byte{}
	}
}

func sockFDType(family uint16) event.FDType {
	switch family {
	case unix.AF_INET:
		return event.FDIPv4
	case unix.AF_INET6:
		return event.FDIPv6
	case unix.AF_UNIX:
		return event.FDUnix
	case unix.AF_NETLINK:
		return event.FDNetlink
	}
	return event.FDUnknown
}

// fillSock sets ev.FD's endpoints from the kernel socket tuple and the user
// sockaddr. localIsClient is true for connect/send (the local end dialled).
func (r *Record) fillSock(ev *event.Event, localIsClient bool) {
	fd := &ev.FD
	var local, remote netip.AddrPort
	family := r.Sock.Family
	if r.HasSock {
		local = netip.AddrPortFrom(r.Sock.SAddr, r.Sock.SPort)
		remote = netip.AddrPortFrom(r.Sock.DAddr, r.Sock.DPort)
		fd.L4Proto = uint8(r.Sock.Proto)
	}
	sa, ok := ParseSockaddr(r.seg2)
	if ok {
		if family == 0 {
			family = sa.Family
		}
		if sa.Family == unix.AF_UNIX {
			fd.Type = event.FDUnix
			fd.Name = sa.Path
			return
		}
		ap := netip.AddrPortFrom(sa.Addr, sa.Port)
		switch r.Type {
		case event.TypeBind:
			local = ap
		default:
			// connect/sendto: the address the program asked for is the
			// remote end, even when the connection failed.
			remote = ap
		}
	}
	fd.Type = sockFDType(family)
	if fd.Type != event.FDIPv4 && fd.Type != event.FDIPv6 {
		return
	}
	fd.LocalIsClient = localIsClient
	fd.Connected = r.Type != event.TypeBind && r.Type != event.TypeListen && r.Res >= 0
	client, server := local, remote
	if !localIsClient {
		client, server = remote, local
	}
	fd.ClientIP, fd.ClientPort = client.Addr(), client.Port()
	fd.ServerIP, fd.ServerPort = server.Addr(), server.Port()
	if r.Type == event.TypeBind || r.Type == event.TypeListen {
		fd.Name = apString(server)
		return
	}
	fd.Name = apString(client) + "->" + apString(server)
}

// apString prints an endpoint as Falco does in fd.name ("1.2.3.4:80"),
// with an unspecified address for an unknown end.
func apString(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return "0.0.0.0:" + strconv.Itoa(int(ap.Port()))
	}
	return ap.String()
}
