package rules

import "strings"

// Node is a condition AST node. The concrete types are *And, *Or, *Not,
// *Ident (a macro reference), *Unary (field exists) and *Binary (field op
// value); String renders the node as libs' ast::as_string does, which is the
// "compiled condition" Falco prints and its tests compare.
type Node interface {
	Position() Pos
	String() string
}

// And is an n-ary conjunction, evaluated left to right with short-circuit.
type And struct {
	Children []Node
	P        Pos
}

// Or is an n-ary disjunction, evaluated left to right with short-circuit.
type Or struct {
	Children []Node
	P        Pos
}

// Not negates its child.
type Not struct {
	Child Node
	P     Pos
}

// Ident is a bare identifier: a macro reference until macros are resolved.
type Ident struct {
	Name string
	P    Pos
}

// FieldExpr is a field reference, possibly wrapped in transformers.
// Transformer is "" for a plain field; otherwise Inner is the transformed
// operand ("tolower(proc.name)" has Transformer "tolower" and Inner
// proc.name).
type FieldExpr struct {
	Transformer string
	Inner       *FieldExpr
	Name        string // field name, for a plain field
	Arg         string
	HasArg      bool
	P           Pos
}

// Unary is "field exists".
type Unary struct {
	Left *FieldExpr
	Op   string
	P    Pos
}

// Binary is "field op value". Exactly one of the right-hand forms is set:
// Values with IsList for a list literal "(a, b)", Values[0] for a single
// value, or Right for a field (val(x) or a transformer).
type Binary struct {
	Left   *FieldExpr
	Op     string
	Values []string
	IsList bool
	Right  *FieldExpr
	P      Pos
}

// Position implementations.
func (n *And) Position() Pos    { return n.P }
func (n *Or) Position() Pos     { return n.P }
func (n *Not) Position() Pos    { return n.P }
func (n *Ident) Position() Pos  { return n.P }
func (n *Unary) Position() Pos  { return n.P }
func (n *Binary) Position() Pos { return n.P }

func logical(op string, children []Node) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range children {
		if i > 0 {
			b.WriteString(" " + op + " ")
		}
		b.WriteString(c.String())
	}
	b.WriteByte(')')
	return b.String()
}

func (n *And) String() string   { return logical("and", n.Children) }
func (n *Or) String() string    { return logical("or", n.Children) }
func (n *Not) String() string   { return "not " + n.Child.String() }
func (n *Ident) String() string { return n.Name }

// String renders the field as written (transformers, [arg]).
func (f *FieldExpr) String() string {
	if f.Transformer != "" {
		return f.Transformer + "(" + f.Inner.String() + ")"
	}
	if f.Arg != "" {
		return f.Name + "[" + escapeStr(f.Arg) + "]"
	}
	return f.Name
}

// Base returns the innermost plain field.
func (f *FieldExpr) Base() *FieldExpr {
	for f.Transformer != "" {
		f = f.Inner
	}
	return f
}

func (n *Unary) String() string { return n.Left.String() + " " + n.Op }

func (n *Binary) String() string {
	s := n.Left.String() + " " + n.Op + " "
	switch {
	case n.Right != nil:
		return s + n.Right.String()
	case n.IsList:
		vals := make([]string, len(n.Values))
		for i, v := range n.Values {
			vals[i] = escapeStr(v)
		}
		return s + "(" + strings.Join(vals, ", ") + ")"
	default:
		return s + escapeStr(n.Values[0])
	}
}

// Walk calls fn for n and every descendant, parents first.
func Walk(n Node, fn func(Node)) {
	fn(n)
	switch x := n.(type) {
	case *And:
		for _, c := range x.Children {
			Walk(c, fn)
		}
	case *Or:
		for _, c := range x.Children {
			Walk(c, fn)
		}
	case *Not:
		Walk(x.Child, fn)
	}
}
