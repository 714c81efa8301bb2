package rules

import "fmt"

// AST rewrites applied between parsing and compiling: list references are
// replaced by the lists' items and a rule's exceptions become checks
// appended to its condition. Both work on the syntax tree, as libs'
// filter_list_resolver and Falco's exception builder do; no condition text
// is assembled or parsed again.

// resolveLists replaces, in the list literals of n, every item naming a
// list by that list's items ("proc.name in (shell_binaries, zsh)"); a list
// operator whose right-hand side is a bare list name ("proc.name in
// shell_binaries") gets the list's items as its literal. Other values are
// never list references.
func (c *compileState) resolveLists(n Node) {
	Walk(n, func(x Node) {
		b, ok := x.(*Binary)
		if !ok || b.Right != nil || !IsListOp(b.Op) {
			return
		}
		if !b.IsList {
			if len(b.Values) == 1 {
				if items, ok := c.lists[b.Values[0]]; ok {
					c.listUsed[b.Values[0]] = true
					b.IsList, b.Values = true, literals(nil, items)
				}
			}
			return
		}
		var out []string
		changed := false
		for i, v := range b.Values {
			items, ok := c.lists[v]
			if !ok {
				if changed {
					out = append(out, v)
				}
				continue
			}
			if !changed {
				out = append(make([]string, 0, len(b.Values)+len(items)), b.Values[:i]...)
				changed = true
			}
			c.listUsed[v] = true
			out = literals(out, items)
		}
		if changed {
			b.Values = out
		}
	})
}

// literals appends the values the list items stand for.
func literals(dst, items []string) []string {
	for _, it := range items {
		dst = append(dst, literal(it))
	}
	return dst
}

// withExceptions returns cond followed by "and not <exception>" for each
// exception that has values, and the exception fields in first-use order.
// Each exception is a check "field comp (values)" when its fields are a
// single field, or an "or" of "and"s of checks, one per values entry,
// when they are a list; as in Falco.
func withExceptions(cond Node, exs []exceptionInfo) (Node, []string, error) {
	var seen []string
	children := []Node{cond}
	for _, ex := range exs {
		n, err := exceptionNode(ex)
		if err != nil {
			return nil, nil, &Error{Loc: ex.loc, Msg: err.Error()}
		}
		if n == nil {
			continue
		}
		for _, f := range ex.fields {
			if !contains(seen, f) {
				seen = append(seen, f)
			}
		}
		children = append(children, &Not{Child: n, P: cond.Position()})
	}
	if len(children) == 1 {
		return cond, nil, nil
	}
	return &And{Children: children, P: cond.Position()}, seen, nil
}

// exceptionNode builds one exception's check; nil when it has no values.
func exceptionNode(ex exceptionInfo) (Node, error) {
	if len(ex.values) == 0 {
		return nil, nil
	}
	if !ex.fieldsList {
		b, err := exceptionCheck(ex.fields[0], ex.comps[0])
		if err != nil {
			return nil, err
		}
		if !IsListOp(b.Op) {
			return nil, fmt.Errorf("exception '%s': operator '%s' does not take a list of values", ex.name, b.Op)
		}
		b.IsList = true
		for _, v := range ex.values {
			b.Values = append(b.Values, literal(v.item))
		}
		return b, nil
	}
	var alts []Node
	for _, vals := range ex.values {
		var checks []Node
		for k, f := range ex.fields {
			b, err := exceptionCheck(f, ex.comps[k])
			if err != nil {
				return nil, err
			}
			if err := setExceptionValue(b, vals.items[k]); err != nil {
				return nil, fmt.Errorf("exception '%s', field %s: %s", ex.name, f, err)
			}
			checks = append(checks, b)
		}
		alts = append(alts, group(checks, func(ch []Node) Node { return &And{Children: ch} }))
	}
	return group(alts, func(ch []Node) Node { return &Or{Children: ch} }), nil
}

// group returns the only node, or the nodes joined by mk.
func group(nodes []Node, mk func([]Node) Node) Node {
	if len(nodes) == 1 {
		return nodes[0]
	}
	return mk(nodes)
}

func exceptionCheck(field, comp string) (*Binary, error) {
	f, err := parseFieldRef(field)
	if err != nil {
		return nil, fmt.Errorf("'%s' is not a supported filter field", field)
	}
	if containsOp(unaryOps, comp) {
		return nil, fmt.Errorf("operator '%s' does not take a value", comp)
	}
	return &Binary{Left: f, Op: comp}, nil
}

// setExceptionValue sets one values entry on a check: a YAML list is a list
// literal; a scalar is a single value, parsed with the grammar of the
// operator (a list operator takes a list literal "(a, b)", a list name or
// a single item).
func setExceptionValue(b *Binary, v exceptionValue) error {
	switch {
	case v.isList:
		if !IsListOp(b.Op) {
			return fmt.Errorf("operator '%s' does not take a list of values", b.Op)
		}
		b.IsList, b.Values = true, []string{}
		for _, it := range v.items {
			b.Values = append(b.Values, literal(it.item))
		}
		return nil
	case IsListOp(b.Op) && (v.item == "" || v.item[0] != '('):
		b.IsList, b.Values = true, []string{literal(v.item)}
		return nil
	}
	if err := ParseValue(b, v.item); err != nil {
		// A value the grammar does not read as one token ("a b") is the
		// literal string, as Falco quotes it.
		if IsListOp(b.Op) {
			return err
		}
		b.Right, b.Values = nil, []string{v.item}
	}
	return nil
}
