package rules

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/fields"
)

// Filter is a compiled condition. It must not retain ev.
type Filter func(ev *event.Event) bool

// FieldSet resolves the field references of one rule source.
type FieldSet interface {
	Resolve(name, arg string, hasArg bool) (fields.Resolved, error)
}

// syscallFields is the syscall source's field set: the fields registry.
type syscallFields struct{}

func (syscallFields) Resolve(name, arg string, hasArg bool) (fields.Resolved, error) {
	return fields.Resolve(name, arg, hasArg)
}

// fieldCompiler compiles conditions against one source's fields.
type fieldCompiler struct{ fields FieldSet }

// fieldsFor returns the field set rules of source compile against.
func (l *Loader) fieldsFor(source string) FieldSet {
	if fs, ok := l.cfg.Fields[source]; ok && source != "syscall" {
		return fs
	}
	return syscallFields{}
}

// compileNode compiles a syscall-source condition.
func compileNode(n Node) (Filter, error) { return fieldCompiler{syscallFields{}}.compileNode(n) }

// Rule is a compiled rule.
type Rule struct {
	Name, Desc, Output, Source string
	Priority                   alert.Priority
	Tags                       []string // sorted set
	Enabled                    bool
	// Loaded is false when the rule's priority is below the configured
	// minimum: it compiled but is not evaluated.
	Loaded bool
	// Condition is the compiled condition as libs prints it (lists and
	// macros expanded, exceptions appended).
	Condition string
	AST       Node
	Filter    Filter
	// EventTypes are the captured event types the rule can match, sorted.
	// AllEventTypes is set when the condition does not restrict evt.type.
	EventTypes      []event.Type
	AllEventTypes   bool
	ExceptionFields []string
	Capture         bool
	CaptureDuration int
	Index           int // definition order
	Loc             Location
}

// Ruleset is the result of compiling every loaded file.
type Ruleset struct {
	// Rules holds every compiled rule in definition order (including
	// disabled ones and ones below the minimum priority; see Enabled and
	// Loaded). Rules skipped for an unknown source or unknown filter with
	// skip-if-unknown-filter are absent.
	Rules []*Rule
	// Lists and Macros are the numbers of lists and macros defined.
	Lists, Macros int
	// DefinedRules is the number of rule names defined across the files.
	DefinedRules int
	Warnings     []Warning
}

// Compile compiles everything loaded so far. Like Falco, it reports every
// error of the load at once: the returned error is an Errors holding the
// files' errors (see Load) and each macro's or rule's compile error, in
// file order. The Ruleset, with the warnings collected, is returned even
// then; it lacks the rules that failed.
func (l *Loader) Compile() (*Ruleset, error) {
	c := &compileState{l: l, lists: map[string][]string{}, listUsed: map[string]bool{},
		macroAST: map[string]Node{}, macroBusy: map[string]bool{}, macroUsed: map[string]bool{},
		macroFailed: map[string]bool{}}
	rs := c.run()
	applySelection(rs, l.cfg.Selection)
	rs.Warnings = l.Warnings
	errs := append(append(Errors{}, l.errs...), c.errs...)
	if len(errs) > 0 {
		return rs, errs
	}
	return rs, nil
}

// LoadFiles loads the files in order and compiles them, reporting every
// error at once.
func LoadFiles(cfg Config, paths ...string) (*Ruleset, error) {
	l := NewLoader(cfg)
	for _, p := range paths {
		if err := l.LoadFile(p); err != nil && !errors.As(err, new(Errors)) {
			return &Ruleset{Warnings: l.Warnings}, err
		}
	}
	return l.Compile()
}

type compileState struct {
	l        *Loader
	lists    map[string][]string // expanded items
	listUsed map[string]bool
	macroAST map[string]Node
	// macroBusy detects reference loops; macroFailed marks macros whose
	// error is already reported, so rules using them are dropped quietly.
	macroBusy   map[string]bool
	macroUsed   map[string]bool
	macroFailed map[string]bool
	errs        Errors
}

// errReported drops an item whose cause is already in the errors.
var errReported = errors.New("already reported")

// fail records err unless it is already reported.
func (c *compileState) fail(err error) {
	if errors.Is(err, errReported) {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Msg: err.Error()}
	}
	c.errs = append(c.errs, e)
}

func (c *compileState) run() *Ruleset {
	l := c.l
	// Lists: an item naming an earlier-visible list is replaced by its items.
	for _, li := range l.lists {
		var items []string
		for _, it := range li.items {
			if ref, ok := l.listIdx[it]; ok && ref.index < li.visibility && ref != li {
				c.listUsed[ref.name] = true
				items = append(items, ref.items...)
				continue
			}
			items = append(items, it)
		}
		c.lists[li.name] = items
	}
	// Macros: parse all, then resolve references in order.
	parsed := map[string]Node{}
	for _, m := range l.macros {
		n, err := parseCondition(m.cond, m.condLoc)
		if err != nil {
			c.fail(err)
			c.macroFailed[m.name] = true
			continue
		}
		c.resolveLists(n)
		parsed[m.name] = n
	}
	for _, m := range l.macros {
		if _, err := c.resolveMacro(m, parsed); err != nil {
			c.fail(err)
		}
	}

	rs := &Ruleset{Lists: len(l.lists), Macros: len(l.macros), DefinedRules: len(l.rules)}
	for _, ri := range l.rules {
		if ri.unknownSource {
			continue
		}
		r, err := c.compileRule(ri)
		if err != nil {
			c.fail(err)
			continue
		}
		if r != nil {
			r.Index = len(rs.Rules)
			rs.Rules = append(rs.Rules, r)
		}
	}
	for _, m := range l.macros {
		if !c.macroUsed[m.name] {
			l.warn("LOAD_UNUSED_MACRO", m.loc, "Macro not referred to by any other rule/macro")
		}
	}
	for _, li := range l.lists {
		if !c.listUsed[li.name] {
			l.warn("LOAD_UNUSED_LIST", li.loc, "List not referred to by any other rule/macro")
		}
	}
	return rs
}

