// Package rules implements the Falco rules language: a lexer and parser for
// filter conditions (lexer.go, parser.go) producing an AST (ast.go), a YAML
// rules-file loader with lists, macros, rules, append/override and
// exceptions (loader.go), and a compiler turning conditions into Go closures
// over sensor/fields extractors (compiler.go). The pipeline mirrors
// falcosecurity/libs (filter parser) and falcosecurity/falco (rule loader) so
// that official rules files load unmodified and behave the same.
package rules

// Operator and transformer tables, in the order libs' parser tries them: the
// order matters because the lexer takes the first prefix that matches
// ("==" before "=", "intersects" before "in").
var (
	unaryOps = []string{"exists"}
	numOps   = []string{"<=", "<", ">=", ">"}
	// Word operators carry their mandatory trailing blank, as in libs.
	strOps = []string{
		"==", "=", "!=", "glob ", "iglob ", "contains ", "icontains ",
		"bcontains ", "startswith ", "bstartswith ", "endswith ", "regex ",
	}
	listOps = []string{"intersects", "in", "pmatch"}

	// transformers are the field transformers usable on either side; val()
	// is only valid as a right-hand side.
	transformers   = []string{"tolower(", "toupper(", "b64(", "basename(", "len("}
	valTransformer = "val("
)

// IsListOp reports whether op takes a list right-hand side.
func IsListOp(op string) bool {
	for _, o := range listOps {
		if o == op {
			return true
		}
	}
	return false
}

// Operators returns every supported comparison operator, trimmed.
func Operators() []string {
	var out []string
	for _, l := range [][]string{unaryOps, numOps, strOps, listOps} {
		for _, o := range l {
			out = append(out, trimBlank(o))
		}
	}
	return out
}

func trimBlank(s string) string {
	for len(s) > 0 && isBlank(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	for len(s) > 0 && isBlank(s[0]) {
		s = s[1:]
	}
	return s
}

// isBlank matches libs' lex_blank set.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\b' || c == '\r' || c == '\n'
}
