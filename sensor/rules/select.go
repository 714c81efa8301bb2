package rules

// Selection is one entry of falco.yaml's `rules:` list, which enables or
// disables loaded rules by name or tag after every file is loaded:
//
//	rules:
//	  - disable: {rule: "*"}
//	  - enable: {tag: network}
//	  - enable: {rule: "Directory traversal monitored file read"}
//
// Entries apply in order, so later ones win; an enable switches on rules
// that ship with `enabled: false`. Rule may use * as a wildcard; Tag is
// matched exactly. An entry with both matches rules having either.
type Selection struct {
	Enable bool
	Rule   string
	Tag    string
}

// selects reports whether the entry names the rule.
func (s Selection) selects(r *Rule) bool {
	if s.Rule != "" && wildcardMatch(s.Rule, r.Name) {
		return true
	}
	if s.Tag != "" {
		for _, t := range r.Tags {
			if t == s.Tag {
				return true
			}
		}
	}
	return false
}

// applySelection sets each rule's Enabled from the file's `enabled` key
// followed by the selection entries in order.
func applySelection(rs *Ruleset, sel []Selection) {
	for _, r := range rs.Rules {
		for _, s := range sel {
			if s.selects(r) {
				r.Enabled = s.Enable
			}
		}
	}
}

// wildcardMatch matches name against pattern, where * stands for any run
// of characters (rule names contain '/', so path.Match does not fit).
func wildcardMatch(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p, mark = star+1, mark+1
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
