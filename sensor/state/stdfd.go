package state

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/saker-sec/saker/sensor/event"
)

// readStdFDs describes the process's fds 0, 1 and 2 from /proc/PID/fd:
// what each links to, and for sockets the family and endpoints found by
// inode in the process's /proc/PID/net tables. A reverse shell's stdin is
// a socket; a daemon's, /dev/null.
func (t *Table) readStdFDs(th *event.Thread) {
	dir := filepath.Join(t.proc, strconv.FormatInt(th.PID, 10))
	for i := range th.Std {
		link, err := os.Readlink(filepath.Join(dir, "fd", strconv.Itoa(i)))
		if err != nil {
			th.Std[i] = event.StdFD{}
			continue
		}
		fd := classifyLink(link)
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			if s, found := findSocket(filepath.Join(dir, "net"), strings.TrimSuffix(inode, "]")); found {
				fd = s
			}
		}
		th.Std[i] = fd
	}
}

// anonInodeTypes maps the kernel's anon_inode names to fd types.
var anonInodeTypes = map[string]event.FDType{"eventfd": event.FDEvent, "eventpoll": event.FDEventPoll,
	"inotify": event.FDInotify, "timerfd": event.FDTimer, "signalfd": event.FDSignal,
	"bpf-map": event.FDBPF, "bpf-prog": event.FDBPF, "userfaultfd": event.FDUserfault,
	"io_uring": event.FDIOUring, "pidfd": event.FDPidfd}

// classifyLink maps an fd's /proc link target to Falco's fd type.
func classifyLink(link string) event.StdFD {
	switch {
	case strings.HasPrefix(link, "pipe:["):
		return event.StdFD{Type: event.FDPipe, Name: link}
	case strings.HasPrefix(link, "socket:["):
		return event.StdFD{Type: event.FDUnknown, Name: link}
	case strings.HasPrefix(link, "/memfd:"):
		return event.StdFD{Type: event.FDMemfd, Name: strings.TrimSuffix(link, " (deleted)")}
	case strings.HasPrefix(link, "anon_inode:"):
		kind := strings.Trim(strings.TrimPrefix(link, "anon_inode:"), "[]")
		return event.StdFD{Type: anonInodeTypes[kind], Name: link}
	case strings.HasPrefix(link, "/"):
		if fi, err := os.Stat(link); err == nil && fi.IsDir() {
			return event.StdFD{Type: event.FDDirectory, Name: link}
		}
		return event.StdFD{Type: event.FDFile, Name: link}
	}
	return event.StdFD{Name: link}
}

// findSocket looks a socket inode up in the process's network namespace
// tables, unix first (the usual stdio socket: journald, a container
// runtime), stopping at the table that has it: tcp/udp (IPv4 and IPv6)
// with local->remote endpoints, unix with its path, netlink.
func findSocket(netDir, inode string) (event.StdFD, bool) {
	var out event.StdFD
	found := false
	eachLine(filepath.Join(netDir, "unix"), func(fields []string) bool {
		// Num RefCount Protocol Flags Type St Inode [Path]
		if len(fields) < 7 || fields[6] != inode {
			return true
		}
		out, found = event.StdFD{Type: event.FDUnix}, true
		if len(fields) > 7 {
			out.Name = fields[7]
		}
		return false
	})
	for _, f := range []struct {
		file string
		typ  event.FDType
	}{{"tcp", event.FDIPv4}, {"tcp6", event.FDIPv6}, {"udp", event.FDIPv4}, {"udp6", event.FDIPv6}} {
		if found {
			return out, true
		}
		eachLine(filepath.Join(netDir, f.file), func(fields []string) bool {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) < 10 || fields[9] != inode {
				return true
			}
			l, okl := hexEndpoint(fields[1])
			r, okr := hexEndpoint(fields[2])
			if okl && okr {
				out, found = event.StdFD{Type: f.typ, Name: l + "->" + r}, true
			}
			return false
		})
	}
	if !found {
		eachLine(filepath.Join(netDir, "netlink"), func(fields []string) bool {
			// sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
			if len(fields) < 10 || fields[9] != inode {
				return true
			}
			out, found = event.StdFD{Type: event.FDNetlink}, true
			return false
		})
	}
	return out, found
}

// eachLine calls fn with the fields of every line but the header, until
// fn returns false.
func eachLine(path string, fn func(fields []string) bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		if !fn(strings.Fields(sc.Text())) {
			return
		}
	}
}

// hexEndpoint decodes /proc/net's "0100007F:1F90" (address bytes in host
// order, 32-bit words) into "127.0.0.1:8080".
func hexEndpoint(s string) (string, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", false
	}
	// Each 32-bit word is little-endian on the architectures Saker runs on.
	for w := 0; w < len(raw); w += 4 {
		raw[w], raw[w+1], raw[w+2], raw[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)).String(), true
}
