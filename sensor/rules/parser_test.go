package rules

import (
	"strings"
	"testing"
)

// TestParseAcceptReject ports the accept/reject behaviour of libs'
// userspace/libsinsp/test/filter_parser.ut.cpp.
func TestParseAcceptReject(t *testing.T) {
	accept := []string{
		// smoke
		"  a", "(a)", "a and b", "a and b and c", "a and b and(c)", "(a)and(b)and(c)", "(a and b)",
		"a or b", "a or b or c", "a or b or(c)", "(a)or(b)or(c)", "(a or b)", "(a.a exists and b)",
		"(a.a exists) and (b)", "a.a exists and b", "a.a=1 or b.b=2 and c", "not (a)", "not(a)",
		"not (not (a))", "not (a.b=1)", "not (a.a exists)", "not a", "a.b = 1 and not a", "not not a",
		"(not not a)", "not not(a)", "not(not(a))", "not(a)and(not(b))", "not a.b=1", "not a.a exists",
		"a.b = bla", "a.b = 'bla'", "a.b = not", "a.b contains bla", "a.b icontains 'bla'",
		"a.g in (1, 'a', b)", "evt.dir=> and fd.name=*.log", "a.g in (1, 'a', b.c)", "a.b = a.a",
		"a and notb", "a or notb", "notz and a and b", "macro and not_macro", "macro and not not_macro",
		"macro and not(not_macro)", "((macro) and (not_macro))", "macro and and_macro",
		"((macro) and (and_macro))", "macro and or_macro", "((macro) and (or_macro))",
		"evt.arg[0] contains /bin", "evt.arg[a] contains /bin",
		// strings
		"test.str = testval", `test.str = 0a!@#456:/\.;!$%^&*[]{}|`, `test.str = ""`, "test.str = ''",
		`test.str = "0a!@#456:/.; !$%^&*[]{}|"`, `test.str = "test value"`, "test.str = 'test value'",
		`test.str[0a!@#456:/\.;!$%^&*(){}|] = testval`, "test.str[aaaa1] = a", "test.str[1234] = a",
		"test.str[+0.25e+10] = a", `test.str[""] = empty`, "test.str['a aa'] = a",
		`test.str["test \"with\"escaping"] = a`, `test.str = "escape double quote \" "`,
		`test.str = 'escape single quote \' '`, `test.str = 'multiple escape single quote \' \\''`,
		`test.str = 'mixed "'`, `test.str = "mixed '"`, `test.str = "bad escape \ "`,
		// numbers
		"test.num > 1000", "test.num < +1", "test.num >= -1", "test.num <= 0x12345", "test.num <= 0XaB00AB",
		"test.num > 1.2", "test.num < -1.2", "test.num > -0.1222e+10", "test.str = !0.1222e+10",
		"test.str = 0xAAA.1", "test.str = 0aaaaa", "test.str = a",
		// lists
		"test.list in ()", "test.list in (a)", "test.list in ('single-quoted')", `test.list in ("double-quoted")`,
		`test.list in (0a!@#456:/\.;!$%^&*[]{}|)`, `test.list in (0a!@#456:/\.;!$%^&*[]{}|, value)`,
		`test.list in (value, "value", 'value')`, "test.list intersects (value)", "test.list pmatch (value)",
		// operators
		"test.op exists and macro", "test.op exists", "test.op = value", "test.op == value", "test.op != value",
		"test.op glob value", "test.op iglob value", "test.op contains value", "test.op icontains value",
		"test.op bcontains 48545450", "test.op startswith value", "test.op bstartswith 12ab001fc5",
		"test.op endswith value", "test.op > 1", "test.op < 1", "test.op >= 1", "test.op <= 1",
		"test.op in ()", "test.op intersects ()", "test.op pmatch ()", "test.op in()", "test.op existsand macro",
		"test.op regex '^a.*'",
		// transformers
		"tolower(test.field) exists", "toupper(test.field) exists", "b64(test.field) exists",
		"b64(test.field) = value", "b64(test.field) glob value", "(b64(test.field) exists)",
		"not (b64(test.field) exists or b64(test.field) contains 'a')", "b64(toupper(test.field)) exists",
		" b64(test.field) exists", "\nb64(test.field) exists", "b64( test.field) exists", "b64(\ntest.field) exists",
		"b64(test.field ) exists", "b64(test.field)\n exists", "b64(b64(test.field)) exists",
		"b64(b64(test.field\n)) exists", "basename(fd.name) = x", "len(proc.args) > 2",
		"some.field = test.field", "some.field = val(test.field)", "some.field = tolower(test.field)",
		"some.field != val(test.field)", "some.field contains b64(test.field)", "some.field in val(test.field)",
		"some.field > val(test.field)",
	}
	reject := []string{
		"", "a andb", "aand b", "a and b and", "a and b or", "a and b not", "and a", "or a", "a or b and",
		"a or b or", "a or b not", "a not b and", "a not b or", "a not b not", "a orb", "aor b",
		"a and or b", "a andor b", "a not b", "a notb", "anot b", "a andnot b", "a andnotb",
		"(a)andnot(b)", "a ornot b", "a ornotb", "(a)ornot(b)", "evt.arg[] contains /bin", "a.b = b = 1",
		"(a.b = 1", "a.a invalidoperator xxx", "macro > 12", "a.g in ( 1 ,, , b)", "#a and b; a and b",
		"#a and b; # ; ; a and b", "evt.dir=> and fd.name=/var/lo);g/httpd.log",
		"test.str = a,", "test.str = a=", `test.str = a('")`, "test.str = '", `test.str = "`,
		`test.str = '"`, `test.str = "'`, "test.str = missing start quote", "test.str = 'missing end quote",
		`test.str = "broken escape double quote""`, "test.str = 'broken escape single quote''",
		`test.str = "mixed \'"`, `test.str = 'mixed \"'`, `test.str = "bad \q escape"`,
		`test.str[0a!@#456:/\.;!$%^&*[]{}] = testval`, "test.str[] = testval", "test.str[[] = testval",
		"test.str[]] = testval", "test.str['''] = a", `test.str[aaa"] = a`, "test.str[   test   ] = testval",
		"test.str[ = testval", "test.str] = testval",
		"test.num > !0.1222e+10", "test.num < 0xAAA.1", "test.num >= 0aaaaa", "test.num <= a",
		"test.list in (", "test.list in )", "test.list in (value,)", "test.list in (value,,)", "test.list in (,)",
		"test.list in (,   ,)", "test.list > (value)", "test.list = (value)", "test.list < (value)",
		"test.list startswith (value)", "test.list contains (value)",
		"test.op ExIsTs", "test.op exists something", "test.op ===", "test.op !==", "test.op startswithvalue",
		"test.op endswithvalue", "test.op containsvalue", "test.op icontainsvalue", "test.op bcontainsvalue",
		"test.op globvalue", "test.op iglobvalue",
		"val(test.field) exists", "val(val(test.field)) exists", "val(b64(test.field)) exists",
		"b64(val(test.field)) exists", "b64(test.field [1]) exists", "some_fake_transformer(test.field) exists",
		"b64 (test.field) exists", "b64(testfield)) exists", "b64(b64)) exists", "b64\n(test.field) exists",
		"b64(test.field exists", "test.field) exists", "b64(b64(test.field) exists", "(test.field) exists",
		"a(test.field) exists",
	}
	for _, in := range accept {
		if _, err := Parse(in); err != nil {
			t.Errorf("rejected %q: %v", in, err)
		}
	}
	for _, in := range reject {
		if n, err := Parse(in); err == nil {
			t.Errorf("accepted %q as %s", in, n)
		}
	}
}

