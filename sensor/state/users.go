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
	accounts map[uint32]Account
	loadedAt time.Time
	read     bool // the passwd file was read at least once
}

// Account is a user's home directory and login shell (user.homedir,
// user.shell).
type Account struct {
	Home, Shell string
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

// load re-reads the files. A file that cannot be opened keeps the names
// read before: a container's files are read through a process of it, which
// may have exited since.
func (u *Users) load() {
	users, accounts, uok := parseIDFile(u.passwd)
	groups, _, gok := parseIDFile(u.group)
	u.mu.Lock()
	if uok || u.users == nil {
		u.users, u.accounts = users, accounts
	}
	u.read = u.read || uok
	if gok || u.groups == nil {
		u.groups = groups
	}
	u.loadedAt = time.Now()
	u.mu.Unlock()
}

// parseIDFile reads "name:x:id:…" lines into id -> name (first name
// wins), and passwd's home and shell (fields 6 and 7) into accounts; ok is
// false when the file cannot be opened.
func parseIDFile(path string) (names map[uint32]string, accounts map[uint32]Account, ok bool) {
	m, acc := map[uint32]string{}, map[uint32]Account{}
	f, err := os.Open(path)
	if err != nil {
		return m, acc, false
	}
	defer f.Close()
	parseIDs(f, m, acc)
	return m, acc, true
}

func parseIDs(r io.Reader, m map[uint32]string, acc map[uint32]Account) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.SplitN(line, ":", 7)
		if len(parts) < 3 {
			continue
		}
		id, err := strconv.ParseUint(parts[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = parts[0]
			if len(parts) == 7 {
				acc[uint32(id)] = Account{Home: parts[5], Shell: parts[6]}
			}
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

// Read reports whether the passwd file could be read at least once.
func (u *Users) Read() bool {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.read
}

// User returns the user name for uid, or "" when unknown.
func (u *Users) User(uid uint32) string { return u.lookup(uid, false) }

// Group returns the group name for gid, or "" when unknown.
func (u *Users) Group(gid uint32) string { return u.lookup(gid, true) }

// Account returns the home directory and shell of uid (zero when the user
// or its passwd line's last fields are unknown). It does not reload: User
// has just been asked for the same uid.
func (u *Users) Account(uid uint32) Account {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.accounts[uid]
}
