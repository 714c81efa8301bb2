package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/saker-sec/saker/hub/alert"
)

// EngineVersion is the Falco rules engine version Saker implements; rules
// files' required_engine_version is checked against it.
const EngineVersion = "0.57.0"

// BuiltinPlugins are the Falco plugins whose fields Saker provides natively
// (container metadata), with the version they satisfy, for
// required_plugin_versions.
var BuiltinPlugins = map[string]string{"container": "0.4.0"}

// Config tunes loading.
type Config struct {
	// MinPriority: rules less severe than this are compiled but not loaded
	// (Falco's `priority` setting). Zero loads everything.
	MinPriority alert.Priority
	// Sources are the accepted rule sources; nil means {"syscall"}.
	// Rules of other sources are skipped with a warning, as Falco does.
	Sources []string
	// Fields gives the field set of each non-syscall source (k8s_audit:
	// the ka.* and json fields); its sources are accepted too. Rules of
	// the "syscall" source always use the fields registry.
	Fields map[string]FieldSet
	// Plugins are plugin name → version pairs provided on top of
	// BuiltinPlugins (the source of Fields), for required_plugin_versions.
	Plugins map[string]string
	// Selection enables and disables rules after loading, as falco.yaml's
	// `rules:` list does.
	Selection []Selection
}

// Collected items, before compilation. index is the item's position among
// items of its kind (kept on redefinition); visibility is how many items of
// that kind were defined when this one was last (re)defined: a list or
// macro sees only those with a smaller index, as in Falco.
type listInfo struct {
	name       string
	items      []string
	loc        Location
	index      int
	visibility int
}

type macroInfo struct {
	name       string
	cond       string
	loc        Location
	condLoc    condLocation
	index      int
	visibility int
}

type exceptionInfo struct {
	name        string
	fields      []string
	fieldsList  bool
	comps       []string
	values      []exceptionValue
	loc         Location
	hasFields   bool
	hasComps    bool
	compsIsList bool
}

// exceptionValue is one entry of an exception's values: a list of items
// (one per field), each a string or a list of strings; or, for a single
// field exception, a single string.
type exceptionValue struct {
	isList bool
	item   string
	items  []exceptionValue
}

type ruleInfo struct {
	name            string
	cond, output    string
	desc            string
	priority        alert.Priority
	source          string
	enabled         bool
	tags            []string
	exceptions      []exceptionInfo
	warnEvttypes    bool
	skipUnknown     bool
	capture         bool
	captureDuration int
	loc             Location
	condLoc         condLocation
	outputLoc       Location
	index           int
	unknownSource   bool
}

// condLocation maps positions inside a condition back to the file.
type condLocation struct {
	loc   Location
	style yaml.Style
}

// at converts a position in the condition text to a file location: exact
// for single-line plain or quoted scalars, the scalar's start otherwise.
func (c condLocation) at(p Pos) Location {
	l := c.loc
	switch {
	case c.style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		l.Line++
	case p.Line == 1:
		l.Col += p.Col - 1
		if c.style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			l.Col++
		}
	default:
		l.Line += p.Line - 1
		l.Col = p.Col
	}
	return l
}

// Loader collects rules files in order and compiles them into a Ruleset.
type Loader struct {
	cfg      Config
	lists    []*listInfo
	macros   []*macroInfo
	rules    []*ruleInfo
	listIdx  map[string]*listInfo
	macroIdx map[string]*macroInfo
	ruleIdx  map[string]*ruleInfo
	// cur numbers every item definition (lists, macros, rules) in file
	// order, as Falco's collector does: a list or macro sees the lists or
	// macros first defined before its own latest (re)definition.
	cur int
	// Warnings collected while reading and compiling.
	Warnings []Warning
	// errs are the errors of every file read so far.
	errs Errors
	// RequiredEngineVersion is the highest version any file asked for.
	RequiredEngineVersion string
}

