package guard

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/rules"
)

// programs maps the open syscalls to the guard's programs.
var programs = map[event.Type]struct{ tp, prog string }{
	event.TypeOpen:    {"sys_exit_open", "guard_open"},
	event.TypeOpenat:  {"sys_exit_openat", "guard_openat"},
	event.TypeOpenat2: {"sys_exit_openat2", "guard_openat2"},
	event.TypeCreat:   {"sys_exit_creat", "guard_creat"},
}

// Spec is the predicate the kernel holds on: an open of one of Types
// (with write flags when WriteOnly, outside the host's mount namespace
// when ContainersOnly) of a path starting with one of Prefixes. It is
// conservative: every event its rules can match satisfies it; user space
// decides the rest.
type Spec struct {
	Types          []event.Type
	WriteOnly      bool
	ContainersOnly bool
	Prefixes       []string
}

func (s Spec) valid() error {
	if len(s.Types) == 0 {
		return errors.New("guard: no event type")
	}
	for _, t := range s.Types {
		if _, ok := programs[t]; !ok {
			return fmt.Errorf("guard: event type %s is not an open", t)
		}
	}
	if len(s.Prefixes) == 0 {
		return errors.New("guard: no path prefix")
	}
	for _, p := range s.Prefixes {
		if !strings.HasPrefix(p, "/") || len(p) > maxPrefix {
			return fmt.Errorf("guard: prefix %q: want an absolute path of at most %d bytes", p, maxPrefix)
		}
	}
	return nil
}

// Union is a Spec that holds on whatever a or b holds on.
func Union(a, b Spec) Spec {
	u := Spec{
		WriteOnly:      a.WriteOnly && b.WriteOnly,
		ContainersOnly: a.ContainersOnly && b.ContainersOnly,
	}
	u.Types = append(slices.Clone(a.Types), b.Types...)
	slices.Sort(u.Types)
	u.Types = slices.Compact(u.Types)
	u.Prefixes = append(slices.Clone(a.Prefixes), b.Prefixes...)
	slices.Sort(u.Prefixes)
	u.Prefixes = slices.Compact(u.Prefixes)
	return u
}

// String renders the spec for logs and records.
func (s Spec) String() string {
	var b strings.Builder
	names := make([]string, len(s.Types))
	for i, t := range s.Types {
		names[i] = t.String()
	}
	fmt.Fprintf(&b, "evt.type in (%s)", strings.Join(names, ","))
	if s.WriteOnly {
		b.WriteString(" and evt.is_open_write=true")
	}
	if s.ContainersOnly {
		b.WriteString(" and container.id!=host")
	}
	fmt.Fprintf(&b, " and fd.name startswith (%s)", strings.Join(s.Prefixes, ","))
	return b.String()
}

// SpecOf derives the guard's predicate from a compiled rule: conditions
// every event the rule matches must satisfy, read from the condition's
// syntax tree (macros and lists expanded). It returns an error saying why
// when the kernel cannot decide enough: the rule is not about opens, or
// no path prefix bounds it (holding every open would stall the host).
func SpecOf(r *rules.Rule) (Spec, error) {
	if r.AllEventTypes || len(r.EventTypes) == 0 {
		return Spec{}, errors.New("the condition does not restrict evt.type")
	}
	var s Spec
	for _, t := range r.EventTypes {
		if _, ok := programs[t]; !ok {
			return Spec{}, fmt.Errorf("evt.type %s is not an open syscall (open, openat, openat2, creat)", t)
		}
		s.Types = append(s.Types, t)
	}
	c := necessary(r.AST)
	if c.prefixes == nil {
		return Spec{}, errors.New("no fd.name/fd.directory prefix bounds the paths")
	}
	for _, p := range c.prefixes {
		if !strings.HasPrefix(p, "/") || len(p) > maxPrefix {
			return Spec{}, fmt.Errorf("path %q cannot be compared in the kernel", p)
		}
	}
	s.WriteOnly, s.ContainersOnly = c.write, c.container
	s.Prefixes = slices.Compact(slices.Sorted(slices.Values(c.prefixes)))
	return s, nil
}

// cond is a necessary condition of a subtree: what every event it
// matches satisfies. prefixes nil means any path.
type cond struct {
	write, container bool
	prefixes         []string
}

// necessary over-approximates n: And keeps the strongest of its
// children's conditions, Or the weakest common one, Not and unknown
// fields tell nothing.
func necessary(n rules.Node) cond {
	switch x := n.(type) {
	case *rules.And:
		var c cond
		for _, ch := range x.Children {
			cc := necessary(ch)
			c.write = c.write || cc.write
			c.container = c.container || cc.container
			if cc.prefixes != nil && (c.prefixes == nil || len(cc.prefixes) < len(c.prefixes)) {
				c.prefixes = cc.prefixes
			}
		}
		return c
	case *rules.Or:
		if len(x.Children) == 0 {
			return cond{}
		}
		c := cond{write: true, container: true, prefixes: []string{}}
		for _, ch := range x.Children {
			cc := necessary(ch)
			c.write = c.write && cc.write
			c.container = c.container && cc.container
			if cc.prefixes == nil || c.prefixes == nil {
				c.prefixes = nil
			} else {
				c.prefixes = append(c.prefixes, cc.prefixes...)
			}
		}
		return c
	case *rules.Not:
		// not container.id=host: in a container.
		if b, ok := x.Child.(*rules.Binary); ok && isField(b, "container.id") && b.Op == "=" && b.Right == nil && len(b.Values) == 1 && b.Values[0] == "host" {
			return cond{container: true}
		}
		return cond{}
	case *rules.Binary:
		return binaryCond(x)
	}
	return cond{}
}

func isField(b *rules.Binary, name string) bool {
	return b.Left.Transformer == "" && b.Left.Name == name
}

func binaryCond(b *rules.Binary) cond {
	if b.Right != nil {
		return cond{}
	}
	vals := b.Values
	switch {
	case isField(b, "evt.is_open_write") && b.Op == "=" && len(vals) == 1 && vals[0] == "true":
		return cond{write: true}
	case isField(b, "container.id") && b.Op == "!=" && len(vals) == 1 && vals[0] == "host":
		return cond{container: true}
	case isField(b, "fd.name"):
		switch b.Op {
		case "startswith", "=", "in", "pmatch":
			return cond{prefixes: slices.Clone(vals)}
		case "glob":
			if len(vals) == 1 {
				if i := strings.IndexAny(vals[0], "*?[\\"); i != 0 {
					if i > 0 {
						return cond{prefixes: []string{vals[0][:i]}}
					}
					return cond{prefixes: []string{vals[0]}}
				}
			}
		}
	case isField(b, "fd.directory") && (b.Op == "=" || b.Op == "in"):
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = strings.TrimSuffix(v, "/") + "/"
		}
		return cond{prefixes: out}
	}
	return cond{}
}
