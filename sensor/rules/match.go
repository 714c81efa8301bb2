package rules

// globMatch is fnmatch(pattern, s, 0) (or FNM_CASEFOLD when fold): '*'
// matches any run including '/', '?' one byte, [...] a class with ranges
// and '!'/'^' negation, '\' escapes the next byte.
func globMatch(pattern, s string, fold bool) bool {
	px, sx := 0, 0
	starP, starS := -1, -1
	for sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				px++
				sx++
				continue
			case '[':
				if ok, n, valid := matchClass(pattern[px:], s[sx], fold); valid {
					if ok {
						px += n
						sx++
						continue
					}
				} else if eqByte('[', s[sx], fold) {
					px++
					sx++
					continue
				}
			case '\\':
				if px+1 < len(pattern) {
					if eqByte(pattern[px+1], s[sx], fold) {
						px += 2
						sx++
						continue
					}
				} else if s[sx] == '\\' {
					px++
					sx++
					continue
				}
			default:
				if eqByte(c, s[sx], fold) {
					px++
					sx++
					continue
				}
			}
		}
		if starP >= 0 {
			px = starP + 1
			starS++
			sx = starS
			continue
		}
		return false
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func eqByte(a, b byte, fold bool) bool {
	if fold {
		return lowerByte(a) == lowerByte(b)
	}
	return a == b
}

// matchClass matches c against the bracket expression at the start of p.
// It returns whether c matched, the expression's length, and valid=false
// when the bracket is unterminated (then '[' is literal).
func matchClass(p string, c byte, fold bool) (matched bool, n int, valid bool) {
	i := 1
	negate := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return matched != negate, i + 1, true
		}
		first = false
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		i++
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi = p[i+1]
			if hi == '\\' && i+2 < len(p) {
				hi = p[i+2]
				i++
			}
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		} else if fold {
			lc := lowerByte(c)
			uc := lc
			if lc >= 'a' && lc <= 'z' {
				uc = lc - ('a' - 'A')
			}
			if (lo <= lc && lc <= hi) || (lo <= uc && uc <= hi) {
				matched = true
			}
		}
	}
	return false, 0, false
}

// pathTrie matches paths against path prefixes by whole components
// (pmatch): /tmp/hello matches /tmp/hello and /tmp/hello/x but not
// /tmp/hello_world.
type pathTrie struct {
	children map[string]*pathTrie
	terminal bool
}

func newPathTrie(prefixes []string) *pathTrie {
	root := &pathTrie{}
	for _, p := range prefixes {
		n := root
		forEachComponent(p, func(c string) bool {
			if n.children == nil {
				n.children = map[string]*pathTrie{}
			}
			child, ok := n.children[c]
			if !ok {
				child = &pathTrie{}
				n.children[c] = child
			}
			n = child
			return true
		})
		n.terminal = true
	}
	return root
}

// forEachComponent calls fn for each non-empty '/'-separated component of
// p, stopping when fn returns false. It does not allocate.
func forEachComponent(p string, fn func(string) bool) {
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if i > start && !fn(p[start:i]) {
				return
			}
			start = i + 1
		}
	}
}

func (t *pathTrie) match(s string) bool {
	if t.terminal {
		return true
	}
	n := t
	found := false
	start := 0
	for i := 0; i <= len(s) && n != nil; i++ {
		if i == len(s) || s[i] == '/' {
			if i > start {
				n = n.children[s[start:i]]
				if n == nil {
					return false
				}
				if n.terminal {
					found = true
					break
				}
			}
			start = i + 1
		}
	}
	return found
}