// NewLoader returns an empty loader.
func NewLoader(cfg Config) *Loader {
	if cfg.Sources == nil {
		cfg.Sources = []string{"syscall"}
	}
	for src := range cfg.Fields {
		if !contains(cfg.Sources, src) {
			cfg.Sources = append(cfg.Sources, src)
		}
	}
	return &Loader{
		cfg:      cfg,
		listIdx:  map[string]*listInfo{},
		macroIdx: map[string]*macroInfo{},
		ruleIdx:  map[string]*ruleInfo{},
	}
}

// LoadFile reads one rules file.
func (l *Loader) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("load rules %s: %w", path, err)
	}
	return l.Load(path, data)
}

// Load reads one rules file's content; name is used in locations. A bad
// item is skipped and the file read on, so that one load reports every
// error; a file that is not YAML, or not a sequence, stops there. The
// file's errors are returned as Errors and also kept for Compile, which
// reports the errors of every file.
func (l *Loader) Load(name string, data []byte) error {
	before := len(l.errs)
	l.readFile(name, data)
	if len(l.errs) > before {
		return l.errs[before:len(l.errs):len(l.errs)]
	}
	return nil
}

func (l *Loader) readFile(name string, data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			l.errs = append(l.errs, &Error{Loc: Location{File: name}, Msg: "Invalid YAML: " + err.Error()})
			return
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		if root.Kind != yaml.SequenceNode {
			l.errs = append(l.errs, &Error{Loc: nodeLoc(name, root), Msg: "Rules content is not yaml array of objects"})
			return
		}
		for _, item := range root.Content {
			if item.Kind == yaml.ScalarNode && item.Tag == "!!null" {
				continue
			}
			if err := l.readItem(name, item); err != nil {
				var e *Error
				if !errors.As(err, &e) {
					e = &Error{Loc: nodeLoc(name, item), Msg: err.Error()}
				}
				l.errs = append(l.errs, e)
			}
		}
	}
}

func nodeLoc(file string, n *yaml.Node) Location {
	return Location{File: file, Line: n.Line, Col: n.Column}
}

// mapping returns the key→value pairs of a mapping node, keeping keys'
// nodes for locations.
type mapping struct {
	keys []*yaml.Node
	vals map[string]*yaml.Node
}

func asMapping(n *yaml.Node) (mapping, bool) {
	if n.Kind != yaml.MappingNode {
		return mapping{}, false
	}
	m := mapping{vals: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		m.keys = append(m.keys, n.Content[i])
		m.vals[n.Content[i].Value] = n.Content[i+1]
	}
	return m, true
}

func (m mapping) has(k string) bool { _, ok := m.vals[k]; return ok }

// str decodes a scalar value; ok=false when absent.
func (m mapping) str(k string) (string, *yaml.Node, bool, error) {
	n, ok := m.vals[k]
	if !ok {
		return "", nil, false, nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", n, true, fmt.Errorf("Value for %s must be a string", k)
	}
	if n.Tag == "!!null" {
		return "", n, true, nil
	}
	return n.Value, n, true, nil
}

func (m mapping) boolean(k string) (bool, bool, error) {
	n, ok := m.vals[k]
	if !ok {
		return false, false, nil
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, true, fmt.Errorf("Value for %s must be a boolean", k)
	}
	return b, true, nil
}

func (m mapping) strList(k string) ([]string, bool, error) {
	n, ok := m.vals[k]
	if !ok {
		return nil, false, nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, true, fmt.Errorf("Value for %s must be a sequence of strings", k)
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return nil, true, fmt.Errorf("Value for %s must be a sequence of strings", k)
		}
		out = append(out, c.Value)
	}
	return out, true, nil
}

// nextID returns the next item definition number.
func (l *Loader) nextID() int {
	id := l.cur
	l.cur++
	return id
}

func (l *Loader) warn(code string, loc Location, msg string) {
	l.Warnings = append(l.Warnings, Warning{Code: code, Loc: loc, Msg: msg})
}

