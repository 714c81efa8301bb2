package rules

import (
	"strings"
)

// maxDepth bounds recursion like libs' depth guard (Falco's rule loader sets
// 1000 for rule conditions).
const maxDepth = 1000

// ParseError is a syntax error in a condition, with the position where the
// parser stopped.
type ParseError struct {
	Msg string
	Pos Pos
}

func (e *ParseError) Error() string { return e.Msg }

type parser struct {
	lx    *lexer
	depth int
}

// Parse parses a condition into an AST, with libs' grammar and error
// messages.
func Parse(cond string) (n Node, err error) {
	if cond == "" {
		return nil, &ParseError{Msg: "filter input string is empty", Pos: Pos{0, 1, 1}}
	}
	p := &parser{lx: newLexer(cond)}
	err = p.run(func() {
		n = p.parseOr()
		if !p.lx.eof() {
			p.fail("unexpected token after '" + p.lx.last + "', expecting 'or', 'and'")
		}
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// run calls fn and turns the parser's failure panic into a *ParseError.
func (p *parser) run(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*ParseError)
			if !ok {
				panic(r)
			}
			err = pe
		}
	}()
	fn()
	return nil
}

// ParseValue parses text as the right-hand side of b.Op (a number, a
// string, a list literal or a transformer, with the grammar the condition
// parser applies after that operator) and sets it on b. Exceptions use it to
// build checks from their YAML values without assembling condition text.
func ParseValue(b *Binary, text string) error {
	p := &parser{lx: newLexer(text)}
	return p.run(func() {
		switch {
		case containsOp(numOps, b.Op):
			p.parseNumValue(b)
		case containsOp(strOps, b.Op):
			p.parseStrValue(b)
		case IsListOp(b.Op):
			p.parseListValue(b)
		default:
			p.fail("'" + b.Op + "' does not take a value")
		}
		p.lx.blank()
		if !p.lx.eof() {
			p.fail("unexpected token after '" + p.lx.last + "'")
		}
	})
}

// literal returns the value a list item stands for inside a list literal:
// a quoted item is unquoted as the parser would, anything else is taken
// as is.
func literal(item string) string {
	p := &parser{lx: newLexer(item)}
	var v string
	err := p.run(func() {
		var ok bool
		if v, ok = p.listItem(); !ok || !p.lx.eof() {
			p.fail("not a single literal")
		}
	})
	if err != nil {
		return item
	}
	return v
}

func containsOp(ops []string, op string) bool {
	for _, o := range ops {
		if trimBlank(o) == op {
			return true
		}
	}
	return false
}

func (p *parser) fail(msg string) {
	panic(&ParseError{Msg: msg, Pos: p.lx.pos})
}

