package response

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupView is the cgroup2 mount the blocks attach through and where the
// sensor's cgroup namespace sits in it. On the host (or with the host's
// cgroup namespace) /proc/PID/cgroup paths are paths of the mount. A
// sensor in a container with its own cgroup namespace (Docker's default on
// cgroup v2, every Kubernetes pod) reads paths relative to its own cgroup
// ("/../../system.slice/docker-….scope") and needs the host's cgroup2
// tree mounted (e.g. /sys/fs/cgroup at /host/sys/fs/cgroup): its
// mountinfo root is then "/../..", and the namespace root is found as the
// directory of that tree holding the sensor's own process.
type cgroupView struct {
	mount  string // mount point
	nsRoot string // the namespace root's path in the mount ("/" on the host)
}

// cgroup2Mount is one cgroup2 line of /proc/self/mountinfo.
type cgroup2Mount struct{ point, root string }

// cgroup2Mounts lists the cgroup2 mounts.
func cgroup2Mounts() ([]cgroup2Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroup2Mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts ... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 {
			out = append(out, cgroup2Mount{point: unescapeMount(f[4]), root: unescapeMount(f[3])})
		}
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space…).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// newCgroupView picks the cgroup2 mount that sees the most: one whose root
// lies above the sensor's namespace root (a host tree mounted into the
// container) over one rooted at the namespace root.
func newCgroupView() (cgroupView, error) {
	mounts, err := cgroup2Mounts()
	if err != nil {
		return cgroupView{}, err
	}
	best, up := -1, -1
	for i, m := range mounts {
		n := strings.Count(m.root, "..")
		if m.root != "/" && n == 0 {
			continue // a subtree of our namespace: sees less than its root
		}
		if n > up {
			best, up = i, n
		}
	}
	if best < 0 {
		return cgroupView{}, errors.New("no cgroup2 filesystem mounted at its root: network blocks need cgroup v2 (in a container, mount the host's /sys/fs/cgroup)")
	}
	m := mounts[best]
	if up == 0 {
		return cgroupView{mount: m.point, nsRoot: "/"}, nil
	}
	self, err := CgroupOf(os.Getpid())
	if err != nil {
		return cgroupView{}, err
	}
	if strings.Contains(self, "..") {
		return cgroupView{}, fmt.Errorf("the sensor's cgroup %s is outside its own cgroup namespace", self)
	}
	// Our cgroup is up+depth(self) levels below the mount's root.
	depth := up + strings.Count(strings.Trim(self, "/"), "/")
	if self != "/" {
		depth++
	}
	dir, err := findProcCgroup(m.point, depth, os.Getpid())
	if err != nil {
		return cgroupView{}, fmt.Errorf("cgroup2 mount %s: %w", m.point, err)
	}
	rel, _ := filepath.Rel(m.point, dir)
	own := "/" + filepath.ToSlash(rel)
	root := strings.TrimSuffix(own, strings.TrimSuffix(self, "/"))
	if root == "" {
		root = "/"
	}
	return cgroupView{mount: m.point, nsRoot: root}, nil
}

// findProcCgroup finds the directory depth levels below top whose
// cgroup.procs lists pid.
func findProcCgroup(top string, depth, pid int) (string, error) {
	want := []byte(strconv.Itoa(pid))
	level := []string{top}
	for range depth {
		var next []string
		for _, d := range level {
			ents, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if e.IsDir() {
					next = append(next, filepath.Join(d, e.Name()))
				}
			}
		}
		level = next
	}
	for _, d := range level {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			if bytes.Equal(line, want) {
				return d, nil
			}
		}
	}
	return "", fmt.Errorf("no cgroup %d levels down holds pid %d (a cgroup.procs not readable, or the sensor moved)", depth, pid)
}

// resolve turns a /proc/PID/cgroup path (relative to the sensor's cgroup
// namespace, possibly "/../…") into a path of the mount.
func (v cgroupView) resolve(nsPath string) (string, error) {
	if !strings.HasPrefix(nsPath, "/") {
		return "", fmt.Errorf("cgroup %q: not an absolute path", nsPath)
	}
	var parts []string
	for _, c := range strings.Split(strings.Trim(v.nsRoot+"/"+nsPath, "/"), "/") {
		switch c {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", fmt.Errorf("cgroup %s is outside the cgroup2 mount %s (in a container, mount the host's /sys/fs/cgroup)", nsPath, v.mount)
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, c)
		}
	}
	return "/" + strings.Join(parts, "/"), nil
}
