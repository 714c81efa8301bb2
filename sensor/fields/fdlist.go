package fields

import (
	"strconv"
	"strings"

	"github.com/saker-sec/saker/sensor/event"
)

// fdlist.* describe the fds a poll or ppoll waited on, as libsinsp does:
// one value per fd that has one, comma-separated; missing when none has.
func init() {
	list := func(name, desc string, get func(fd *event.FD) (string, bool)) {
		simpleStr(name, desc, func(ev *event.Event) (string, bool) {
			if ev.Type != event.TypePoll && ev.Type != event.TypePpoll {
				return "", false
			}
			var sb strings.Builder
			for i := range ev.FDList {
				v, ok := get(&ev.FDList[i])
				if !ok {
					continue
				}
				if sb.Len() > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(v)
			}
			return sb.String(), sb.Len() > 0
		})
	}
	ipSock := func(fd *event.FD) bool { return fd.Type == event.FDIPv4 || fd.Type == event.FDIPv6 }
	list("fdlist.nums", "Numbers of the FDs a poll or ppoll waited on, comma-separated.",
		func(fd *event.FD) (string, bool) { return strconv.FormatInt(fd.Num, 10), true })
	list("fdlist.names", "Names of the FDs a poll or ppoll waited on (paths, cip:cport->sip:sport), comma-separated.",
		func(fd *event.FD) (string, bool) { return fd.Name, fd.Name != "" })
	list("fdlist.cips", "Client IP addresses of the TCP/UDP FDs a poll or ppoll waited on, comma-separated.",
		func(fd *event.FD) (string, bool) { return fd.ClientIP.String(), ipSock(fd) && fd.ClientIP.IsValid() })
	list("fdlist.sips", "Server IP addresses of the TCP/UDP FDs a poll or ppoll waited on, comma-separated.",
		func(fd *event.FD) (string, bool) { return fd.ServerIP.String(), ipSock(fd) && fd.ServerIP.IsValid() })
	list("fdlist.cports", "Client ports of the TCP/UDP FDs a poll or ppoll waited on, comma-separated.",
		func(fd *event.FD) (string, bool) { return strconv.Itoa(int(fd.ClientPort)), ipSock(fd) })
	list("fdlist.sports", "Server ports of the TCP/UDP FDs a poll or ppoll waited on, comma-separated.",
		func(fd *event.FD) (string, bool) { return strconv.Itoa(int(fd.ServerPort)), ipSock(fd) })
}
