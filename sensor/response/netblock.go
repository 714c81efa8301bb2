package response

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// DefaultBlockDir is where network blocks are pinned (on the BPF
// filesystem) unless block_dir says otherwise.
const DefaultBlockDir = "/sys/fs/bpf/saker/blocks"

// Block is one network block: a drop-everything cgroup_skb program
// attached to a cgroup's ingress and egress. Its two links are pinned
// below the block directory, so a block outlives the sensor that set it
// (a restart, or an attacker killing the sensor, does not lift it) and
// `saker response release` lifts it by removing the pins.
type Block struct {
	// Name identifies the block: "cg" and the cgroup id (the cgroup
	// directory's inode number).
	Name     string
	CgroupID uint64
	// Cgroup is the cgroup v2 path (relative to the cgroup2 mount), "" if
	// the cgroup no longer exists.
	Cgroup string
	// Expires is when the block is lifted; zero: only by release.
	Expires time.Time
	// AlertID is the uuid of the alert the block answered ("" if unknown),
	// kept in the pin names so the records of its release or expiry name
	// that alert even after a sensor restart.
	AlertID string
}

// pin names are <name>_<expiry unix seconds, 0 for none>_<alert id>_<ingress|egress>
// (blocks pinned before alert ids were kept have no alert id part): the
// expiry and the alert live in the name because the BPF filesystem holds
// no regular files, and a restarted sensor re-arms TTLs from it (bpffs
// refuses names with dots).
func pinName(name string, expires time.Time, alertID, dir string) string {
	return expiryPrefix(name, expires) + alertID + "_" + dir
}

// expiryPrefix starts the pin names of block name with expiry expires.
func expiryPrefix(name string, expires time.Time) string {
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	return fmt.Sprintf("%s_%d_", name, exp)
}

// pinnableID returns id if it can be part of a pin name (a uuid), or "".
func pinnableID(id string) string {
	if len(id) > 64 {
		return ""
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return ""
		}
	}
	return id
}

// NetBlocker sets, lists and lifts network blocks pinned in Dir.
type NetBlocker struct {
	Dir        string
	view       cgroupView
	cgroupRoot string // the cgroup2 mount point (view.mount)
	log        *slog.Logger
	// OnExpire, if set, is called (without locks held) after a block's TTL
	// lifted it, by a timer or by Restore (it passed while no sensor ran).
	OnExpire func(Block)
	// OnRelease, if set, is called by Watch when a known block's pins were
	// all removed by someone else (`saker response release`).
	OnRelease func(Block)

	mu     sync.Mutex
	prog   *ebpf.Program
	timers map[string]*time.Timer
	known  map[string]Block // blocks this blocker set or restored, not yet lifted by it
}

// NewNetBlocker checks that dir is on the BPF filesystem (creating it
// there if needed) and finds the cgroup2 mount.
func NewNetBlocker(dir string, log *slog.Logger) (*NetBlocker, error) {
	if dir == "" {
		dir = DefaultBlockDir
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("block_dir: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, fmt.Errorf("block_dir: %w", err)
	}
	if st.Type != unix.BPF_FS_MAGIC {
		return nil, fmt.Errorf("block_dir %s is not on a BPF filesystem (mount -t bpf bpf /sys/fs/bpf)", dir)
	}
	view, err := newCgroupView()
	if err != nil {
		return nil, err
	}
	return &NetBlocker{Dir: dir, view: view, cgroupRoot: view.mount, log: log, timers: map[string]*time.Timer{}, known: map[string]Block{}}, nil
}

// Cgroup2Mount finds the cgroup v2 mount point in /proc/self/mountinfo
// (/sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones).
func Cgroup2Mount() (string, error) {
	mounts, err := cgroup2Mounts()
	if err != nil {
		return "", err
	}
	if len(mounts) == 0 {
		return "", errors.New("no cgroup2 filesystem mounted: network blocks need cgroup v2")
	}
	return mounts[0].point, nil
}

// Resolve turns a /proc/PID/cgroup path, relative to the sensor's cgroup
// namespace, into the path Block takes (a path of the cgroup2 mount it
// uses; the same path on the host).
func (b *NetBlocker) Resolve(nsPath string) (string, error) { return b.view.resolve(nsPath) }

// CgroupOf is the cgroup v2 path of pid ("/…", from /proc/PID/cgroup).
func CgroupOf(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("pid %d has no cgroup v2 path", pid)
}

// program loads the cgroup_skb program once: it returns 0, which drops
// the packet (an egress drop fails the sender's call with EPERM).
func (b *NetBlocker) program() (*ebpf.Program, error) {
	if b.prog != nil {
		return b.prog, nil
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "saker_block",
		Type: ebpf.CGroupSKB,
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
		License: "Apache-2.0",
	})
	if err != nil {
		return nil, fmt.Errorf("load cgroup_skb program: %w", err)
	}
	b.prog = p
	return p, nil
}