// parseCondition parses a macro's or rule's condition; a syntax error is
// reported at its place in the rules file.
func parseCondition(cond string, cl condLocation) (Node, error) {
	n, err := Parse(cond)
	var pe *ParseError
	if errors.As(err, &pe) {
		return nil, &Error{Loc: cl.at(pe.Pos), Msg: fmt.Sprintf("%s (in condition at %s: %q)", pe.Msg, pe.Pos, cond)}
	}
	return n, err
}

func (c *compileState) resolveMacro(m *macroInfo, parsed map[string]Node) (Node, error) {
	if n, ok := c.macroAST[m.name]; ok {
		return n, nil
	}
	if c.macroFailed[m.name] {
		return nil, errReported
	}
	if c.macroBusy[m.name] {
		return nil, &Error{Loc: m.loc, Msg: fmt.Sprintf("reference loop in macro '%s'", m.name)}
	}
	c.macroBusy[m.name] = true
	defer delete(c.macroBusy, m.name)
	n, err := c.expand(parsed[m.name], m.visibility, parsed, m.condLoc)
	if err != nil {
		if !errors.Is(err, errReported) {
			// Report it here, once; rules using the macro are dropped.
			c.fail(err)
		}
		c.macroFailed[m.name] = true
		return nil, errReported
	}
	c.macroAST[m.name] = n
	return n, nil
}

