package fields

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/saker-sec/saker/sensor/event"
)

// fdTypeChar and fdTypeName are Falco's fd.typechar and fd.type spellings.
var fdTypeChar = [...]string{
	event.FDUnknown: "?", event.FDFile: "f", event.FDIPv4: "4", event.FDIPv6: "6", event.FDUnix: "u",
	event.FDPipe: "p", event.FDEvent: "e", event.FDSignal: "s", event.FDEventPoll: "l",
	event.FDInotify: "i", event.FDTimer: "t", event.FDNetlink: "n", event.FDBPF: "b",
	event.FDUserfault: "u", event.FDIOUring: "r", event.FDMemfd: "m", event.FDDirectory: "d",
	event.FDPidfd: "o",
}

var fdTypeName = [...]string{
	event.FDUnknown: "unknown", event.FDFile: "file", event.FDIPv4: "ipv4", event.FDIPv6: "ipv6",
	event.FDUnix: "unix", event.FDPipe: "pipe", event.FDEvent: "event", event.FDSignal: "signalfd",
	event.FDEventPoll: "eventpoll", event.FDInotify: "inotify", event.FDTimer: "timerfd",
	event.FDNetlink: "netlink", event.FDBPF: "bpf", event.FDUserfault: "userfaultfd",
	event.FDIOUring: "io_uring", event.FDMemfd: "memfd", event.FDDirectory: "directory",
	event.FDPidfd: "pidfd",
}

func hasFD(ev *event.Event) bool { return ev.FD.Type != event.FDUnknown || ev.FD.Name != "" }

func isIP(ev *event.Event) bool { return ev.FD.Type == event.FDIPv4 || ev.FD.Type == event.FDIPv6 }

func isFileLike(ev *event.Event) bool {
	return ev.FD.Type == event.FDFile || ev.FD.Type == event.FDDirectory || ev.FD.Type == event.FDMemfd
}

// fdStr registers a string field available whenever the event has an fd.
func fdStr(name, desc string, get StrFunc) {
	simpleStr(name, desc, func(ev *event.Event) (string, bool) {
		if !hasFD(ev) {
			return "", false
		}
		return get(ev)
	})
}

// fdBool registers a boolean field available whenever the event has an fd.
func fdBool(name, desc string, get func(fd *event.FD) bool) {
	simpleNum(name, Bool, desc, func(ev *event.Event) (int64, bool) {
		if !hasFD(ev) {
			return 0, false
		}
		return b2i(get(&ev.FD)), true
	})
}

// portField registers a port field of an IPv4/IPv6 socket.
func portField(name, desc string, get func(fd *event.FD) uint16) {
	simpleNum(name, Port, desc, func(ev *event.Event) (int64, bool) {
		if !isIP(ev) {
			return 0, false
		}
		return int64(get(&ev.FD)), true
	})
}

// ipField registers an address field (IPAddr or IPNet) of an IPv4/IPv6
// socket; a zero address is missing.
func ipField(name string, t Type, desc string, get func(fd *event.FD) netip.Addr) {
	ip := func(ev *event.Event) (netip.Addr, bool) {
		if !isIP(ev) {
			return netip.Addr{}, false
		}
		a := get(&ev.FD)
		return a, a.IsValid()
	}
	register(&Field{Name: name, Type: t, Desc: desc, ip: ip,
		make: func(string, bool) (Extractor, error) { return ipExtractor(ip), nil }})
}

// either registers filter fields matching either end (fd.ip, fd.net,
// fd.port): the client end in IP/N, the server end in IP2/N2.
func either(name string, t Type, desc string) {
	ex := func(ev *event.Event) (Value, bool) {
		if !isIP(ev) {
			return Value{}, false
		}
		fd := &ev.FD
		return Value{Either: true, IP: fd.ClientIP, IP2: fd.ServerIP, N: int64(fd.ClientPort), N2: int64(fd.ServerPort)}, true
	}
	register(&Field{Name: name, Type: t, Desc: desc, FilterOnly: true,
		make: func(string, bool) (Extractor, error) { return ex, nil }})
}

// local reports whether the client end is the local one.
func localIP(fd *event.FD) netip.Addr {
	if fd.LocalIsClient {
		return fd.ClientIP
	}
	return fd.ServerIP
}

func remoteIP(fd *event.FD) netip.Addr {
	if fd.LocalIsClient {
		return fd.ServerIP
	}
	return fd.ClientIP
}

func localPort(fd *event.FD) uint16 {
	if fd.LocalIsClient {
		return fd.ClientPort
	}
	return fd.ServerPort
}

func remotePort(fd *event.FD) uint16 {
	if fd.LocalIsClient {
		return fd.ServerPort
	}
	return fd.ClientPort
}

func l4Name(p uint8) (string, bool) {
	switch p {
	case 6:
		return "tcp", true
	case 17:
		return "udp", true
	case 1, 58:
		return "icmp", true
	case 255:
		return "raw", true
	}
	return "", false
}

