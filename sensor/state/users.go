package state

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Users resolves uid/gid to names from /etc/passwd and /etc/group, reloading
// the files (at most every 10 s) when an id is not found, so that users
// added after start resolve too.
type Users struct {
	passwd, group string

	mu       sync.RWMutex
	users    map[uint32]string
	groups   map[uint32]string
	loadedAt time.Time
}

// NewUsers reads the given passwd and group files ("" for the defaults).
func NewUsers(passwd, group string) *Users {
	if passwd == "" {
		passwd = "/etc/passwd"
	}
	if group == "" {
		group = "/etc/group"
	}
	u := &Users{passwd: passwd, group: group}
	u.load()
	return u
}

func (u *Users) load() {
	users := parseIDFile(u.passwd)
	groups := parseIDFile(u.group)
	u.mu.Lock()
	u.users, u.groups, u.loadedAt = users, groups, time.Now()
	u.mu.Unlock()
}

// parseIDFile reads "name:x:id:…" lines into id -> name (first name wins).
func parseIDFile(path string) map[uint32]string {
	m := map[uint32]string{}
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	parseIDs(f, m)
	return m
}

func parseIDs(r io.Reader, m map[uint32]string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.SplitN(line, ":", 4)
		if len(parts) < 3 {
			continue
		}
		id, err := strconv.ParseUint(parts[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = parts[0]
		}
	}
}

func (u *Users) lookup(id uint32, group bool) string {
	for attempt := 0; attempt < 2; attempt++ {
		u.mu.RLock()
		m := u.users
		if group {
			m = u.groups
		}
		name, ok := m[id]
		stale := time.Since(u.loadedAt) > 10*time.Second
		u.mu.RUnlock()
		if ok || !stale || attempt > 0 {
			return name
		}
		u.load()
	}
	return ""
}

// User returns the user name for uid, or "" when unknown.
func (u *Users) User(uid uint32) string { return u.lookup(uid, false) }

// Group returns the group name for gid, or "" when unknown.
func (u *Users) Group(gid uint32) string { return u.lookup(gid, true) }