// expandAll expands each node of an and/or list.
func (c *compileState) expandAll(nodes []Node, visibility int, parsed map[string]Node, cl condLocation) ([]Node, error) {
	out := make([]Node, len(nodes))
	for i, n := range nodes {
		e, err := c.expand(n, visibility, parsed, cl)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// expand replaces macro references with the macros' resolved ASTs; only
// macros with an index below visibility may be referenced.
func (c *compileState) expand(n Node, visibility int, parsed map[string]Node, cl condLocation) (Node, error) {
	switch x := n.(type) {
	case *And:
		ch, err := c.expandAll(x.Children, visibility, parsed, cl)
		if err != nil {
			return nil, err
		}
		return &And{P: x.P, Children: ch}, nil
	case *Or:
		ch, err := c.expandAll(x.Children, visibility, parsed, cl)
		if err != nil {
			return nil, err
		}
		return &Or{P: x.P, Children: ch}, nil
	case *Not:
		e, err := c.expand(x.Child, visibility, parsed, cl)
		if err != nil {
			return nil, err
		}
		return &Not{Child: e, P: x.P}, nil
	case *Ident:
		m, ok := c.l.macroIdx[x.Name]
		if !ok || m.index >= visibility {
			return nil, &Error{Loc: cl.at(x.P), Msg: fmt.Sprintf("Undefined macro '%s' used in filter.", x.Name)}
		}
		c.macroUsed[x.Name] = true
		return c.resolveMacro(m, parsed)
	}
	return n, nil
}

// errUnknown marks errors skip-if-unknown-filter turns into warnings.
type errUnknown struct{ msg string }

func (e *errUnknown) Error() string { return e.msg }

func (c *compileState) compileRule(ri *ruleInfo) (*Rule, error) {
	output := ri.output
	if strings.Contains(output, "%container.info") {
		c.l.warn("LOAD_DEPRECATED_ITEM", ri.loc, "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The container plugin will automatically add required fields to the output message.")
		output = strings.ReplaceAll(output, "%container.info", "")
	}
	fc := fieldCompiler{c.l.fieldsFor(ri.source)}
	if err := fc.validateOutput(output); err != nil {
		if ri.skipUnknown {
			c.l.warn("LOAD_UNKNOWN_FILTER", ri.outputLoc, err.Error())
			return nil, nil
		}
		return nil, &Error{Loc: ri.outputLoc, Msg: err.Error()}
	}
	n, err := parseCondition(ri.cond, ri.condLoc)
	if err != nil {
		return nil, err
	}
	n, exFields, err := withExceptions(n, ri.exceptions)
	if err != nil {
		return nil, err
	}
	c.resolveLists(n)
	n, err = c.expand(n, 1<<30, nil, ri.condLoc)
	if err != nil {
		return nil, err
	}
	f, err := fc.compileNode(n)
	if err != nil {
		loc := ri.condLoc.loc
		msg := err.Error()
		if ce := (*compileError)(nil); errors.As(err, &ce) {
			msg = ce.msg
			if errors.As(ce.err, new(*errUnknown)) && ri.skipUnknown {
				c.l.warn("LOAD_UNKNOWN_FILTER", loc, msg)
				return nil, nil
			}
		}
		return nil, &Error{Loc: loc, Msg: msg}
	}
	if usesField(n, "evt.dir") {
		c.l.warn("LOAD_DEPRECATED_ITEM", ri.condLoc.loc, "usage of deprecated field 'evt.dir' has been detected in the rule condition")
	}
	if strings.Contains(output, "%evt.dir") {
		c.l.warn("LOAD_DEPRECATED_ITEM", ri.outputLoc, "usage of deprecated field 'evt.dir' has been detected in the rule output")
	}
	types, all := EventTypesOf(n)
	if all && ri.warnEvttypes && ri.source == "syscall" {
		c.l.warn("LOAD_NO_EVTTYPE", ri.loc, "Rule matches too many evt.type values. This has a significant performance penalty.")
	}
	r := &Rule{
		Name: ri.name, Desc: ri.desc, Output: output, Source: ri.source,
		Priority: ri.priority, Tags: sortedTags(ri.tags), Enabled: ri.enabled,
		Loaded:    c.l.cfg.MinPriority == alert.PriorityUnset || ri.priority >= c.l.cfg.MinPriority,
		Condition: n.String(), AST: n, Filter: f,
		EventTypes: types, AllEventTypes: all, ExceptionFields: exFields,
		Capture: ri.capture, CaptureDuration: ri.captureDuration, Loc: ri.loc,
	}
	return r, nil
}

// usesField reports whether the condition references the field.
func usesField(n Node, name string) bool {
	found := false
	Walk(n, func(x Node) {
		switch c := x.(type) {
		case *Binary:
			found = found || c.Left.Base().Name == name || c.Right != nil && c.Right.Base().Name == name
		case *Unary:
			found = found || c.Left.Base().Name == name
		}
	})
	return found
}

// validateOutput checks that every %field of an output resolves.
func (fc fieldCompiler) validateOutput(out string) error {
	for i := 0; i < len(out); i++ {
		if out[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(out) && (isIdentChar(out[j]) || out[j] == '.') {
			j++
		}
		name := strings.TrimRight(out[i+1:j], ".")
		if name == "" || !strings.Contains(name, ".") {
			continue
		}
		arg, hasArg := "", false
		if j < len(out) && out[j] == '[' {
			if k := strings.IndexByte(out[j:], ']'); k > 0 {
				arg, hasArg = out[j+1:j+k], true
			}
		}
		if _, err := fc.fields.Resolve(name, arg, hasArg); err != nil {
			return &errUnknown{msg: fmt.Sprintf("invalid formatting token %%%s: %v", name, err)}
		}
	}
	return nil
}

// compileError carries the AST position of a compile failure.
type compileError struct {
	msg string
	pos Pos
	err error
}

func (e *compileError) Error() string { return e.msg }

func cerr(n Node, err error) error {
	if errors.As(err, new(*compileError)) {
		return err
	}
	return &compileError{msg: err.Error(), pos: n.Position(), err: err}
}

// compileNode compiles an expanded AST (no macro references) to a Filter.
func (fc fieldCompiler) compileNode(n Node) (Filter, error) {
	switch x := n.(type) {
	case *And:
		fs, err := fc.compileChildren(x.Children)
		if err != nil {
			return nil, err
		}
		if len(fs) == 2 {
			a, b := fs[0], fs[1]
			return func(ev *event.Event) bool { return a(ev) && b(ev) }, nil
		}
		return func(ev *event.Event) bool {
			for _, f := range fs {
				if !f(ev) {
					return false
				}
			}
			return true
		}, nil
	case *Or:
		fs, err := fc.compileChildren(x.Children)
		if err != nil {
			return nil, err
		}
		if len(fs) == 2 {
			a, b := fs[0], fs[1]
			return func(ev *event.Event) bool { return a(ev) || b(ev) }, nil
		}
		return func(ev *event.Event) bool {
			for _, f := range fs {
				if f(ev) {
					return true
				}
			}
			return false
		}, nil
	case *Not:
		f, err := fc.compileNode(x.Child)
		if err != nil {
			return nil, err
		}
		return func(ev *event.Event) bool { return !f(ev) }, nil
	case *Ident:
		return nil, cerr(n, fmt.Errorf("Undefined macro '%s' used in filter.", x.Name))
	case *Unary:
		g, err := fc.compileOperand(x.Left, false)
		if err != nil {
			return nil, cerr(n, err)
		}
		if str := g.str; str != nil {
			return func(ev *event.Event) bool { _, ok := str(ev); return ok }, nil
		}
		if num := g.num; num != nil {
			return func(ev *event.Event) bool { _, ok := num(ev); return ok }, nil
		}
		if ip := g.ip; ip != nil {
			return func(ev *event.Event) bool { _, ok := ip(ev); return ok }, nil
		}
		ex := g.ex
		return func(ev *event.Event) bool {
			v, ok := ex(ev)
			return ok && (!v.IsList || len(v.List) > 0)
		}, nil
	case *Binary:
		f, err := fc.compileBinary(x)
		if err != nil {
			return nil, cerr(n, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("unexpected node %T", n)
}

func (fc fieldCompiler) compileChildren(ns []Node) ([]Filter, error) {
	fs := make([]Filter, len(ns))
	for i, c := range ns {
		f, err := fc.compileNode(c)
		if err != nil {
			return nil, err
		}
		fs[i] = f
	}
	return fs, nil
}

// operand is a compiled field or transformer.
type operand struct {
	ex  fields.Extractor
	typ fields.Type
	// name is the field name (for evt.type special-casing).
	name string
	// list marks a plugin list field (fields.Resolved.List).
	list bool
	// str, num and ip are the field's scalar fast paths
	// (fields.Resolved.Str, .Num, .IP), nil for transformers and
	// list-valued fields.
	str fields.StrFunc
	num fields.NumFunc
	ip  fields.IPFunc
}

func isStringType(t fields.Type) bool { return t == fields.String || t == fields.Bytes }

func isNumericType(t fields.Type) bool { return t.Numeric() }

func (fc fieldCompiler) compileOperand(f *FieldExpr, rhs bool) (operand, error) {
	if f.Transformer == "" {
		r, err := fc.fields.Resolve(f.Name, f.Arg, f.HasArg)
		if err != nil {
			return operand{}, &errUnknown{msg: fmt.Sprintf("filter_check called with nonexistent field %s", f.Name)}
		}
		return operand{ex: r.Extract, typ: r.Type, name: r.Field.Name, list: r.List, str: r.Str, num: r.Num, ip: r.IP}, nil
	}
	inner, err := fc.compileOperand(f.Inner, rhs)
	if err != nil {
		return operand{}, err
	}
	if f.Transformer == "val" {
		if !rhs {
			return operand{}, fmt.Errorf("'val' transformer is only allowed on the right-hand side")
		}
		return inner, nil
	}
	ex := inner.ex
	switch f.Transformer {
	case "tolower", "toupper":
		if !isStringType(inner.typ) {
			return operand{}, fmt.Errorf("field transformer '%s' is not supported on field type %s", f.Transformer, inner.typ)
		}
		conv := strings.ToLower
		if f.Transformer == "toupper" {
			conv = strings.ToUpper
		}
		return operand{typ: fields.String, ex: mapStrings(ex, conv)}, nil
	case "b64":
		if !isStringType(inner.typ) {
			return operand{}, fmt.Errorf("field transformer 'b64' is not supported on field type %s", inner.typ)
		}
		return operand{typ: fields.String, ex: func(ev *event.Event) (fields.Value, bool) {
			v, ok := ex(ev)
			if !ok || v.IsList {
				return fields.Value{}, false
			}
			d, err := base64.StdEncoding.DecodeString(valueString(v))
			if err != nil {
				return fields.Value{}, false
			}
			return fields.Value{S: string(d)}, true
		}}, nil
	case "basename":
		if !isStringType(inner.typ) {
			return operand{}, fmt.Errorf("field transformer 'basename' is not supported on field type %s", inner.typ)
		}
		base := func(s string) string {
			if i := strings.LastIndexByte(s, '/'); i >= 0 {
				return s[i+1:]
			}
			return s
		}
		return operand{typ: fields.String, ex: mapStrings(ex, base)}, nil
	case "len":
		return operand{typ: fields.Uint64, ex: func(ev *event.Event) (fields.Value, bool) {
			v, ok := ex(ev)
			if !ok {
				return v, false
			}
			switch {
			case v.IsList:
				return fields.Value{N: int64(len(v.List))}, true
			case v.B != nil:
				return fields.Value{N: int64(len(v.B))}, true
			}
			return fields.Value{N: int64(len(v.S))}, true
		}}, nil
	}
	return operand{}, fmt.Errorf("unknown field transformer '%s'", f.Transformer)
}

// valueString returns a string-typed value's text without copying bytes.
func valueString(v fields.Value) string {
	if v.B != nil && v.S == "" {
		return unsafe.String(unsafe.SliceData(v.B), len(v.B))
	}
	return v.S
}

// eitherEnd maps Falco's filter-only "either end" fields to their client
// and server fields: "fd.ip = X" matches when either end matches, so it is
// compiled as "fd.cip = X or fd.sip = X", which extracts without building a
// list per event.
var eitherEnd = map[string][2]string{
	"fd.ip":    {"fd.cip", "fd.sip"},
	"fd.net":   {"fd.cnet", "fd.snet"},
	"fd.port":  {"fd.cport", "fd.sport"},
	"fd.proto": {"fd.cproto", "fd.sproto"},
}

func (fc fieldCompiler) compileBinary(b *Binary) (Filter, error) {
	if ends, ok := eitherEnd[b.Left.Name]; ok && b.Left.Transformer == "" && !b.Left.HasArg {
		if _, err1 := fc.fields.Resolve(ends[0], "", false); err1 == nil {
			if _, err2 := fc.fields.Resolve(ends[1], "", false); err2 == nil {
				c, s := *b, *b
				c.Left = &FieldExpr{Name: ends[0], P: b.Left.P}
				s.Left = &FieldExpr{Name: ends[1], P: b.Left.P}
				fcl, err := fc.compileBinary(&c)
				if err != nil {
					return nil, err
				}
				fs, err := fc.compileBinary(&s)
				if err != nil {
					return nil, err
				}
				return func(ev *event.Event) bool { return fcl(ev) || fs(ev) }, nil
			}
		}
	}
	left, err := fc.compileOperand(b.Left, false)
	if err != nil {
		return nil, err
	}
	if left.list && b.Op == "in" && b.Right == nil {
		return allInFilter(left.ex, b.Values), nil
	}
	if b.Right != nil {
		right, err := fc.compileOperand(b.Right, true)
		if err != nil {
			return nil, err
		}
		return compileFieldCompare(left, b.Op, right)
	}
	if left.name == "evt.type" && b.Left.Transformer == "" {
		if f, ok, err := compileEvtType(b); ok || err != nil {
			return f, err
		}
	}
	switch {
	case left.str != nil:
		return scalarStringFilter(left.str, b)
	case left.num != nil && left.typ != fields.Flags:
		return scalarNumFilter(left.num, left.typ, b)
	case isStringType(left.typ):
		if f := fastStringFilter(left.ex, b); f != nil {
			return f, nil
		}
		m, err := stringMatcher(b.Op, b.Values, b.IsList)
		if err != nil {
			return nil, err
		}
		return stringFilter(left.ex, m), nil
	case left.typ == fields.Flags:
		// Flags carry both the raw bits (N) and their names (S): numeric
		// comparisons use the bits, string operators and names the text.
		if m, err := numMatcher(left.typ, b.Op, b.Values); err == nil {
			return numFilter(left.ex, m), nil
		}
		m, err := stringMatcher(b.Op, b.Values, b.IsList)
		if err != nil {
			return nil, err
		}
		return stringFilter(left.ex, m), nil
	case isNumericType(left.typ):
		m, err := numMatcher(left.typ, b.Op, b.Values)
		if err != nil {
			return nil, err
		}
		return numFilter(left.ex, m), nil
	case left.typ == fields.Double:
		m, err := floatMatcher(b.Op, b.Values)
		if err != nil {
			return nil, err
		}
		ex := left.ex
		return func(ev *event.Event) bool { v, ok := ex(ev); return ok && m(v.F) }, nil
	case left.typ == fields.IPAddr || left.typ == fields.IPNet:
		m, err := ipMatcher(b.Op, b.Values)
		if err != nil {
			return nil, err
		}
		if get := left.ip; get != nil {
			return func(ev *event.Event) bool { a, ok := get(ev); return ok && m(a.Unmap()) }, nil
		}
		return ipFilter(left.ex, m), nil
	}
	return nil, fmt.Errorf("unsupported field type %s", left.typ)
}

// fastStringFilter compiles the most common string checks (=, !=, in over
// a set, startswith, endswith, contains) with the comparison inlined, saving
// an indirect call per evaluation; nil when not applicable.
func fastStringFilter(ex fields.Extractor, b *Binary) Filter {
	if b.Right != nil || len(b.Values) == 0 {
		return nil
	}
	single := !b.IsList && len(b.Values) == 1
	v := b.Values[0]
	var cmp func(s string) bool
	switch {
	case (b.Op == "=" || b.Op == "==") && single:
		return func(ev *event.Event) bool {
			x, ok := ex(ev)
			if !ok {
				return false
			}
			if x.IsList {
				for _, s := range x.List {
					if s == v {
						return true
					}
				}
				return false
			}
			return valueString(x) == v
		}
	case b.Op == "!=" && single:
		cmp = func(s string) bool { return s != v }
	case (b.Op == "in" || b.Op == "intersects") && len(b.Values) > 8:
		set := make(map[string]struct{}, len(b.Values))
		for _, x := range b.Values {
			set[x] = struct{}{}
		}
		return func(ev *event.Event) bool {
			x, ok := ex(ev)
			if !ok {
				return false
			}
			if x.IsList {
				for _, s := range x.List {
					if _, hit := set[s]; hit {
						return true
					}
				}
				return false
			}
			_, hit := set[valueString(x)]
			return hit
		}
	case b.Op == "startswith" && single:
		return func(ev *event.Event) bool {
			x, ok := ex(ev)
			if !ok {
				return false
			}
			if x.IsList {
				for _, s := range x.List {
					if strings.HasPrefix(s, v) {
						return true
					}
				}
				return false
			}
			return strings.HasPrefix(valueString(x), v)
		}
	}
	if cmp == nil {
		return nil
	}
	return stringFilter(ex, cmp)
}

// scalarStringFilter compiles a comparison of a scalar string field with
// constants over the field's StrFunc: the value comes back in registers,
// and the commonest operators are inlined.
func scalarStringFilter(get fields.StrFunc, b *Binary) (Filter, error) {
	if len(b.Values) == 1 && !b.IsList {
		v := b.Values[0]
		switch b.Op {
		case "=", "==":
			return func(ev *event.Event) bool { s, ok := get(ev); return ok && s == v }, nil
		case "!=":
			return func(ev *event.Event) bool { s, ok := get(ev); return ok && s != v }, nil
		case "startswith":
			return func(ev *event.Event) bool { s, ok := get(ev); return ok && strings.HasPrefix(s, v) }, nil
		case "endswith":
			return func(ev *event.Event) bool { s, ok := get(ev); return ok && strings.HasSuffix(s, v) }, nil
		case "contains":
			return func(ev *event.Event) bool { s, ok := get(ev); return ok && strings.Contains(s, v) }, nil
		}
	}
	if (b.Op == "in" || b.Op == "intersects") && len(b.Values) > 0 && len(b.Values) <= 8 {
		vs := append([]string(nil), b.Values...)
		return func(ev *event.Event) bool {
			s, ok := get(ev)
			if !ok {
				return false
			}
			for _, v := range vs {
				if s == v {
					return true
				}
			}
			return false
		}, nil
	}
	m, err := stringMatcher(b.Op, b.Values, b.IsList)
	if err != nil {
		return nil, err
	}
	return func(ev *event.Event) bool { s, ok := get(ev); return ok && m(s) }, nil
}

// scalarNumFilter is scalarStringFilter for numeric fields.
func scalarNumFilter(get fields.NumFunc, t fields.Type, b *Binary) (Filter, error) {
	m, err := numMatcher(t, b.Op, b.Values)
	if err != nil {
		return nil, err
	}
	if len(b.Values) == 1 && !b.IsList {
		// Validated by numMatcher above.
		v, _ := parseNum(t, b.Values[0])
		switch b.Op {
		case "=", "==":
			return func(ev *event.Event) bool { n, ok := get(ev); return ok && n == v }, nil
		case "!=":
			return func(ev *event.Event) bool { n, ok := get(ev); return ok && n != v }, nil
		case ">=":
			return func(ev *event.Event) bool { n, ok := get(ev); return ok && n >= v }, nil
		}
	}
	return func(ev *event.Event) bool { n, ok := get(ev); return ok && m(n) }, nil
}

// allInFilter is "in" on a plugin list field: as Falco does for
// EPF_IS_LIST fields, it holds when every element is in the set.
func allInFilter(ex fields.Extractor, vals []string) Filter {
	in := stringSet(vals)
	return func(ev *event.Event) bool {
		v, ok := ex(ev)
		if !ok {
			return false
		}
		if !v.IsList {
			return in(valueString(v))
		}
		for _, s := range v.List {
			if !in(s) {
				return false
			}
		}
		return true
	}
}

func stringFilter(ex fields.Extractor, m func(string) bool) Filter {
	return func(ev *event.Event) bool {
		v, ok := ex(ev)
		if !ok {
			return false
		}
		if v.IsList {
			for _, s := range v.List {
				if m(s) {
					return true
				}
			}
			return false
		}
		return m(valueString(v))
	}
}

func numFilter(ex fields.Extractor, m func(int64) bool) Filter {
	return func(ev *event.Event) bool {
		v, ok := ex(ev)
		if !ok {
			return false
		}
		if v.IsList {
			for _, s := range v.List {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil && m(n) {
					return true
				}
			}
			return false
		}
		// Either-end fields (fd.port) match on the client or server end.
		return m(v.N) || v.Either && m(v.N2)
	}
}

// valueAddr reads an IP value: IP, else 4 or 16 raw bytes in B, else text
// in S.
func valueAddr(v fields.Value) (netip.Addr, bool) {
	if v.IP.IsValid() {
		return v.IP.Unmap(), true
	}
	if len(v.B) == 4 || len(v.B) == 16 {
		a, ok := netip.AddrFromSlice(v.B)
		return a.Unmap(), ok
	}
	a, err := netip.ParseAddr(v.S)
	return a.Unmap(), err == nil
}

func ipFilter(ex fields.Extractor, m func(netip.Addr) bool) Filter {
	return func(ev *event.Event) bool {
		v, ok := ex(ev)
		if !ok {
			return false
		}
		if v.IsList {
			for _, s := range v.List {
				if a, err := netip.ParseAddr(s); err == nil && m(a.Unmap()) {
					return true
				}
			}
			return false
		}
		if a, ok := valueAddr(v); ok && m(a) {
			return true
		}
		// Either-end fields (fd.ip, fd.net) match on the client or server end.
		return v.Either && v.IP2.IsValid() && m(v.IP2.Unmap())
	}
}

func opError(op string, t fields.Type) error {
	return fmt.Errorf("operator '%s' is not supported on field type %s", op, t)
}

func single(op string, vals []string, isList bool) (string, error) {
	if isList || len(vals) != 1 {
		return "", fmt.Errorf("operator '%s' requires a single value", op)
	}
	return vals[0], nil
}

func stringMatcher(op string, vals []string, isList bool) (func(string) bool, error) {
	switch op {
	case "in", "intersects":
		return stringSet(vals), nil
	case "pmatch":
		t := newPathTrie(vals)
		return t.match, nil
	}
	v, err := single(op, vals, isList)
	if err != nil {
		return nil, err
	}
	if f := compare(op, v); f != nil {
		return f, nil
	}
	switch op {
	case "contains":
		return func(s string) bool { return strings.Contains(s, v) }, nil
	case "icontains":
		lv := strings.ToLower(v)
		return func(s string) bool { return containsFoldASCII(s, lv) }, nil
	case "startswith":
		return func(s string) bool { return strings.HasPrefix(s, v) }, nil
	case "endswith":
		return func(s string) bool { return strings.HasSuffix(s, v) }, nil
	case "bcontains", "bstartswith":
		raw, err := hex.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%s requires a hexadecimal string: '%s'", op, v)
		}
		needle := string(raw)
		if op == "bcontains" {
			return func(s string) bool { return strings.Contains(s, needle) }, nil
		}
		return func(s string) bool { return strings.HasPrefix(s, needle) }, nil
	case "glob":
		return func(s string) bool { return globMatch(v, s, false) }, nil
	case "iglob":
		return func(s string) bool { return globMatch(v, s, true) }, nil
	case "regex":
		re, err := regexp.Compile(`^(?:` + v + `)$`)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression '%s': %v", v, err)
		}
		return re.MatchString, nil
	}
	return nil, opError(op, fields.String)
}

// stringSet matches membership; small sets scan, large ones use a map.
func stringSet(vals []string) func(string) bool {
	if len(vals) <= 8 {
		vs := append([]string(nil), vals...)
		return func(s string) bool {
			for _, v := range vs {
				if s == v {
					return true
				}
			}
			return false
		}
	}
	set := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		set[v] = struct{}{}
	}
	return func(s string) bool { _, ok := set[s]; return ok }
}

// containsFoldASCII reports whether s contains lower (already lowercase),
// ignoring ASCII case, like strcasestr.
func containsFoldASCII(s, lower string) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

func parseNum(t fields.Type, s string) (int64, error) {
	switch t {
	case fields.Bool:
		switch s {
		case "true":
			return 1, nil
		case "false":
			return 0, nil
		}
		return 0, fmt.Errorf("could not parse '%s' as a boolean (true or false)", s)
	case fields.Port:
		if p, ok := servicePorts[s]; ok {
			return int64(p), nil
		}
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		if u, err := strconv.ParseUint(s[2:], 16, 64); err == nil {
			return int64(u), nil
		}
	} else if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	} else if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return int64(u), nil
	}
	return 0, fmt.Errorf("could not parse '%s' as a number for a field of type %s", s, t)
}

// servicePorts resolves service names a port RHS may use (/etc/services).
var servicePorts = map[string]uint16{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53, "http": 80,
	"pop3": 110, "ntp": 123, "imap": 143, "snmp": 161, "ldap": 389, "https": 443,
	"smtps": 465, "submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995,
	"mysql": 3306, "postgresql": 5432, "redis": 6379, "http-alt": 8080,
}

func numMatcher(t fields.Type, op string, vals []string) (func(int64) bool, error) {
	nums := make([]int64, len(vals))
	for i, s := range vals {
		n, err := parseNum(t, s)
		if err != nil {
			return nil, err
		}
		nums[i] = n
	}
	switch op {
	case "in", "intersects":
		if len(nums) > 8 {
			set := make(map[int64]struct{}, len(nums))
			for _, n := range nums {
				set[n] = struct{}{}
			}
			return func(x int64) bool { _, ok := set[x]; return ok }, nil
		}
		return func(x int64) bool {
			for _, n := range nums {
				if x == n {
					return true
				}
			}
			return false
		}, nil
	}
	if len(nums) != 1 {
		return nil, fmt.Errorf("operator '%s' requires a single value", op)
	}
	v := nums[0]
	if t == fields.Bool && op != "=" && op != "==" && op != "!=" {
		return nil, opError(op, t)
	}
	if f := compare(op, v); f != nil {
		return f, nil
	}
	return nil, opError(op, t)
}

// floatMatcher compares a Double field with decimal constants.
func floatMatcher(op string, vals []string) (func(float64) bool, error) {
	nums := make([]float64, len(vals))
	for i, s := range vals {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("could not parse '%s' as a number for a field of type %s", s, fields.Double)
		}
		nums[i] = f
	}
	if op == "in" || op == "intersects" {
		return func(x float64) bool { return slices.Contains(nums, x) }, nil
	}
	if len(nums) != 1 {
		return nil, fmt.Errorf("operator '%s' requires a single value", op)
	}
	if f := compare(op, nums[0]); f != nil {
		return f, nil
	}
	return nil, opError(op, fields.Double)
}