func (l *Loader) readItem(file string, item *yaml.Node) error {
	m, ok := asMapping(item)
	loc := nodeLoc(file, item)
	if !ok {
		return &Error{Loc: loc, Msg: "Unexpected element type. Each element should be a yaml associative array."}
	}
	fail := func(loc Location, err error) error { return &Error{Loc: loc, Msg: err.Error()} }
	switch {
	case m.has("required_engine_version"):
		loc.ItemType = "required_engine_version"
		v, _, _, err := m.str("required_engine_version")
		if err != nil {
			return fail(loc, err)
		}
		req, err := parseEngineVersion(v)
		if err != nil {
			return fail(loc, fmt.Errorf("Unable to parse engine version '%s' as a semver string", v))
		}
		have, _ := parseSemver(EngineVersion)
		if req[0] != have[0] || compareSemver(have, req) < 0 {
			return fail(loc, fmt.Errorf("Rules require engine version %s, but engine version is %s", v, EngineVersion))
		}
		if l.RequiredEngineVersion == "" || compareSemver(req, mustSemver(l.RequiredEngineVersion)) > 0 {
			l.RequiredEngineVersion = fmt.Sprintf("%d.%d.%d", req[0], req[1], req[2])
		}
		return nil
	case m.has("required_plugin_versions"):
		loc.ItemType = "required_plugin_versions"
		return l.readPluginVersions(loc, m.vals["required_plugin_versions"])
	case m.has("list"):
		return l.readList(file, loc, m)
	case m.has("macro"):
		return l.readMacro(file, loc, m)
	case m.has("rule"):
		return l.readRule(file, loc, m)
	}
	l.warn("LOAD_UNKNOWN_ITEM", loc, "Unknown top level object")
	return nil
}

func (l *Loader) readPluginVersions(loc Location, n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return &Error{Loc: loc, Msg: "Value of required_plugin_versions must be a sequence"}
	}
	for _, p := range n.Content {
		pm, ok := asMapping(p)
		if !ok {
			return &Error{Loc: loc, Msg: "Unexpected element type. Each element should be a yaml associative array."}
		}
		name, _, _, _ := pm.str("name")
		ver, _, _, _ := pm.str("version")
		if name == "" || ver == "" {
			return &Error{Loc: loc, Msg: "Mapping for key 'name' and 'version' is required"}
		}
		cands := [][2]string{{name, ver}}
		if alts, ok := pm.vals["alternatives"]; ok && alts.Kind == yaml.SequenceNode {
			for _, a := range alts.Content {
				am, _ := asMapping(a)
				an, _, _, _ := am.str("name")
				av, _, _, _ := am.str("version")
				cands = append(cands, [2]string{an, av})
			}
		}
		satisfied := false
		for _, c := range cands {
			have, ok := BuiltinPlugins[c[0]]
			if !ok {
				have, ok = l.cfg.Plugins[c[0]]
			}
			if !ok {
				continue
			}
			req, err1 := parseSemver(c[1])
			hv, err2 := parseSemver(have)
			if err1 == nil && err2 == nil && req[0] == hv[0] && compareSemver(hv, req) >= 0 {
				satisfied = true
				break
			}
		}
		if !satisfied {
			return &Error{Loc: loc, Msg: fmt.Sprintf("Plugin '%s' version '%s' is required but not provided by this engine", name, ver)}
		}
	}
	return nil
}

// Messages shared with Falco (rule_loading_messages.h), so users and tests
// can recognise them.
const (
	warnAppend               = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
	warnEnabled              = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace')."
	errOverrideAppend        = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."
	errNoPreviousMacro       = "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"
	errNoPreviousList        = "List uses 'append' or 'override.items: append' but no list by that name already exists"
	errNoPreviousRuleAppend  = "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
	errNoPreviousRuleReplace = "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"
)