// Block drops every packet to and from the processes of cgroup (a path
// of the cgroup2 mount: see Resolve) until ttl passes (0: until released), for
// the alert alertID. Blocking a cgroup already blocked replaces its expiry.
func (b *NetBlocker) Block(cgroup string, ttl time.Duration, alertID string) (Block, error) {
	if !strings.HasPrefix(cgroup, "/") || strings.Contains(cgroup, "/..") {
		return Block{}, fmt.Errorf("cgroup %q: want an absolute path inside the cgroup2 mount", cgroup)
	}
	dir := filepath.Join(b.cgroupRoot, cgroup)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return Block{}, fmt.Errorf("cgroup %s: %w", cgroup, err)
	}
	blk := Block{Name: "cg" + strconv.FormatUint(st.Ino, 10), CgroupID: st.Ino, Cgroup: cgroup, AlertID: pinnableID(alertID)}
	if ttl > 0 {
		blk.Expires = time.Now().Add(ttl)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	prog, err := b.program()
	if err != nil {
		return Block{}, err
	}
	old, _ := b.pins(blk.Name)
	for _, at := range []struct {
		name string
		typ  ebpf.AttachType
	}{{"ingress", ebpf.AttachCGroupInetIngress}, {"egress", ebpf.AttachCGroupInetEgress}} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: dir, Attach: at.typ, Program: prog})
		if err != nil {
			b.removeLocked(blk.Name, nil)
			return Block{}, fmt.Errorf("attach %s to cgroup %s: %w", at.name, cgroup, err)
		}
		pin := filepath.Join(b.Dir, pinName(blk.Name, blk.Expires, blk.AlertID, at.name))
		if slices.Contains(old, pin) {
			// Same name and expiry second: the old pin stays and holds its link.
			l.Close()
			continue
		}
		err = l.Pin(pin)
		l.Close() // the pin holds the link now
		if err != nil {
			b.removeLocked(blk.Name, nil)
			return Block{}, fmt.Errorf("pin %s: %w", pin, err)
		}
	}
	// The old pins of this cgroup (an earlier expiry) go.
	for _, p := range old {
		if !strings.HasPrefix(filepath.Base(p), expiryPrefix(blk.Name, blk.Expires)) {
			_ = os.Remove(p)
		}
	}
	b.known[blk.Name] = blk
	b.armLocked(blk)
	return blk, nil
}

// pins lists the pin paths of block name.
func (b *NetBlocker) pins(name string) ([]string, error) {
	return filepath.Glob(filepath.Join(b.Dir, name+"_*"))
}

// armLocked sets the timer that lifts blk at its expiry.
func (b *NetBlocker) armLocked(blk Block) {
	if t := b.timers[blk.Name]; t != nil {
		t.Stop()
		delete(b.timers, blk.Name)
	}
	if blk.Expires.IsZero() {
		return
	}
	exp := blk.Expires
	b.timers[blk.Name] = time.AfterFunc(time.Until(exp), func() {
		b.mu.Lock()
		// Lift only this expiry's pins: a later Block may have extended it.
		n := b.removeLocked(blk.Name, &exp)
		onExpire := b.OnExpire
		b.mu.Unlock()
		if n == 0 {
			return // released or extended meanwhile
		}
		b.log.Info("network block expired", "block", blk.Name, "cgroup", blk.Cgroup)
		if onExpire != nil {
			onExpire(blk)
		}
	})
}

// removeLocked detaches and unpins the links of name (only those of
// expiry exp when exp is set).
func (b *NetBlocker) removeLocked(name string, exp *time.Time) int {
	ps, _ := b.pins(name)
	n := 0
	for _, p := range ps {
		if exp != nil && !strings.HasPrefix(filepath.Base(p), expiryPrefix(name, *exp)) {
			continue
		}
		// Detach first: dropping the pin alone frees the link later, from
		// a kernel work queue, so traffic would still drop for a moment
		// after release returned.
		if l, err := link.LoadPinnedLink(p, nil); err == nil {
			if err := l.Detach(); err != nil {
				b.log.Warn("detach network block", "pin", p, "err", err)
			}
			l.Close()
		}
		if os.Remove(p) == nil {
			n++
		}
	}
	if exp == nil || n > 0 && len(mustPins(b.pins(name))) == 0 {
		delete(b.known, name) // lifted by this blocker: Watch stays quiet
	}
	if exp == nil {
		if t := b.timers[name]; t != nil {
			t.Stop()
			delete(b.timers, name)
		}
	}
	return n
}