func (p *parser) enter() {
	p.depth++
	if p.depth >= maxDepth {
		p.fail("exceeded max depth limit of 1000")
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseOr() Node {
	p.enter()
	defer p.leave()
	pos := p.lx.pos
	p.lx.blank()
	children := []Node{p.parseAnd()}
	p.lx.blank()
	for p.lx.str("or") {
		var child Node
		if !p.lx.blank() {
			if !p.lx.str("(") {
				p.fail("expected blank or '(' after 'or'")
			}
			child = p.parseEmbeddedRemainder()
		} else {
			child = p.parseAnd()
		}
		children = append(children, child)
		p.lx.blank()
	}
	if len(children) > 1 {
		return &Or{Children: children, P: pos}
	}
	return children[0]
}

func (p *parser) parseAnd() Node {
	p.enter()
	defer p.leave()
	pos := p.lx.pos
	p.lx.blank()
	children := []Node{p.parseNot()}
	p.lx.blank()
	for p.lx.str("and") {
		var child Node
		if !p.lx.blank() {
			if !p.lx.str("(") {
				p.fail("expected blank or '(' after 'and'")
			}
			child = p.parseEmbeddedRemainder()
		} else {
			child = p.parseNot()
		}
		children = append(children, child)
		p.lx.blank()
	}
	if len(children) > 1 {
		return &And{Children: children, P: pos}
	}
	return children[0]
}

func (p *parser) parseNot() Node {
	p.enter()
	defer p.leave()
	pos := p.lx.pos
	isNot := false
	p.lx.blank()
	for p.lx.notBlank() {
		isNot = !isNot
	}
	var child Node
	if p.lx.str("not(") {
		isNot = !isNot
		child = p.parseEmbeddedRemainder()
	} else {
		child = p.parseCheck()
	}
	if isNot {
		return &Not{Child: child, P: pos}
	}
	return child
}

func (p *parser) parseEmbeddedRemainder() Node {
	p.enter()
	defer p.leave()
	p.lx.blank()
	child := p.parseOr()
	p.lx.blank()
	if !p.lx.str(")") {
		p.fail("expected a ')' token")
	}
	return child
}

func (p *parser) parseCheck() Node {
	p.enter()
	defer p.leave()
	pos := p.lx.pos
	p.lx.blank()
	if p.lx.str("(") {
		return p.parseEmbeddedRemainder()
	}
	if p.lx.fieldName() {
		left := p.parseFieldRemainder(p.lx.last, pos)
		return p.parseCondition(left, pos)
	}
	if p.lx.oneOf(transformers) {
		p.lx.blank()
		left := p.parseTransformerRemainder(strings.TrimSuffix(p.lx.last, "("), pos)
		return p.parseCondition(left, pos)
	}
	if p.lx.identifier() {
		return &Ident{Name: p.lx.last, P: pos}
	}
	p.fail("expected a '(' token, a field check, or an identifier")
	return nil
}

func (p *parser) quoted() bool {
	ok, err := p.lx.quoted()
	if err != nil {
		p.fail(err.Error())
	}
	return ok
}

func (p *parser) parseFieldRemainder(name string, pos Pos) *FieldExpr {
	f := &FieldExpr{Name: name, P: pos}
	if p.lx.str("[") {
		if !p.quoted() && !p.lx.fieldArgBare() {
			p.fail("expected a valid field argument: a quoted string or a bare string")
		}
		f.Arg, f.HasArg = p.lx.last, true
		if !p.lx.str("]") {
			p.fail("expected a ']' token")
		}
	}
	return f
}

func transformerList(withVal bool) string {
	var names []string
	if withVal {
		names = append(names, "'val'")
	}
	for _, t := range transformers {
		names = append(names, "'"+strings.TrimSuffix(t, "(")+"'")
	}
	return strings.Join(names, ", ")
}

func (p *parser) parseTransformerRemainder(name string, pos Pos) *FieldExpr {
	p.enter()
	defer p.leave()
	p.lx.blank()
	argPos := p.lx.pos
	var child *FieldExpr
	if p.lx.oneOf(transformers) {
		p.lx.blank()
		child = p.parseTransformerRemainder(strings.TrimSuffix(p.lx.last, "("), argPos)
	}
	if child == nil && p.lx.fieldName() {
		child = p.parseFieldRemainder(p.lx.last, argPos)
	}
	if child == nil {
		p.fail("expected a field or a nested valid transformer: " + transformerList(true))
	}
	p.lx.blank()
	if !p.lx.str(")") {
		p.fail("expected a ')' token closing the transformer")
	}
	return &FieldExpr{Transformer: name, Inner: child, P: pos}
}

func (p *parser) parseCondition(left *FieldExpr, pos Pos) Node {
	p.enter()
	defer p.leave()
	p.lx.blank()
	if p.lx.oneOf(unaryOps) {
		return &Unary{Left: left, Op: trimBlank(p.lx.last), P: pos}
	}
	p.lx.blank()
	b := &Binary{Left: left, P: pos}
	switch {
	case p.lx.oneOf(numOps):
		b.Op = p.lx.last
		p.parseNumValue(b)
	case p.lx.oneOf(strOps):
		b.Op = trimBlank(p.lx.last)
		p.parseStrValue(b)
	case p.lx.oneOf(listOps):
		b.Op = p.lx.last
		p.parseListValue(b)
	default:
		p.fail("expected a valid check operator: one of " + quotedList(Operators()))
	}
	return b
}

func quotedList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}

func (p *parser) parseNumValue(b *Binary) {
	p.lx.blank()
	if r := p.tryTransformerOrVal(); r != nil {
		b.Right = r
		return
	}
	if p.lx.hexNum() || p.lx.num() {
		b.Values = []string{p.lx.last}
		return
	}
	p.fail("expected a number value or a field with a valid transformer: " + transformerList(true))
}

func (p *parser) parseStrValue(b *Binary) {
	p.lx.blank()
	if r := p.tryTransformerOrVal(); r != nil {
		b.Right = r
		return
	}
	if p.quoted() || p.lx.bareStr() {
		b.Values = []string{p.lx.last}
		return
	}
	p.fail("expected a string value or a field with a valid transformer: " + transformerList(true))
}

// listItem parses one string of a list literal; ok=false when there is none.
func (p *parser) listItem() (string, bool) {
	p.lx.blank()
	if p.quoted() || p.lx.bareStr() {
		return p.lx.last, true
	}
	return "", false
}

func (p *parser) parseListValue(b *Binary) {
	p.lx.blank()
	if p.lx.str("(") {
		b.IsList = true
		b.Values = []string{}
		p.lx.blank()
		if v, ok := p.listItem(); ok {
			b.Values = append(b.Values, v)
			p.lx.blank()
			for p.lx.str(",") {
				v, ok := p.listItem()
				if !ok {
					p.fail("expected a string value")
				}
				b.Values = append(b.Values, v)
				p.lx.blank()
			}
		}
		if !p.lx.str(")") {
			p.fail("expected a ')' token")
		}
		return
	}
	if r := p.tryTransformerOrVal(); r != nil {
		b.Right = r
		return
	}
	if p.lx.identifier() {
		b.Values = []string{p.lx.last}
		return
	}
	p.fail("expected a list, an identifier, or a field with a valid transformer: " + transformerList(true))
}

func (p *parser) tryTransformerOrVal() *FieldExpr {
	p.enter()
	defer p.leave()
	p.lx.blank()
	pos := p.lx.pos
	if p.lx.str(valTransformer) {
		p.lx.blank()
		fieldPos := p.lx.pos
		if !p.lx.fieldName() {
			p.fail("expected a field within 'val' transformer")
		}
		child := p.parseFieldRemainder(p.lx.last, fieldPos)
		p.lx.blank()
		if !p.lx.str(")") {
			p.fail("expected a ')' token closing the transformer")
		}
		return &FieldExpr{Transformer: "val", Inner: child, P: pos}
	}
	if p.lx.oneOf(transformers) {
		p.lx.blank()
		return p.parseTransformerRemainder(strings.TrimSuffix(p.lx.last, "("), pos)
	}
	return nil
}