var portProto = map[string]func(*event.FD) uint16{
	"fd.cproto": func(fd *event.FD) uint16 { return fd.ClientPort },
	"fd.sproto": func(fd *event.FD) uint16 { return fd.ServerPort },
	"fd.lproto": localPort,
	"fd.rproto": remotePort,
}

func init() {
	// fd.num is known whenever the syscall named an fd, even when the fd
	// table has nothing about it (dup of an unknown fd).
	simpleNum("fd.num", Int64, "Number of the file descriptor the event used or created (-1 for a failed open).",
		func(ev *event.Event) (int64, bool) {
			if !hasFD(ev) && ev.FD.Num < 0 {
				return 0, false
			}
			return ev.FD.Num, true
		})
	fdStr("fd.name", "FD full name: a path for files, cip:cport->sip:sport for sockets.",
		func(ev *event.Event) (string, bool) { return ev.FD.Name, true })
	fdStr("fd.nameraw", "FD name as passed to the syscall, before resolution against the cwd.",
		func(ev *event.Event) (string, bool) {
			if ev.FD.NameRaw != "" {
				return ev.FD.NameRaw, true
			}
			return ev.FD.Name, true
		})
	fdStr("fd.type", "Type of FD: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, bpf, userfaultfd, io_uring, memfd, pidfd.",
		func(ev *event.Event) (string, bool) {
			if ev.FD.Type == event.FDUnknown || int(ev.FD.Type) >= len(fdTypeName) {
				return "", false
			}
			return fdTypeName[ev.FD.Type], true
		})
	fdStr("fd.typechar", "Type of FD as one character: f 4 6 u p e s l i t n b r m d o.",
		func(ev *event.Event) (string, bool) {
			if ev.FD.Type == event.FDUnknown || int(ev.FD.Type) >= len(fdTypeChar) {
				return "", false
			}
			return fdTypeChar[ev.FD.Type], true
		})
	fdStr("fd.sockfamily", "Socket family of a socket FD: ip (IPv4 or IPv6) or unix.",
		func(ev *event.Event) (string, bool) {
			switch ev.FD.Type {
			case event.FDIPv4, event.FDIPv6:
				return "ip", true
			case event.FDUnix:
				return "unix", true
			}
			return "", false
		})
	register(&Field{Name: "fd.types", Type: String, Arg: IndexArg, multiWithoutIndex: true,
		Desc: "Types of the process's FDs; fd.types[N] is the type of fd N. Saker knows only the event's own fd.",
		make: func(arg string, hasArg bool) (Extractor, error) {
			if !hasArg {
				return func(ev *event.Event) (Value, bool) {
					if ev.FD.Type == event.FDUnknown || int(ev.FD.Type) >= len(fdTypeName) {
						return Value{}, false
					}
					return Value{List: fdTypeName[ev.FD.Type : ev.FD.Type+1], IsList: true}, true
				}, nil
			}
			n, err := strconv.ParseInt(arg, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("fd number %q is not a non-negative integer", arg)
			}
			return func(ev *event.Event) (Value, bool) {
				if ev.FD.Num != n || ev.FD.Type == event.FDUnknown || int(ev.FD.Type) >= len(fdTypeName) {
					return Value{}, false
				}
				return Value{S: fdTypeName[ev.FD.Type]}, true
			}, nil
		}})
	simpleStr("fd.directory", "Directory of a file FD (fd.name up to the last slash; \"/\" for files in the root).", fdDirectory)
	simpleStr("fd.filename", "File name of a file FD (fd.name after the last slash).",
		func(ev *event.Event) (string, bool) {
			if !hasFD(ev) || (ev.FD.Type != event.FDFile && ev.FD.Type != event.FDMemfd) {
				return "", false
			}
			name := ev.FD.Name
			for i := len(name) - 1; i >= 0; i-- {
				if name[i] == '/' {
					if i < len(name)-1 {
						return name[i+1:], true
					}
					return name, true
				}
			}
			return "/", true
		})

	for _, f := range []struct {
		name, desc string
		t          Type
		ip         func(fd *event.FD) netip.Addr
	}{
		{"fd.cip", "Client IP address.", IPAddr, func(fd *event.FD) netip.Addr { return fd.ClientIP }},
		{"fd.sip", "Server IP address.", IPAddr, func(fd *event.FD) netip.Addr { return fd.ServerIP }},
		{"fd.lip", "Local IP address.", IPAddr, localIP},
		{"fd.rip", "Remote IP address.", IPAddr, remoteIP},
		{"fd.cnet", "Client IP network (compare with a CIDR).", IPNet, func(fd *event.FD) netip.Addr { return fd.ClientIP }},
		{"fd.snet", "Server IP network (compare with a CIDR).", IPNet, func(fd *event.FD) netip.Addr { return fd.ServerIP }},
		{"fd.lnet", "Local IP network (compare with a CIDR).", IPNet, localIP},
		{"fd.rnet", "Remote IP network (compare with a CIDR).", IPNet, remoteIP},
	} {
		ipField(f.name, f.t, f.desc, f.ip)
	}
	for _, f := range []struct {
		name, desc string
		port       func(fd *event.FD) uint16
	}{
		{"fd.cport", "Client port.", func(fd *event.FD) uint16 { return fd.ClientPort }},
		{"fd.sport", "Server port.", func(fd *event.FD) uint16 { return fd.ServerPort }},
		{"fd.lport", "Local port.", localPort},
		{"fd.rport", "Remote port.", remotePort},
	} {
		portField(f.name, f.desc, f.port)
	}
	for name, get := range portProto {
		get := get
		simple(name, String, "Protocol of the "+map[string]string{"fd.cproto": "client", "fd.sproto": "server", "fd.lproto": "local", "fd.rproto": "remote"}[name]+" port (its number: Saker does not resolve service names).",
			func(ev *event.Event) (Value, bool) {
				if !isIP(ev) {
					return Value{}, false
				}
				return Value{S: strconv.Itoa(int(get(&ev.FD)))}, true
			})
	}
	either("fd.ip", IPAddr, "Either end's IP address (filter: matches if the client or the server address does).")
	either("fd.net", IPNet, "Either end's IP network (filter: matches if the client or the server address does).")
	either("fd.port", Port, "Either end's port (filter: matches if the client or the server port does).")
	simpleStr("fd.l4proto", "IP protocol of a socket: tcp, udp, icmp or raw.", func(ev *event.Event) (string, bool) {
		if !isIP(ev) {
			return "", false
		}
		return l4Name(ev.FD.L4Proto)
	})
	for _, n := range []string{"fd.sip.name", "fd.cip.name", "fd.lip.name", "fd.rip.name"} {
		simple(n, String, "Domain name of the "+n[3:6]+" address (needs DNS tracking: Saker reports it missing).",
			func(ev *event.Event) (Value, bool) { return Value{}, false })
	}
	fdBool("fd.connected", "True if the socket is connected.", func(fd *event.FD) bool { return fd.Connected })
	fdBool("fd.name_changed", "True when the event changed the fd's name (connect/sendto on an unconnected socket).", func(fd *event.FD) bool { return fd.NameChanged })
	simpleNum("fd.is_server", Bool, "True if the process owning the fd is the server end of the connection.", func(ev *event.Event) (int64, bool) {
		if !isIP(ev) {
			return 0, false
		}
		return b2i(!ev.FD.LocalIsClient), true
	})
}

