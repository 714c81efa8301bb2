package state

import (
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

func (c *containerUsers) of(id string, pid int64) *Users {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.byID[id]
	if u == nil {
		if c.byID == nil || len(c.byID) >= maxContainerUsers {
			c.byID = map[string]*Users{}
		}
		etc := filepath.Join(c.procs, strconv.FormatInt(pid, 10), "root", "etc")
		u = NewUsers(filepath.Join(etc, "passwd"), filepath.Join(etc, "group"))
		c.byID[id] = u
	}
	return u
}

// setNames fills th's user, group, login user, home and shell from its
// ids: the host's names, or its container's.
func (t *Table) setNames(th *event.Thread) {
	u := t.users
	if th.ContainerID != "" {
		u = t.cusers.of(th.ContainerID, th.PID)
	}
	th.User, th.Group = u.User(th.UID), u.Group(th.GID)
	a := u.Account(th.UID)
	th.HomeDir, th.Shell = a.Home, a.Shell
	th.LoginUser = ""
	if th.LoginUID >= 0 {
		th.LoginUser = u.User(uint32(th.LoginUID))
	}
}
