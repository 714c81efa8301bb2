package state

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/saker-sec/saker/sensor/event"
)

// maxContainerUsers bounds the per-container name tables kept; past it the
// cache starts over (tables are re-read from the containers' files).
const maxContainerUsers = 1024

// containerUsers holds each container's own user and group names, read
// from the container's /etc/passwd and /etc/group through /proc/PID/root,
// as Falco names a container's users: uid 1000 in an image is whoever that
// image's passwd says, not the host's user 1000.
type containerUsers struct {
	mu    sync.Mutex
	byID  map[string]*Users
	procs string
}

// of returns the names of container id, read through its process pid the
// first time that process can give them; nil while none could. A process
// gone from /proc (a short command, or the sensor behind) gives none, nor
// does one whose root is still the host's, like PID 1's (the runtime before
// pivot_root): the container's next process is asked again, rather than
// its names being fixed empty or to the host's for its whole life.
func (c *containerUsers) of(id string, pid int64) *Users {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u := c.byID[id]; u != nil {
		return u
	}
	root := filepath.Join(c.procs, strconv.FormatInt(pid, 10), "root")
	fi, err := os.Stat(root)
	if err != nil {
		return nil
	}
	if host, err := os.Stat(filepath.Join(c.procs, "1", "root")); err == nil && os.SameFile(fi, host) {
		return nil
	}
	etc := filepath.Join(root, "etc")
	u := NewUsers(filepath.Join(etc, "passwd"), filepath.Join(etc, "group"))
	if !u.Read() {
		return nil
	}
	if c.byID == nil || len(c.byID) >= maxContainerUsers {
		c.byID = map[string]*Users{}
	}
	c.byID[id] = u
	return u
}

// setNames fills th's user, group, login user, home and shell from its
// ids: the host's names, or its container's.
func (t *Table) setNames(th *event.Thread) {
	u := t.users
	if th.ContainerID != "" {
		if u = t.cusers.of(th.ContainerID, th.PID); u == nil {
			th.User, th.Group, th.LoginUser = "", "", ""
			th.HomeDir, th.Shell = "", ""
			return
		}
	}
	th.User, th.Group = u.User(th.UID), u.Group(th.GID)
	a := u.Account(th.UID)
	th.HomeDir, th.Shell = a.Home, a.Shell
	th.LoginUser = ""
	if th.LoginUID >= 0 {
		th.LoginUser = u.User(uint32(th.LoginUID))
	}
}
