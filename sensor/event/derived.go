package event

import (
	"strconv"
	"strings"
)

// Prepare computes the derived strings the field extractors would otherwise
// build per event (proc.cmdline, proc.args, the ancestor lists behind
// proc.aname/proc.aexe/proc.aexepath/proc.acmdline/proc.apid without an
// index). The process table calls it once, after filling the entry and
// before publishing it; the entry's Parent chain must already be set.
// Extractors fall back to building the strings per event (allocating) when
// an entry was not prepared.
func (t *Thread) Prepare() {
	t.Cmdline = BuildCmdline(t.Comm, t.Args)
	t.ArgsLine = strings.Join(t.Args, " ")
	var names, exes, paths, cmds, pids []string
	depth := 0
	for p := t.Parent; p != nil && depth < MaxAncestors; p = p.Parent {
		names = append(names, p.Comm)
		exes = append(exes, p.Exe)
		paths = append(paths, p.ExePath)
		c := p.Cmdline
		if !p.Prepared {
			c = BuildCmdline(p.Comm, p.Args)
		}
		cmds = append(cmds, c)
		pids = append(pids, strconv.FormatInt(p.PID, 10))
		depth++
	}
	t.ANames, t.AExes, t.AExePaths, t.ACmdlines, t.APIDs = names, exes, paths, cmds, pids
	t.Prepared = true
}

// MaxAncestors bounds the parent chain walked by Prepare and the ancestor
// fields, so a corrupt (cyclic) table cannot loop forever.
const MaxAncestors = 64

// BuildCmdline returns Falco's proc.cmdline: the comm followed by each
// argument, separated by single spaces.
func BuildCmdline(comm string, args []string) string {
	if len(args) == 0 {
		return comm
	}
	n := len(comm)
	for _, a := range args {
		n += 1 + len(a)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(comm)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	return b.String()
}

// Execve flags (Event.Flags on execve/execveat), with Falco's PPM_EXE_*
// values so evt.arg.flags renders as Falco does (EXE_WRITABLE|EXE_UPPER_LAYER).
const (
	ExeWritable   uint32 = 1 << 0
	ExeUpperLayer uint32 = 1 << 1
	ExeFromMemfd  uint32 = 1 << 2
	ExeLowerLayer uint32 = 1 << 3
)
