package state

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// cgroupLister renders a process's cgroups as Falco's thread.cgroups does:
// "controller=path" pairs, space-separated, in the kernel's controller
// order. Cgroup v1 lines of /proc/PID/cgroup name their controllers; the
// v2 line ("0::/path") names none, so each controller available on the
// host gets the cgroup whose controller state the process uses: the
// nearest of its cgroup and their ancestors that has the controller
// enabled (listed in its cgroup.controllers), else the root. That needs the
// cgroupfs, read once per distinct cgroup and cached.
type cgroupLister struct {
	root string // the cgroup2 mount, seen through the host's pid 1

	mu     sync.Mutex
	byPath map[string]string // v2 path -> rendering
}

// maxCgroupCache bounds the cache; it restarts empty when full.
const maxCgroupCache = 4096

func newCgroupLister(procRoot string) *cgroupLister {
	return &cgroupLister{root: filepath.Join(procRoot, "1", "root", "sys", "fs", "cgroup"), byPath: map[string]string{}}
}

// render turns /proc/PID/cgroup's content into thread.cgroups; "" when
// it lists nothing.
func (c *cgroupLister) render(procCgroup string) string {
	var parts []string
	unified, hasUnified := "", false
	for _, line := range strings.Split(procCgroup, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" {
			if f[0] == "0" {
				unified, hasUnified = f[2], true
			}
			continue
		}
		for _, ctrl := range strings.Split(f[1], ",") {
			if strings.HasPrefix(ctrl, "name=") {
				continue // a named hierarchy without controller (name=systemd): libscap skips them
			}
			parts = append(parts, ctrl+"="+f[2])
		}
	}
	// On a hybrid host the controllers are bound to the v1 hierarchies
	// and the unified one holds none.
	if hasUnified && len(parts) == 0 {
		return c.v2(unified)
	}
	// The kernel's controller order, as the driver reports them to Falco;
	// /proc lists v1 hierarchies from the highest id down.
	sort.SliceStable(parts, func(i, j int) bool { return ctrlRank(parts[i]) < ctrlRank(parts[j]) })
	return strings.Join(parts, " ")
}

// kernelCtrlOrder is enum cgroup_subsys_id's order.
var kernelCtrlOrder = map[string]int{"cpuset": 1, "cpu": 2, "cpuacct": 3, "io": 4, "blkio": 4, "memory": 5,
	"devices": 6, "freezer": 7, "net_cls": 8, "perf_event": 9, "net_prio": 10, "hugetlb": 11, "pids": 12,
	"rdma": 13, "misc": 14}

// ctrlRank orders "controller=path" by the kernel's order, unknown last.
func ctrlRank(pair string) int {
	ctrl, _, _ := strings.Cut(pair, "=")
	if r, ok := kernelCtrlOrder[ctrl]; ok {
		return r
	}
	return len(kernelCtrlOrder) + 1
}

// v2 renders the controllers of the unified hierarchy for cgroup p.
func (c *cgroupLister) v2(p string) string {
	c.mu.Lock()
	s, ok := c.byPath[p]
	c.mu.Unlock()
	if ok {
		return s
	}
	s = c.resolveV2(p)
	c.mu.Lock()
	if len(c.byPath) >= maxCgroupCache {
		c.byPath = map[string]string{}
	}
	c.byPath[p] = s
	c.mu.Unlock()
	return s
}

func (c *cgroupLister) resolveV2(p string) string {
	all := c.controllers("/")
	if len(all) == 0 {
		return ""
	}
	p = path.Clean("/" + p)
	// Each ancestor's enabled controllers, the cgroup itself first.
	var chain []string
	var enabled []map[string]bool
	for q := p; q != "/"; q = path.Dir(q) {
		set := map[string]bool{}
		for _, ctrl := range c.controllers(q) {
			set[ctrl] = true
		}
		chain, enabled = append(chain, q), append(enabled, set)
	}
	out := make([]string, 0, len(all))
	for _, ctrl := range all {
		at := "/"
		for i, q := range chain {
			if enabled[i][ctrl] {
				at = q
				break
			}
		}
		out = append(out, ctrl+"="+at)
	}
	return strings.Join(out, " ")
}

// controllers lists cgroup p's cgroup.controllers.
func (c *cgroupLister) controllers(p string) []string {
	b, err := os.ReadFile(filepath.Join(c.root, p, "cgroup.controllers"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}