// override is a parsed `override:` mapping: key → "append" or "replace".
type override map[string]string

func readOverride(m mapping, allowedAppend, allowedReplace []string) (override, error) {
	n, ok := m.vals["override"]
	if !ok {
		return nil, nil
	}
	om, ok := asMapping(n)
	if !ok {
		return nil, errors.New("Value for override must be a map")
	}
	out := override{}
	for _, k := range om.keys {
		v := om.vals[k.Value]
		mode := v.Value
		switch mode {
		case "append":
			if !contains(allowedAppend, k.Value) {
				return nil, fmt.Errorf("Key '%s' cannot be appended to, use 'replace' instead", k.Value)
			}
		case "replace":
			if !contains(allowedReplace, k.Value) {
				return nil, fmt.Errorf("Key '%s' cannot be replaced", k.Value)
			}
		default:
			return nil, fmt.Errorf("Invalid override operation for key '%s': '%s'. Allowed values are: append, replace", k.Value, mode)
		}
		if !m.has(k.Value) {
			return nil, fmt.Errorf("An %s override for '%s' was specified but '%s' is not defined", mode, k.Value, k.Value)
		}
		out[k.Value] = mode
	}
	return out, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// readAppendOverride reads an item's deprecated `append` flag and its
// `override` map, warns about the former and rejects both together, as
// Falco's loader does for lists, macros and rules alike.
func (l *Loader) readAppendOverride(loc Location, m mapping, allowedAppend, allowedReplace []string) (bool, override, error) {
	app, _, err := m.boolean("append")
	if err != nil {
		return false, nil, err
	}
	ov, err := readOverride(m, allowedAppend, allowedReplace)
	if err != nil {
		return false, nil, err
	}
	if app {
		l.warn("LOAD_DEPRECATED_ITEM", loc, warnAppend)
	}
	if app && ov != nil {
		return false, nil, errors.New(errOverrideAppend)
	}
	return app, ov, nil
}

func (l *Loader) readList(file string, loc Location, m mapping) error {
	name, _, _, err := m.str("list")
	loc.ItemType, loc.ItemName = "list", name
	if err != nil || name == "" {
		return &Error{Loc: loc, Msg: "Mapping for key 'list' is empty"}
	}
	items, hasItems, err := m.strList("items")
	if err != nil {
		return &Error{Loc: loc, Msg: err.Error()}
	}
	if !hasItems {
		return &Error{Loc: loc, Msg: "Item has no mapping for key 'items'"}
	}
	app, ov, err := l.readAppendOverride(loc, m, []string{"items"}, []string{"items"})
	if err != nil {
		return &Error{Loc: loc, Msg: err.Error()}
	}
	prev := l.listIdx[name]
	if app || ov["items"] == "append" {
		if prev == nil {
			return &Error{Loc: loc, Msg: errNoPreviousList}
		}
		prev.items = append(prev.items, items...)
		prev.visibility = l.nextID()
		return nil
	}
	id := l.nextID()
	if prev != nil {
		prev.items, prev.loc, prev.visibility = items, loc, id
		return nil
	}
	li := &listInfo{name: name, items: items, loc: loc, index: id, visibility: id}
	l.lists = append(l.lists, li)
	l.listIdx[name] = li
	return nil
}

func (l *Loader) readMacro(file string, loc Location, m mapping) error {
	name, _, _, err := m.str("macro")
	loc.ItemType, loc.ItemName = "macro", name
	if err != nil || name == "" {
		return &Error{Loc: loc, Msg: "Mapping for key 'macro' is empty"}
	}
	cond, cn, has, err := m.str("condition")
	if err != nil {
		return &Error{Loc: loc, Msg: err.Error()}
	}
	if !has {
		return &Error{Loc: loc, Msg: "Item has no mapping for key 'condition'"}
	}
	cl := condLocation{loc: nodeLoc(file, cn), style: cn.Style}
	cl.loc.ItemType, cl.loc.ItemName = loc.ItemType, loc.ItemName
	app, ov, err := l.readAppendOverride(loc, m, []string{"condition"}, []string{"condition"})
	if err != nil {
		return &Error{Loc: loc, Msg: err.Error()}
	}
	prev := l.macroIdx[name]
	if app || ov["condition"] == "append" {
		if prev == nil {
			return &Error{Loc: loc, Msg: errNoPreviousMacro}
		}
		prev.cond += " " + cond
		prev.visibility = l.nextID()
		return nil
	}
	id := l.nextID()
	if prev != nil {
		prev.cond, prev.loc, prev.condLoc, prev.visibility = cond, loc, cl, id
		return nil
	}
	mi := &macroInfo{name: name, cond: cond, loc: loc, condLoc: cl, index: id, visibility: id}
	l.macros = append(l.macros, mi)
	l.macroIdx[name] = mi
	return nil
}

var ruleAppendKeys = []string{"condition", "output", "desc", "tags", "exceptions"}
var ruleReplaceKeys = []string{"condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
	"warn_evttypes", "capture", "capture_duration", "skip-if-unknown-filter"}

var knownRuleKeys = map[string]bool{"rule": true, "condition": true, "output": true, "desc": true,
	"priority": true, "source": true, "enabled": true, "tags": true, "exceptions": true,
	"warn_evttypes": true, "skip-if-unknown-filter": true, "capture": true, "capture_duration": true,
	"append": true, "override": true}

func (l *Loader) readRule(file string, loc Location, m mapping) error {
	name, _, _, err := m.str("rule")
	loc.ItemType, loc.ItemName = "rule", name
	fail := func(msg string) error { return &Error{Loc: loc, Msg: msg} }
	if err != nil || name == "" {
		return fail("Mapping for key 'rule' is empty")
	}
	for _, k := range m.keys {
		if !knownRuleKeys[k.Value] {
			l.warn("LOAD_UNKNOWN_KEY", loc, fmt.Sprintf("Unexpected key '%s'", k.Value))
		}
	}
	app, ov, err := l.readAppendOverride(loc, m, ruleAppendKeys, ruleReplaceKeys)
	if err != nil {
		return fail(err.Error())
	}
	r, err := decodeRule(file, loc, m)
	if err != nil {
		return err
	}
	l.nextID()
	prev := l.ruleIdx[name]
	switch {
	case app || ov != nil:
		return l.changeRule(prev, r, m, app, ov)
	case !m.has("condition") && !m.has("output") && !m.has("desc") && !m.has("priority") && m.has("enabled"):
		// A rule item with only `enabled` toggles an existing rule.
		if prev == nil {
			return fail("Rule has 'enabled' key but no rule by that name already exists")
		}
		l.warn("LOAD_DEPRECATED_ITEM", loc, warnEnabled)
		prev.enabled = r.enabled
		return nil
	}
	return l.defineRule(prev, r, m)
}

// decodeRule decodes every key present in a rule item into a scratch rule.
func decodeRule(file string, loc Location, m mapping) (*ruleInfo, error) {
	fail := func(err error) (*ruleInfo, error) { return nil, &Error{Loc: loc, Msg: err.Error()} }
	r := &ruleInfo{name: loc.ItemName, source: "syscall", loc: loc, enabled: true, warnEvttypes: true}
	if s, _, has, err := m.str("source"); err != nil {
		return fail(err)
	} else if has && s != "" {
		r.source = s
	}
	var cn, on *yaml.Node
	var err error
	if r.cond, cn, _, err = m.str("condition"); err != nil {
		return fail(err)
	}
	if cn != nil {
		r.condLoc = condLocation{loc: nodeLoc(file, cn), style: cn.Style}
		r.condLoc.loc.ItemType, r.condLoc.loc.ItemName = "rule", r.name
	}
	if r.output, on, _, err = m.str("output"); err != nil {
		return fail(err)
	}
	if on != nil {
		r.outputLoc = nodeLoc(file, on)
		r.outputLoc.ItemType, r.outputLoc.ItemName = "rule", r.name
	}
	if r.desc, _, _, err = m.str("desc"); err != nil {
		return fail(err)
	}
	if p, _, has, err := m.str("priority"); err != nil {
		return fail(err)
	} else if has {
		pr, perr := alert.ParsePriority(p)
		if perr != nil || pr == alert.PriorityUnset {
			return fail(fmt.Errorf("Invalid priority '%s'", p))
		}
		r.priority = pr
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"enabled", &r.enabled}, {"warn_evttypes", &r.warnEvttypes},
		{"skip-if-unknown-filter", &r.skipUnknown}, {"capture", &r.capture}} {
		if v, has, err := m.boolean(b.key); err != nil {
			return fail(err)
		} else if has {
			*b.dst = v
		}
	}
	if r.tags, _, err = m.strList("tags"); err != nil {
		return fail(err)
	}
	if n, ok := m.vals["capture_duration"]; ok {
		if err := n.Decode(&r.captureDuration); err != nil {
			return fail(errors.New("Value for capture_duration must be an integer"))
		}
	}
	if n, ok := m.vals["exceptions"]; ok {
		if r.exceptions, err = readExceptions(file, loc, n); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// changeRule applies a rule item with `append: true` or `override:` to the
// rule defined before under the same name.
func (l *Loader) changeRule(prev, r *ruleInfo, m mapping, app bool, ov override) error {
	fail := func(msg string) error { return &Error{Loc: r.loc, Msg: msg} }
	if prev == nil {
		replace := false
		for _, mode := range ov {
			replace = replace || mode == "replace"
		}
		if replace && !app {
			return fail(errNoPreviousRuleReplace)
		}
		return fail(errNoPreviousRuleAppend)
	}
	if ov != nil {
		for _, k := range m.keys {
			if k.Value != "rule" && k.Value != "override" && k.Value != "source" && ov[k.Value] == "" {
				return fail(fmt.Sprintf("Unexpected key '%s': an override must specify a different key", k.Value))
			}
		}
	}
	if app {
		// Deprecated append: condition and exceptions are appended.
		if !m.has("condition") && !m.has("exceptions") {
			return fail("Appended rule must have exceptions or condition property")
		}
		if m.has("condition") {
			prev.cond += " " + r.cond
		}
		return l.mergeExceptions(prev, r.exceptions, true)
	}
	// Appends first, then replacements.
	for _, k := range ruleAppendKeys {
		if ov[k] != "append" {
			continue
		}
		switch k {
		case "condition":
			prev.cond += " " + r.cond
		case "output":
			prev.output += " " + r.output
		case "desc":
			prev.desc += " " + r.desc
		case "tags":
			prev.tags = append(prev.tags, r.tags...)
		case "exceptions":
			if err := l.mergeExceptions(prev, r.exceptions, true); err != nil {
				return err
			}
		}
	}
	for _, k := range ruleReplaceKeys {
		if ov[k] != "replace" {
			continue
		}
		if err := l.replaceRuleKey(prev, r, k); err != nil {
			return err
		}
	}
	return nil
}

// replaceRuleKey copies one key's value from r to prev (override: replace).
func (l *Loader) replaceRuleKey(prev, r *ruleInfo, k string) error {
	switch k {
	case "condition":
		prev.cond, prev.condLoc = r.cond, r.condLoc
	case "output":
		prev.output, prev.outputLoc = r.output, r.outputLoc
	case "desc":
		prev.desc = r.desc
	case "priority":
		prev.priority = r.priority
	case "tags":
		prev.tags = r.tags
	case "exceptions":
		prev.exceptions = nil
		return l.mergeExceptions(prev, r.exceptions, false)
	case "enabled":
		prev.enabled = r.enabled
	case "warn_evttypes":
		prev.warnEvttypes = r.warnEvttypes
	case "capture":
		prev.capture = r.capture
	case "capture_duration":
		prev.captureDuration = r.captureDuration
	case "skip-if-unknown-filter":
		prev.skipUnknown = r.skipUnknown
	}
	return nil
}

// defineRule adds a full rule definition, or replaces the one before it
// under the same name (keeping its place in definition order).
func (l *Loader) defineRule(prev, r *ruleInfo, m mapping) error {
	for _, k := range []string{"condition", "output", "desc", "priority"} {
		if !m.has(k) {
			return &Error{Loc: r.loc, Msg: fmt.Sprintf("Item has no mapping for key '%s'", k)}
		}
	}
	if strings.TrimSpace(r.cond) == "" {
		return &Error{Loc: r.loc, Msg: "Rule condition is empty"}
	}
	if !contains(l.cfg.Sources, r.source) {
		r.unknownSource = true
		l.warn("LOAD_UNKNOWN_SOURCE", r.loc, fmt.Sprintf("Unknown source %s, skipping", r.source))
	}
	exc := r.exceptions
	r.exceptions = nil
	if err := l.mergeExceptions(r, exc, false); err != nil {
		return err
	}
	if prev != nil {
		r.index = prev.index
		*prev = *r
		return nil
	}
	r.index = len(l.rules)
	l.rules = append(l.rules, r)
	l.ruleIdx[r.name] = r
	return nil
}

// mergeExceptions validates exceptions and adds them to r; when appending,
// values of an exception with an existing name are appended to it.
func (l *Loader) mergeExceptions(r *ruleInfo, exs []exceptionInfo, appending bool) error {
	for _, ex := range exs {
		if appending {
			found := false
			for i := range r.exceptions {
				if r.exceptions[i].name == ex.name {
					if ex.hasFields || ex.hasComps {
						return &Error{Loc: ex.loc, Msg: "Can not append exception fields to existing exception, only values"}
					}
					r.exceptions[i].values = append(r.exceptions[i].values, ex.values...)
					found = true
				}
			}
			if found {
				continue
			}
		}
		if !ex.hasFields {
			return &Error{Loc: ex.loc, Msg: "Item has no mapping for key 'fields'"}
		}
		if !ex.hasComps {
			def := "="
			if !ex.fieldsList {
				def = "in"
			}
			ex.comps = nil
			for range ex.fields {
				ex.comps = append(ex.comps, def)
			}
			ex.compsIsList = ex.fieldsList
		}
		if ex.fieldsList != ex.compsIsList || len(ex.fields) != len(ex.comps) {
			return &Error{Loc: ex.loc, Msg: "Fields and comps lists must have equal length"}
		}
		for _, c := range ex.comps {
			if !contains(Operators(), c) {
				return &Error{Loc: ex.loc, Msg: fmt.Sprintf("'%s' is not a supported comparison operator", c)}
			}
		}
		for _, f := range ex.fields {
			if _, err := parseFieldRef(f); err != nil {
				return &Error{Loc: ex.loc, Msg: fmt.Sprintf("'%s' is not a supported filter field", f)}
			}
		}
		if !ex.fieldsList {
			for _, v := range ex.values {
				if v.isList {
					return &Error{Loc: ex.loc, Msg: "Expected values array to contain a list of strings"}
				}
			}
		}
		if ex.fieldsList {
			for _, v := range ex.values {
				if !v.isList {
					return &Error{Loc: ex.loc, Msg: "Expected values array to contain a list of lists"}
				}
				if len(v.items) != len(ex.fields) {
					return &Error{Loc: ex.loc, Msg: "Fields and values lists must have equal length"}
				}
			}
		}
		r.exceptions = append(r.exceptions, ex)
	}
	return nil
}

// parseFieldRef checks that s is a field reference as the parser reads it.
func parseFieldRef(s string) (*FieldExpr, error) {
	lx := newLexer(s)
	if !lx.fieldName() {
		return nil, errors.New("not a field")
	}
	p := &parser{lx: lx}
	var f *FieldExpr
	if err := p.run(func() { f = p.parseFieldRemainder(lx.last, Pos{}) }); err != nil {
		return nil, err
	}
	if !lx.eof() {
		return nil, errors.New("trailing characters")
	}
	return f, nil
}

func readExceptions(file string, ruleLoc Location, n *yaml.Node) ([]exceptionInfo, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, &Error{Loc: ruleLoc, Msg: "Rule exceptions must be a sequence"}
	}
	var out []exceptionInfo
	for _, en := range n.Content {
		em, ok := asMapping(en)
		loc := nodeLoc(file, en)
		loc.ItemType, loc.ItemName = "exception", ""
		if !ok {
			return nil, &Error{Loc: loc, Msg: "Rule exception must be a map"}
		}
		name, _, _, _ := em.str("name")
		loc.ItemName = name
		if name == "" {
			return nil, &Error{Loc: loc, Msg: "Item has no mapping for key 'name'"}
		}
		ex := exceptionInfo{name: name, loc: loc}
		if f, ok := em.vals["fields"]; ok {
			ex.hasFields = true
			switch f.Kind {
			case yaml.ScalarNode:
				ex.fields = []string{f.Value}
			case yaml.SequenceNode:
				ex.fieldsList = true
				for _, c := range f.Content {
					ex.fields = append(ex.fields, c.Value)
				}
			default:
				return nil, &Error{Loc: loc, Msg: "Rule exception fields must be a string or a sequence"}
			}
		}
		if c, ok := em.vals["comps"]; ok {
			ex.hasComps = true
			switch c.Kind {
			case yaml.ScalarNode:
				ex.comps = []string{c.Value}
			case yaml.SequenceNode:
				ex.compsIsList = true
				for _, x := range c.Content {
					ex.comps = append(ex.comps, x.Value)
				}
			default:
				return nil, &Error{Loc: loc, Msg: "Rule exception comps must be a string or a sequence"}
			}
		}
		if v, ok := em.vals["values"]; ok && !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
			if v.Kind != yaml.SequenceNode {
				return nil, &Error{Loc: loc, Msg: "Rule exception values must be a sequence"}
			}
			for _, c := range v.Content {
				ev, err := readExceptionValue(c)
				if err != nil {
					return nil, &Error{Loc: loc, Msg: err.Error()}
				}
				ex.values = append(ex.values, ev)
			}
		}
		out = append(out, ex)
	}
	return out, nil
}

func readExceptionValue(n *yaml.Node) (exceptionValue, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return exceptionValue{item: n.Value}, nil
	case yaml.SequenceNode:
		v := exceptionValue{isList: true}
		for _, c := range n.Content {
			cv, err := readExceptionValue(c)
			if err != nil {
				return v, err
			}
			v.items = append(v.items, cv)
		}
		return v, nil
	}
	return exceptionValue{}, errors.New("Rule exception values must be strings or sequences")
}

// Semantic versions.

func parseSemver(s string) ([3]int, error) {
	var v [3]int
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("invalid version %q", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("invalid version %q", s)
		}
		v[i] = n
	}
	return v, nil
}

func mustSemver(s string) [3]int { v, _ := parseSemver(s); return v }

// parseEngineVersion accepts Falco's legacy integer form (N means 0.N.0).
func parseEngineVersion(s string) ([3]int, error) {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
		return [3]int{0, n, 0}, nil
	}
	return parseSemver(s)
}

func compareSemver(a, b [3]int) int {
	for i := 0; i < 3; i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// sortedTags returns the tags as a sorted set, as Falco stores them.
func sortedTags(tags []string) []string {
	set := map[string]bool{}
	var out []string
	for _, t := range tags {
		if !set[t] {
			set[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}