// fdDirectory is fd.directory.
func fdDirectory(ev *event.Event) (string, bool) {
	if !hasFD(ev) || !isFileLike(ev) {
		return "", false
	}
	name := ev.FD.Name
	if ev.FD.Type == event.FDDirectory {
		return name, true
	}
	pos := -1
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			pos = i
			break
		}
	}
	switch {
	case pos <= 0:
		return "/", true
	case pos < len(name)-1:
		return name[:pos], true
	}
	return name, true
}

// fileID registers a field of the fd's file identity (device, inode,
// overlay layer), which the probe reads from the file at the event: opens,
// reads and writes, dup. Missing when it did not (other events, sockets).
func fileID(name string, t Type, desc string, get func(fd *event.FD) int64) {
	simpleNum(name, t, desc, func(ev *event.Event) (int64, bool) {
		if ev.FD.Ino == 0 || !isFileLike(ev) {
			return 0, false
		}
		return get(&ev.FD), true
	})
}

func init() {
	fileID("fd.dev", Int32, "Device number of the filesystem holding the FD's file (major << 8 | minor, Linux's new_encode_dev).",
		func(fd *event.FD) int64 { return int64(fd.Dev) })
	fileID("fd.dev.major", Int32, "Major device number of the filesystem holding the FD's file.",
		func(fd *event.FD) int64 { return int64((fd.Dev >> 8) & 0xfff) })
	fileID("fd.dev.minor", Int32, "Minor device number of the filesystem holding the FD's file.",
		func(fd *event.FD) int64 { return int64(fd.Dev&0xff | (fd.Dev>>12)&0xfff00) })
	fileID("fd.ino", Int64, "Inode number of the FD's file.", func(fd *event.FD) int64 { return int64(fd.Ino) })
	fileID("fd.is_upper_layer", Bool, "True if the FD's file is in the upper (container-written) layer of an overlayfs.",
		func(fd *event.FD) int64 { return b2i(fd.UpperLayer) })
	fileID("fd.is_lower_layer", Bool, "True if the FD's file is in a lower (image) layer of an overlayfs.",
		func(fd *event.FD) int64 { return b2i(fd.LowerLayer) })
}
