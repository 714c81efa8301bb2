package rules

import (
	"fmt"
	"strings"
)

// Pos is a position in a condition string: byte index, 1-based line and
// column, advanced exactly as libs' parser does (CR and LF both start a new
// line).
type Pos struct {
	Idx, Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// lexer scans a condition. Falco's grammar is context-sensitive (a bare
// word is a number only after < <= > >=, a string elsewhere), so the
// parser drives the lexer by asking for the token kind it expects next,
// exactly like libs' lex_* helpers; each method consumes the token and
// returns true, or consumes nothing and returns false.
type lexer struct {
	in   string
	pos  Pos
	last string // text of the last token, after unescaping for strings
}

func newLexer(in string) *lexer {
	return &lexer{in: in, pos: Pos{Idx: 0, Line: 1, Col: 1}}
}

func (l *lexer) rest() string { return l.in[l.pos.Idx:] }

func (l *lexer) eof() bool { return l.pos.Idx >= len(l.in) }

func (l *lexer) advance(n int) {
	for i := 0; i < n; i++ {
		c := l.in[l.pos.Idx]
		l.pos.Col++
		if c == '\r' || c == '\n' {
			l.pos.Col = 1
			l.pos.Line++
		}
		l.pos.Idx++
	}
}

// take consumes n bytes as the last token.
func (l *lexer) take(n int) bool {
	if n <= 0 {
		return false
	}
	l.last = l.in[l.pos.Idx : l.pos.Idx+n]
	l.advance(n)
	return true
}

// blank skips blanks and reports whether there were any.
func (l *lexer) blank() bool {
	n := 0
	for l.pos.Idx+n < len(l.in) && isBlank(l.in[l.pos.Idx+n]) {
		n++
	}
	l.advance(n)
	return n > 0
}

// str consumes the literal s.
func (l *lexer) str(s string) bool {
	if strings.HasPrefix(l.rest(), s) {
		return l.take(len(s))
	}
	return false
}

// oneOf consumes the first literal of list that matches.
func (l *lexer) oneOf(list []string) bool {
	for _, s := range list {
		if l.str(s) {
			return true
		}
	}
	return false
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '_'
}

// identLen is the length of [a-zA-Z]+[a-zA-Z0-9_]* at the start of s.
func identLen(s string) int {
	if len(s) == 0 || !isAlpha(s[0]) {
		return 0
	}
	n := 1
	for n < len(s) && isIdentChar(s[n]) {
		n++
	}
	return n
}

// notBlank consumes "not" followed by at least one blank (RGX_NOTBLANK).
func (l *lexer) notBlank() bool {
	s := l.rest()
	if !strings.HasPrefix(s, "not") || len(s) < 4 || !isPOSIXSpace(s[3]) {
		return false
	}
	n := 3
	for n < len(s) && isPOSIXSpace(s[n]) {
		n++
	}
	return l.take(n)
}

// isPOSIXSpace is [[:space:]].
func isPOSIXSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// identifier consumes [a-zA-Z]+[a-zA-Z0-9_]*.
func (l *lexer) identifier() bool { return l.take(identLen(l.rest())) }

// fieldName consumes an identifier followed by one or more ".identifier".
func (l *lexer) fieldName() bool {
	s := l.rest()
	n := identLen(s)
	if n == 0 {
		return false
	}
	parts := 0
	for n < len(s) && s[n] == '.' {
		m := identLen(s[n+1:])
		if m == 0 {
			break
		}
		n += 1 + m
		parts++
	}
	if parts == 0 {
		return false
	}
	return l.take(n)
}

// fieldArgBare consumes [^][\"'[:space:]]+.
func (l *lexer) fieldArgBare() bool {
	s := l.rest()
	n := 0
	for n < len(s) {
		c := s[n]
		if c == '[' || c == ']' || c == '"' || c == '\'' || isPOSIXSpace(c) {
			break
		}
		n++
	}
	return l.take(n)
}

// bareStr consumes [^()\"'[:space:]=,]+.
func (l *lexer) bareStr() bool {
	s := l.rest()
	n := 0
	for n < len(s) {
		c := s[n]
		if c == '(' || c == ')' || c == '"' || c == '\'' || c == '=' || c == ',' || isPOSIXSpace(c) {
			break
		}
		n++
	}
	return l.take(n)
}

// hexNum consumes 0[xX][0-9a-zA-Z]+.
func (l *lexer) hexNum() bool {
	s := l.rest()
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return false
	}
	n := 2
	for n < len(s) && (isAlpha(s[n]) || isDigit(s[n])) {
		n++
	}
	if n == 2 {
		return false
	}
	return l.take(n)
}

// num consumes [+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?.
func (l *lexer) num() bool {
	s := l.rest()
	n := 0
	if n < len(s) && (s[n] == '+' || s[n] == '-') {
		n++
	}
	d := n
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n == d {
		return false
	}
	if n < len(s) && s[n] == '.' {
		n++
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	if n+2 < len(s) && (s[n] == 'e' || s[n] == 'E') && (s[n+1] == '+' || s[n+1] == '-') && isDigit(s[n+2]) {
		n += 2
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	return l.take(n)
}

// quoted consumes a '- or "-quoted string and unescapes it. It ends at the
// first delimiter not preceded by a backslash, like libs (so "a\\" does not
// terminate: libs only looks at the previous byte).
func (l *lexer) quoted() (bool, error) {
	s := l.rest()
	if len(s) == 0 || (s[0] != '\'' && s[0] != '"') {
		return false, nil
	}
	delim := s[0]
	prev := byte('\\')
	for i := 0; i < len(s); i++ {
		if s[i] == delim && prev != '\\' {
			raw := s[:i+1]
			v, err := unescape(raw)
			if err != nil {
				return false, err
			}
			l.advance(i + 1)
			l.last = v
			return true, nil
		}
		prev = s[i]
	}
	return false, nil
}

// unescape decodes a quoted string including its delimiters, as libs'
// unescape_str does (including its quirk that "\ " yields a backslash).
func unescape(q string) (string, error) {
	var b strings.Builder
	escaped := false
	for i := 1; i < len(q)-1; i++ {
		c := q[i]
		if !escaped {
			if c == '\\' {
				escaped = true
			} else {
				b.WriteByte(c)
			}
			continue
		}
		switch c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case ' ', '\\':
			b.WriteByte('\\')
		case '/':
			b.WriteByte('/')
		case '"':
			if q[0] != c {
				return "", fmt.Errorf(`invalid \" escape in '-quoted string`)
			}
			b.WriteByte('"')
		case '\'':
			if q[0] != c {
				return "", fmt.Errorf(`invalid \' escape in "-quoted string`)
			}
			b.WriteByte('\'')
		default:
			return "", fmt.Errorf("unsupported string escape sequence: \\%c", c)
		}
		escaped = false
	}
	return b.String(), nil
}

// escapeStr quotes a value for printing a condition, like libs' escape_str.
func escapeStr(s string) string {
	var b strings.Builder
	should := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			should = true
			b.WriteString(`\b`)
		case '\f':
			should = true
			b.WriteString(`\f`)
		case '\n':
			should = true
			b.WriteString(`\n`)
		case '\r':
			should = true
			b.WriteString(`\r`)
		case '\t':
			should = true
			b.WriteString(`\t`)
		case ' ', '\'':
			should = true
			b.WriteByte(c)
		case '\\':
			should = true
			b.WriteString(`\\`)
		case '"':
			should = true
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	if should {
		return `"` + b.String() + `"`
	}
	return b.String()
}