// Release lifts block name ("cg<id>"); it reports whether one was set.
func (b *NetBlocker) Release(name string) (bool, error) {
	if name == "" || strings.ContainsAny(name, "/._*?[\\") {
		return false, fmt.Errorf("release: bad block name %q", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.removeLocked(name, nil) > 0, nil
}

// List returns the blocks set, by name.
func (b *NetBlocker) List() ([]Block, error) {
	ents, err := os.ReadDir(b.Dir)
	if err != nil {
		return nil, fmt.Errorf("list blocks: %w", err)
	}
	byName := map[string]Block{}
	for _, e := range ents {
		parts := strings.Split(e.Name(), "_")
		if (len(parts) != 3 && len(parts) != 4) || !strings.HasPrefix(parts[0], "cg") {
			continue
		}
		id, err1 := strconv.ParseUint(parts[0][2:], 10, 64)
		exp, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		blk := Block{Name: parts[0], CgroupID: id}
		if len(parts) == 4 {
			blk.AlertID = parts[2]
		}
		if exp > 0 {
			blk.Expires = time.Unix(exp, 0)
		}
		if old, ok := byName[blk.Name]; ok && old.Expires.After(blk.Expires) {
			continue
		}
		byName[blk.Name] = blk
	}
	out := make([]Block, 0, len(byName))
	for _, blk := range byName {
		out = append(out, blk)
	}
	slices.SortFunc(out, func(x, y Block) int { return strings.Compare(x.Name, y.Name) })
	if len(out) > 0 {
		paths := b.cgroupPaths()
		for i := range out {
			out[i].Cgroup = paths[out[i].CgroupID]
		}
	}
	return out, nil
}

// cgroupPaths maps cgroup ids (inode numbers) to their paths.
func (b *NetBlocker) cgroupPaths() map[uint64]string {
	m := map[uint64]string{}
	_ = filepath.WalkDir(b.cgroupRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			rel, _ := filepath.Rel(b.cgroupRoot, p)
			m[st.Ino] = filepath.Clean("/" + rel)
		}
		return nil
	})
	return m
}

// Restore, at sensor start, lifts the blocks whose TTL passed while no
// sensor ran and re-arms the timers of the others.
func (b *NetBlocker) Restore() error {
	blocks, err := b.List()
	if err != nil {
		return err
	}
	var expired []Block
	b.mu.Lock()
	for _, blk := range blocks {
		if !blk.Expires.IsZero() && !blk.Expires.After(time.Now()) {
			b.removeLocked(blk.Name, nil)
			b.log.Info("network block expired while the sensor was down", "block", blk.Name, "cgroup", blk.Cgroup)
			expired = append(expired, blk)
			continue
		}
		b.known[blk.Name] = blk
		b.armLocked(blk)
	}
	onExpire := b.OnExpire
	b.mu.Unlock()
	if onExpire != nil {
		for _, blk := range expired {
			onExpire(blk)
		}
	}
	return nil
}

// Watch calls OnRelease for each known block whose pins someone else
// removed (`saker response release`, which may run while the sensor
// does), until ctx ends. It watches the block directory with inotify:
// bpffs reports unlinks like any filesystem.
func (b *NetBlocker) Watch(ctx context.Context) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watch %s: %w", b.Dir, err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: reads wait in the poller, Close ends them
	defer f.Close()
	if _, err := unix.InotifyAddWatch(fd, b.Dir, unix.IN_DELETE); err != nil {
		return fmt.Errorf("watch %s: %w", b.Dir, err)
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	buf := make([]byte, 16<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch %s: %w", b.Dir, err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			name, _, _ := strings.Cut(strings.TrimRight(string(nameBytes), "\x00"), "_")
			b.released(name)
		}
	}
}

// released reports block name to OnRelease if it was known and none of
// its pins is left.
func (b *NetBlocker) released(name string) {
	b.mu.Lock()
	blk, ok := b.known[name]
	if ok && len(mustPins(b.pins(name))) == 0 {
		delete(b.known, name)
		if t := b.timers[name]; t != nil {
			t.Stop()
			delete(b.timers, name)
		}
	} else {
		ok = false
	}
	onRelease := b.OnRelease
	b.mu.Unlock()
	if ok && onRelease != nil {
		onRelease(blk)
	}
}

func mustPins(ps []string, _ error) []string { return ps }

// Close stops the TTL timers (the blocks stay pinned) and unloads the
// program (attached links keep their own reference to it).
func (b *NetBlocker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for n, t := range b.timers {
		t.Stop()
		delete(b.timers, n)
	}
	if b.prog != nil {
		b.prog.Close()
		b.prog = nil
	}
}