func ipMatcher(op string, vals []string) (func(netip.Addr) bool, error) {
	var prefixes []netip.Prefix
	for _, s := range vals {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("could not parse '%s' as an IP network", s)
			}
			prefixes = append(prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("could not parse '%s' as an IP address", s)
		}
		a = a.Unmap()
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	anyOf := func(a netip.Addr) bool {
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	switch op {
	case "in", "intersects", "=", "==":
		if (op == "=" || op == "==") && len(prefixes) != 1 {
			return nil, fmt.Errorf("operator '%s' requires a single value", op)
		}
		return anyOf, nil
	case "!=":
		if len(prefixes) != 1 {
			return nil, fmt.Errorf("operator '!=' requires a single value")
		}
		return func(a netip.Addr) bool { return !anyOf(a) }, nil
	}
	return nil, opError(op, fields.IPAddr)
}

func compileFieldCompare(left operand, op string, right operand) (Filter, error) {
	lex, rex := left.ex, right.ex
	switch {
	case isStringType(left.typ):
		var cmp func(a, b string) bool
		switch op {
		case "=", "==", "in", "intersects":
			cmp = func(a, b string) bool { return a == b }
		case "!=":
			cmp = func(a, b string) bool { return a != b }
		case "contains":
			cmp = strings.Contains
		case "startswith":
			cmp = strings.HasPrefix
		case "endswith":
			cmp = strings.HasSuffix
		case "icontains":
			cmp = func(a, b string) bool { return strings.Contains(strings.ToLower(a), strings.ToLower(b)) }
		case "glob":
			cmp = func(a, b string) bool { return globMatch(b, a, false) }
		case "iglob":
			cmp = func(a, b string) bool { return globMatch(b, a, true) }
		case "<":
			cmp = func(a, b string) bool { return a < b }
		case "<=":
			cmp = func(a, b string) bool { return a <= b }
		case ">":
			cmp = func(a, b string) bool { return a > b }
		case ">=":
			cmp = func(a, b string) bool { return a >= b }
		default:
			return nil, fmt.Errorf("operator '%s' does not support a field right-hand side", op)
		}
		return func(ev *event.Event) bool {
			lv, ok := lex(ev)
			if !ok {
				return false
			}
			rv, ok := rex(ev)
			if !ok {
				return false
			}
			r := valueString(rv)
			if lv.IsList {
				for _, s := range lv.List {
					if cmp(s, r) {
						return true
					}
				}
				return false
			}
			return cmp(valueString(lv), r)
		}, nil
	case isNumericType(left.typ):
		var cmp func(a, b int64) bool
		switch op {
		case "=", "==", "in", "intersects":
			cmp = func(a, b int64) bool { return a == b }
		case "!=":
			cmp = func(a, b int64) bool { return a != b }
		case "<":
			cmp = func(a, b int64) bool { return a < b }
		case "<=":
			cmp = func(a, b int64) bool { return a <= b }
		case ">":
			cmp = func(a, b int64) bool { return a > b }
		case ">=":
			cmp = func(a, b int64) bool { return a >= b }
		default:
			return nil, opError(op, left.typ)
		}
		return func(ev *event.Event) bool {
			lv, ok := lex(ev)
			if !ok {
				return false
			}
			rv, ok := rex(ev)
			if !ok {
				return false
			}
			return cmp(lv.N, rv.N)
		}, nil
	}
	return nil, opError(op, left.typ)
}

// Event types.

// extraEventNames are Falco event names that are not syscalls.
var extraEventNames = []string{"container", "procexit", "signaldeliver", "switch", "pluginevent",
	"asyncevent", "procinfo", "drop", "cpu_hotplug", "infra", "k8s", "tracer", "mesos",
	"notification", "page_fault", "sysdigevent", "scapevent", "meta"}

var knownEventNames = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range linuxSyscalls {
		m[s] = true
	}
	for _, s := range extraEventNames {
		m[s] = true
	}
	return m
}()