// TestParseAST checks precedence, n-ary flattening, not toggling and value
// unescaping through the libs string form.
func TestParseAST(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a.a=1 or b.b=2 and c", "(a.a = 1 or (b.b = 2 and c))"},
		{"a and b or c and d", "((a and b) or (c and d))"},
		{"a and (b or c) and d", "(a and (b or c) and d)"},
		{"not a and b", "(not a and b)"},
		{"not not a", "a"},
		{"not not not a", "not a"},
		{"not (a and b)", "not (a and b)"},
		{"((a))", "a"},
		{"proc.aname[2]=sshd", "proc.aname[2] = sshd"},
		{"evt.arg.flags contains O_TRUNC", "evt.arg.flags contains O_TRUNC"},
		{`fd.name = "a b"`, `fd.name = "a b"`},
		{`fd.name = 'it\'s'`, `fd.name = "it's"`},
		{`fd.name = "tab\there"`, `fd.name = "tab\there"`},
		{`fd.name = "\/x"`, `fd.name = /x`},
		{`proc.name in (a, "b c",d)`, `proc.name in (a, "b c", d)`},
		{"proc.name in ()", "proc.name in ()"},
		{"tolower(proc.name) = bash", "tolower(proc.name) = bash"},
		{"proc.name = val(proc.pname)", "proc.name = val(proc.pname)"},
		{"proc.pid > 0x10", "proc.pid > 0x10"},
		// libs prints an empty value as nothing.
		{"container.mount.dest[/proc*] != \"\"", `container.mount.dest[/proc*] != `},
	}
	for _, tc := range tests {
		n, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := n.String(); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseErrorPosition(t *testing.T) {
	tests := []struct {
		in        string
		line, col int
		msg       string
	}{
		{"proc.name = x and", 1, 18, "expected blank or '(' after 'and'"},
		{"proc.name = x and ", 1, 19, "expected a '(' token, a field check, or an identifier"},
		{"proc.name = x\n  and proc.name bad y", 2, 17, "expected a valid check operator"},
		{"proc.name = x)", 1, 14, "unexpected token after 'x', expecting 'or', 'and'"},
		{`proc.name = "\q"`, 1, 13, "unsupported string escape sequence: \\q"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.in)
		pe, ok := err.(*ParseError)
		if !ok {
			t.Errorf("%q: error %v is not a *ParseError", tc.in, err)
			continue
		}
		if pe.Pos.Line != tc.line || pe.Pos.Col != tc.col || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%q: got %d:%d %q, want %d:%d %q", tc.in, pe.Pos.Line, pe.Pos.Col, pe.Msg, tc.line, tc.col, tc.msg)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	deep := strings.Repeat("(", 2000) + "a" + strings.Repeat(")", 2000)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "max depth") {
		t.Errorf("deep nesting: %v", err)
	}
}
