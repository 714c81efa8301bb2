package probe

import (
	"slices"
	"strings"
)

// OpenOutcomes is a set of the ways an open can go, by access mode and
// result: bit 2*accmode+failed, where accmode is flags&O_ACCMODE (0 read
// only, 1 write only, 2 read/write) and failed is 1 when the open returned
// an error. The probe keys its filter on the same index.
type OpenOutcomes uint8

// Open outcome sets.
const (
	OpenReadOnly  OpenOutcomes = 0b000011 // O_RDONLY, success or failure
	OpenWriteOnly OpenOutcomes = 0b001100 // O_WRONLY
	OpenReadWrite OpenOutcomes = 0b110000 // O_RDWR
	OpenSucceeded OpenOutcomes = 0b010101 // any access mode, success
	OpenFailed    OpenOutcomes = 0b101010 // any access mode, failure
	OpenAny       OpenOutcomes = 0b111111

	OpenReading = OpenReadOnly | OpenReadWrite  // evt.is_open_read
	OpenWriting = OpenWriteOnly | OpenReadWrite // evt.is_open_write
)

// OpenOutcome returns the outcome bit of an open with these flags and
// result; an invalid access mode (3) counts as every outcome.
func OpenOutcome(flags uint32, res int64) OpenOutcomes {
	acc := flags & 3
	if acc == 3 {
		return OpenAny
	}
	bit := 2 * acc
	if res < 0 {
		bit++
	}
	return 1 << bit
}

// OpenTerm says that an open of a path under Prefix (a byte prefix of the
// absolute path; "" is every path) with an outcome in Outcomes, by a
// process named one of Comms (proc.name; nil is any name), may matter to
// some rule.
type OpenTerm struct {
	Prefix   string
	Outcomes OpenOutcomes
	Comms    []string
}

// OpenFilter is the kernel pre-filter for open, openat, openat2 and creat:
// an open of an absolute path is sent to user space only when some term
// covers it. Opens the filter cannot judge without resolving the path are
// always sent: relative paths, paths with "." or ".." components or doubled
// slashes (whose cleaned form, fd.name, may start elsewhere), paths of
// SK_PREFIX_MAX bytes or more, and openat2 with resolve flags.
type OpenFilter struct {
	Terms []OpenTerm
}

// Constants shared with bpf/saker.h.
const (
	prefixMax   = 256  // SK_PREFIX_MAX
	commClasses = 128  // SK_COMM_CLASSES
	commLen     = 16   // SK_COMM_LEN
	headWords   = 1024 // SK_HEAD_WORDS
)

// Wants reports whether the filter sends to user space an open of path
// with these flags and result by a process whose main thread is named comm,
// as the probe's program decides it (TestOpenFilterMatchesKernel holds the
// program to it).
func (f *OpenFilter) Wants(path string, flags uint32, res int64, comm string) bool {
	if f == nil || !strings.HasPrefix(path, "/") || len(path) >= prefixMax-1 ||
		strings.Contains(path, "/.") || strings.Contains(path, "//") || strings.Contains(path, "./") {
		return true
	}
	o := OpenOutcome(flags, res)
	comm = truncComm(comm)
	for _, t := range f.Terms {
		if !strings.HasPrefix(path, truncPrefix(t.Prefix)) || t.Outcomes&o == 0 {
			continue
		}
		if t.Comms == nil || slices.ContainsFunc(t.Comms, func(c string) bool { return truncComm(c) == comm }) {
			return true
		}
	}
	return false
}

// truncPrefix cuts a prefix to what the key holds: a shorter prefix covers
// more paths, so the filter stays conservative.
func truncPrefix(p string) string {
	if len(p) > prefixMax-2 {
		return p[:prefixMax-2]
	}
	return p
}

// truncComm cuts a name to the kernel's comm (15 bytes).
func truncComm(c string) string {
	if len(c) > commLen-1 {
		return c[:commLen-1]
	}
	return c
}

// tables returns what the probe loads: each prefix with its outcomes per
// name class, including those of every shorter prefix of it (the kernel's
// longest-prefix-match lookup returns only the longest), and the names'
// classes. Class 0 is any name. Names beyond the classes the probe has
// make their terms apply to any name, which only sends more.
func (f *OpenFilter) tables() (prefixes map[string]*[commClasses]uint8, comms map[string]uint8) {
	comms = map[string]uint8{}
	own := map[string]*[commClasses]uint8{}
	for _, t := range f.Terms {
		if t.Outcomes == 0 {
			continue
		}
		p := truncPrefix(t.Prefix)
		if own[p] == nil {
			own[p] = new([commClasses]uint8)
		}
		classes := []uint8{0}
		if t.Comms != nil {
			classes = classes[:0]
			for _, c := range t.Comms {
				c = truncComm(c)
				cls, ok := comms[c]
				if !ok && len(comms) < commClasses-1 {
					cls = uint8(len(comms) + 1)
					comms[c], ok = cls, true
				}
				if !ok {
					classes = []uint8{0}
					break
				}
				classes = append(classes, cls)
			}
		}
		for _, cls := range classes {
			own[p][cls] |= uint8(t.Outcomes)
		}
	}
	prefixes = make(map[string]*[commClasses]uint8, len(own))
	for p := range own {
		v := new([commClasses]uint8)
		for q, qv := range own {
			if strings.HasPrefix(p, q) {
				for i := range v {
					v[i] |= qv[i]
				}
			}
		}
		prefixes[p] = v
	}
	return prefixes, comms
}

// rootPrefix returns the outcomes that hold for every absolute path: those
// of prefix "/" (which tables merged with "") or of "", nil without either.
func rootPrefix(prefixes map[string]*[commClasses]uint8) *[commClasses]uint8 {
	if v := prefixes["/"]; v != nil {
		return v
	}
	return prefixes[""]
}

// prefixHeads returns the bitmap the probe consults before the trie: bit
// c1<<8|c2 is set when some prefix longer than "/" starts with "/c1c2"
// (every c2 for a two-byte prefix "/c1"). A path whose two bytes after the
// leading slash (0 past its end) have no bit can match no such prefix, so
// its longest match is the root prefix: the program skips the trie.
func prefixHeads(prefixes map[string]*[commClasses]uint8) *[headWords]uint64 {
	var heads [headWords]uint64
	set := func(h int) { heads[h/64] |= 1 << (h % 64) }
	for p := range prefixes {
		switch {
		case len(p) < 2:
		case len(p) == 2:
			for c2 := range 256 {
				set(int(p[1])<<8 | c2)
			}
		default:
			set(int(p[1])<<8 | int(p[2]))
		}
	}
	return &heads
}
