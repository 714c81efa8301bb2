package fields

import (
	"fmt"
	"sort"
	"strings"
)

// registry holds every field by name. It is filled by init functions in this
// package's per-class files (evt.go, proc.go, fd.go…) and read-only after.
var registry = map[string]*Field{}

// register adds a field; a duplicate name is a programming error.
func register(f *Field) {
	if _, dup := registry[f.Name]; dup {
		panic("fields: duplicate field " + f.Name)
	}
	registry[f.Name] = f
}

// All returns every registered field sorted by name.
func All() []*Field {
	out := make([]*Field, 0, len(registry))
	for _, f := range registry {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the field registered under exactly this name.
func Lookup(name string) (*Field, bool) {
	f, ok := registry[name]
	return f, ok
}

// Resolve binds a field reference as written in a condition or output:
// name may carry a dotted argument ("evt.arg.flags" resolves to field
// "evt.arg" with argument "flags"); a bracketed argument ("proc.aname[2]")
// is passed separately with hasArg set.
func Resolve(name, arg string, hasArg bool) (Resolved, error) {
	f, ok := registry[name]
	if !ok {
		// Dotted argument: the longest registered prefix that accepts a key.
		for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
			if p, found := registry[name[:i]]; found && (p.Arg == KeyArg || p.Arg == IndexOrKey || p.Arg == RequiredArg) && !hasArg {
				f, arg, hasArg, ok = p, name[i+1:], true, true
				break
			}
		}
	}
	if !ok {
		return Resolved{}, fmt.Errorf("unknown field %q", name)
	}
	switch {
	case f.Arg == NoArg && hasArg:
		return Resolved{}, fmt.Errorf("field %q does not take an argument", f.Name)
	case (f.Arg == KeyArg || f.Arg == RequiredArg) && !hasArg:
		return Resolved{}, fmt.Errorf("field %q requires an argument", f.Name)
	}
	ex, err := f.make(arg, hasArg)
	if err != nil {
		return Resolved{}, fmt.Errorf("field %s[%s]: %w", f.Name, arg, err)
	}
	r := Resolved{Field: f, Arg: arg, HasArg: hasArg, Extract: ex, Type: f.Type}
	if f.typeFor != nil {
		r.Type = f.typeFor(arg)
	}
	r.Multi = !hasArg && f.multiWithoutIndex
	if !hasArg {
		r.Str, r.Num, r.IP = f.str, f.num, f.ip
	}
	return r, nil
}
