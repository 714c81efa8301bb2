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
	var sockets map[string]event.StdFD // by inode, read at the first socket
	for i := range th.Std {
		link, err := os.Readlink(filepath.Join(dir, "fd", strconv.Itoa(i)))
		if err != nil {
			th.Std[i] = event.StdFD{}
			continue
		}
		fd := classifyLink(link)
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			if sockets == nil {
				sockets = readSockets(filepath.Join(dir, "net"))
			}
			if s, found := sockets[strings.TrimSuffix(inode, "]")]; found {
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

// readSockets indexes the sockets of a network namespace by inode:
// tcp/udp (IPv4 and IPv6) with local->remote endpoints, unix with its
// path, netlink.
func readSockets(netDir string) map[string]event.StdFD {
	out := map[string]event.StdFD{}
	for _, f := range []struct {
		file string
		typ  event.FDType
	}{{"tcp", event.FDIPv4}, {"udp", event.FDIPv4}, {"tcp6", event.FDIPv6}, {"udp6", event.FDIPv6}} {
		eachLine(filepath.Join(netDir, f.file), func(fields []string) {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) < 10 {
				return
			}
			l, okl := hexEndpoint(fields[1])
			r, okr := hexEndpoint(fields[2])
			if okl && okr {
				out[fields[9]] = event.StdFD{Type: f.typ, Name: l + "->" + r}
			}
		})
	}
	eachLine(filepath.Join(netDir, "unix"), func(fields []string) {
		// Num RefCount Protocol Flags Type St Inode [Path]
		if len(fields) < 7 {
			return
		}
		fd := event.StdFD{Type: event.FDUnix}
		if len(fields) > 7 {
			fd.Name = fields[7]
		}
		out[fields[6]] = fd
	})
	eachLine(filepath.Join(netDir, "netlink"), func(fields []string) {
		// sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
		if len(fields) >= 10 {
			out[fields[9]] = event.StdFD{Type: event.FDNetlink}
		}
	})
	return out
}

// eachLine calls fn with the fields of every line but the header.
func eachLine(path string, fn func(fields []string)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fn(strings.Fields(sc.Text()))
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