// typeSet is a bitset over event.Type.
type typeSet [(event.NumTypes + 63) / 64]uint64

func (s *typeSet) add(t event.Type)      { s[t/64] |= 1 << (t % 64) }
func (s *typeSet) has(t event.Type) bool { return s[t/64]&(1<<(t%64)) != 0 }

// Event-type analysis runs over every event name Falco knows (syscalls and
// non-syscall events), so that "evt.type != openat" counts as matching
// hundreds of types as it does in Falco (for the warning), while the index
// only keeps the types Saker captures.
var eventNames, eventNameIdx = func() ([]string, map[string]int) {
	set := map[string]bool{}
	for n := range knownEventNames {
		set[n] = true
	}
	for t := event.Type(1); t < event.NumTypes; t++ {
		set[t.String()] = true
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	idx := make(map[string]int, len(names))
	for i, n := range names {
		idx[n] = i
	}
	return names, idx
}()

// nameSet is a bitset over eventNames.
type nameSet []uint64

func newNameSet() nameSet { return make(nameSet, (len(eventNames)+63)/64) }

func fullNameSet() nameSet {
	s := newNameSet()
	for i := range eventNames {
		s[i/64] |= 1 << (i % 64)
	}
	return s
}

func (s nameSet) not() nameSet {
	out := fullNameSet()
	for i := range s {
		out[i] &^= s[i]
	}
	return out
}

func (s nameSet) and(o nameSet) nameSet {
	out := newNameSet()
	for i := range s {
		out[i] = s[i] & o[i]
	}
	return out
}

func (s nameSet) or(o nameSet) nameSet {
	out := newNameSet()
	for i := range s {
		out[i] = s[i] | o[i]
	}
	return out
}

func (s nameSet) count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// evtTypeValues validates evt.type values and returns the captured ones.
func evtTypeValues(vals []string) (typeSet, error) {
	var s typeSet
	for _, v := range vals {
		if t, ok := event.TypeByName(v); ok {
			s.add(t)
			continue
		}
		if !knownEventNames[v] {
			return s, &errUnknown{msg: fmt.Sprintf("unknown event type %s", v)}
		}
	}
	return s, nil
}

// compileEvtType compiles evt.type =/!=/in checks to bitset tests.
func compileEvtType(b *Binary) (Filter, bool, error) {
	switch b.Op {
	case "=", "==", "!=", "in", "intersects":
	default:
		return nil, false, nil
	}
	if (b.Op == "=" || b.Op == "==" || b.Op == "!=") && (b.IsList || len(b.Values) != 1) {
		return nil, true, fmt.Errorf("operator '%s' requires a single value", b.Op)
	}
	s, err := evtTypeValues(b.Values)
	if err != nil {
		return nil, true, err
	}
	if b.Op == "!=" {
		return func(ev *event.Event) bool { return ev.Type < event.NumTypes && !s.has(ev.Type) }, true, nil
	}
	return func(ev *event.Event) bool { return ev.Type < event.NumTypes && s.has(ev.Type) }, true, nil
}

// EventTypesOf returns the captured event types an expanded condition can
// match, as libs' ppm_event_codes computes them; all is true when the
// condition matches no event type or more than 100 of the event types Falco
// knows (the case Falco warns about: "Rule matches too many evt.type
// values").
func EventTypesOf(n Node) (types []event.Type, all bool) {
	s := evtTypes(n, false)
	for t := event.Type(1); t < event.NumTypes; t++ {
		i := eventNameIdx[t.String()]
		if s[i/64]&(1<<(i%64)) != 0 {
			types = append(types, t)
		}
	}
	c := s.count()
	return types, c == 0 || c > 100
}

func namesOf(vals []string) (nameSet, bool) {
	s := newNameSet()
	for _, v := range vals {
		i, ok := eventNameIdx[v]
		if !ok {
			return nil, false
		}
		s[i/64] |= 1 << (i % 64)
	}
	return s, true
}

func evtTypes(n Node, inverted bool) nameSet {
	switch x := n.(type) {
	case *And, *Or:
		var children []Node
		isAnd := false
		if a, ok := x.(*And); ok {
			children, isAnd = a.Children, true
		} else {
			children = x.(*Or).Children
		}
		// De Morgan: under negation and becomes or.
		if inverted {
			isAnd = !isAnd
		}
		var acc nameSet
		for i, c := range children {
			cs := evtTypes(c, inverted)
			switch {
			case i == 0:
				acc = cs
			case isAnd:
				acc = acc.and(cs)
			default:
				acc = acc.or(cs)
			}
		}
		return acc
	case *Not:
		return evtTypes(x.Child, !inverted)
	case *Binary:
		if x.Left.Transformer == "" && x.Left.Name == "evt.type" && x.Right == nil {
			s, ok := namesOf(x.Values)
			if !ok {
				return fullNameSet()
			}
			switch x.Op {
			case "=", "==", "in", "intersects":
				if inverted {
					return s.not()
				}
				return s
			case "!=":
				if inverted {
					return s
				}
				return s.not()
			}
		}
	}
	return fullNameSet()
}

// mapStrings wraps an extractor with a string transformer applied to a
// single value or to every element of a list value.
func mapStrings(ex fields.Extractor, conv func(string) string) fields.Extractor {
	return func(ev *event.Event) (fields.Value, bool) {
		v, ok := ex(ev)
		if !ok {
			return v, false
		}
		if v.IsList {
			l := make([]string, len(v.List))
			for i, s := range v.List {
				l[i] = conv(s)
			}
			return fields.Value{List: l, IsList: true}, true
		}
		return fields.Value{S: conv(valueString(v))}, true
	}
}

// compare returns the comparison operator op against v, or nil when op is
// not one of = == != < <= > >=.
func compare[T cmp.Ordered](op string, v T) func(T) bool {
	switch op {
	case "=", "==":
		return func(x T) bool { return x == v }
	case "!=":
		return func(x T) bool { return x != v }
	case "<":
		return func(x T) bool { return x < v }
	case "<=":
		return func(x T) bool { return x <= v }
	case ">":
		return func(x T) bool { return x > v }
	case ">=":
		return func(x T) bool { return x >= v }
	}
	return nil
}
