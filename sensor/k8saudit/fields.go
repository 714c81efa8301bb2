package k8saudit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/fields"
)

// Plugins returns the Falco plugins whose fields this package provides,
// with the versions whose field sets it implements, for rules files'
// required_plugin_versions (k8s_audit_rules.yaml asks for k8saudit 0.18.0
// and json 0.7.0).
func Plugins() map[string]string {
	return map[string]string{"k8saudit": "0.18.0", "json": "0.7.0"}
}

// Fields is the k8s_audit source's field set for the rule compiler
// (rules.Config.Fields[Source]).
type Fields struct{}

// extract reads one field of an audit event.
type extract func(ev *Event) (fields.Value, bool)

// fieldDef is one field: its description and how to build its extractor
// for an argument (idx is the argument as an index, -1 when it is none).
type fieldDef struct {
	fields.Field
	list  bool
	build func(arg string, idx int) extract
}

var defs = map[string]*fieldDef{}

// All returns the k8s_audit fields sorted by name, for `saker rules fields`.
func (Fields) All() []*fields.Field {
	out := make([]*fields.Field, 0, len(defs))
	for _, d := range defs {
		out = append(out, &d.Field)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// names returns every field name (the output formatter's longest-prefix
// match uses it).
func (Fields) names() []string {
	out := make([]string, 0, len(defs))
	for n := range defs {
		out = append(out, n)
	}
	return out
}

// Resolve binds a field reference as written in a condition or output.
func (Fields) Resolve(name, arg string, hasArg bool) (fields.Resolved, error) {
	d, ok := defs[name]
	if !ok {
		return fields.Resolved{}, fmt.Errorf("unknown field %q", name)
	}
	switch {
	case d.Arg == fields.NoArg && hasArg:
		return fields.Resolved{}, fmt.Errorf("field %q does not take an argument", name)
	case d.Arg == fields.RequiredArg && (!hasArg || arg == ""):
		return fields.Resolved{}, fmt.Errorf("field %q requires an argument", name)
	}
	idx := -1
	if d.Arg == fields.IndexArg && hasArg {
		// The plugin ignores an argument that is not an index.
		if n, err := strconv.Atoi(arg); err == nil && n >= 0 {
			idx = n
		}
	}
	ex := d.build(arg, idx)
	return fields.Resolved{
		Field: &d.Field, Arg: arg, HasArg: hasArg, Type: fields.String,
		List: d.list, Multi: d.list,
		Extract: func(ev *event.Event) (fields.Value, bool) {
			a, ok := ev.Plugin.(*Event)
			if !ok || a.Obj == nil {
				return fields.Value{}, false
			}
			return ex(a)
		},
	}, nil
}

func def(name, desc string, arg fields.ArgKind, list bool, build func(arg string, idx int) extract) {
	if _, dup := defs[name]; dup {
		panic("k8saudit: duplicate field " + name)
	}
	defs[name] = &fieldDef{Field: fields.Field{Name: name, Type: fields.String, Desc: desc, Arg: arg}, list: list, build: build}
}

// text is a JSON value as the plugins render it: a string's content, any
// other value's JSON text. Strings alias the parsed event.
func text(v *fastjson.Value) string {
	if v.Type() == fastjson.TypeString {
		b := v.GetStringBytes()
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	return string(v.MarshalTo(nil))
}

func str(s string) (fields.Value, bool) { return fields.Value{S: s}, true }

// list is a list value; an empty list is a missing value, as in Falco.
func list(l []string) (fields.Value, bool) {
	if len(l) == 0 {
		return fields.Value{}, false
	}
	return fields.Value{List: l, IsList: true}, true
}

// at reads the value at keys.
func at(keys ...string) func(string, int) extract {
	return func(string, int) extract { return scalar(keys) }
}

// scalar extracts the value at keys as text, through the event's cache
// when the path has a slot: most rules start with the same few paths
// (stage, verb, user, objectRef), each then walked once per event.
func scalar(keys []string) extract {
	slot := slotFor(keys)
	return func(ev *Event) (fields.Value, bool) {
		if slot >= 0 {
			bit := uint32(1) << slot
			c := &ev.cache[slot]
			if ev.have&bit == 0 {
				if v := ev.Obj.Get(keys...); v != nil {
					c.s, c.ok = text(v), true
				}
				ev.have |= bit
			}
			return fields.Value{S: c.s}, c.ok
		}
		v := ev.Obj.Get(keys...)
		if v == nil {
			return fields.Value{}, false
		}
		return str(text(v))
	}
}

// cacheSlots is how many distinct scalar paths events cache.
const cacheSlots = 32

// slots numbers scalar paths as rules resolve them, up to cacheSlots.
var slots = struct {
	sync.Mutex
	ids map[string]int
}{ids: map[string]int{}}

func slotFor(keys []string) int {
	k := strings.Join(keys, "\x00")
	slots.Lock()
	defer slots.Unlock()
	if id, ok := slots.ids[k]; ok {
		return id
	}
	if len(slots.ids) >= cacheSlots {
		return -1
	}
	id := len(slots.ids)
	slots.ids[k] = id
	return id
}

// elems returns the array at keys, or its idx-th element alone.
func elems(ev *Event, idx int, keys ...string) ([]*fastjson.Value, bool) {
	arr := ev.Obj.GetArray(keys...)
	if arr == nil {
		return nil, false
	}
	if idx >= 0 {
		if idx >= len(arr) {
			return nil, false
		}
		return arr[idx : idx+1], true
	}
	return arr, true
}

// repository strips an image reference's tag and digest, as the plugin
// does.
func repository(image string) string {
	image, _, _ = strings.Cut(image, ":")
	image, _, _ = strings.Cut(image, "@")
	return image
}

// collect lists, over the array at path (or its indexed element), what
// add appends for each element; a missing array is a missing value.
func collect(path []string, add func(l []string, ev *Event, e *fastjson.Value) []string) func(string, int) extract {
	return func(_ string, idx int) extract {
		return func(ev *Event) (fields.Value, bool) {
			arr, ok := elems(ev, idx, path...)
			if !ok {
				return fields.Value{}, false
			}
			l := make([]string, 0, len(arr))
			for _, e := range arr {
				l = add(l, ev, e)
			}
			return list(l)
		}
	}
}

// listAt reads the array at keys (or its indexed element) as a list.
func listAt(keys ...string) func(string, int) extract {
	return collect(keys, func(l []string, _ *Event, e *fastjson.Value) []string { return append(l, text(e)) })
}

// each lists, for every element of the array at path (or the indexed
// one), the value at keys. Elements without it are skipped, as the
// fields' descriptions promise. (The plugin's code fails the whole field
// when any element lacks the key — a nil check on the wrong variable —
// which would hide a privileged container behind an unprivileged one.)
func each(path []string, keys ...string) func(string, int) extract {
	return collect(path, func(l []string, _ *Event, e *fastjson.Value) []string {
		if v := e.Get(keys...); v != nil {
			l = append(l, text(v))
		}
		return l
	})
}

// flat lists, across the elements of the array at path, the items of the
// array at keys (each container's added capabilities).
func flat(path []string, keys ...string) func(string, int) extract {
	return collect(path, func(l []string, _ *Event, e *fastjson.Value) []string {
		for _, v := range e.GetArray(keys...) {
			l = append(l, text(v))
		}
		return l
	})
}

// effective lists each container's securityContext key, defaulting to the
// pod's, then to "0" (eff_run_as_user / eff_run_as_group).
func effective(path []string, key string) func(string, int) extract {
	return collect(path, func(l []string, ev *Event, e *fastjson.Value) []string {
		if v := e.Get("securityContext", key); v != nil {
			return append(l, text(v))
		}
		if v := ev.Obj.Get("requestObject", "spec", "securityContext", key); v != nil {
			return append(l, text(v))
		}
		return append(l, "0")
	})
}

// hostPorts lists each container port's hostPort, or its containerPort
// when it has none (with hostNetwork they are the same).
func hostPorts(path []string) func(string, int) extract {
	return collect(path, func(l []string, _ *Event, c *fastjson.Value) []string {
		for _, p := range c.GetArray("ports") {
			if v := p.Get("hostPort"); v != nil {
				l = append(l, text(v))
			} else if v := p.Get("containerPort"); v != nil {
				l = append(l, text(v))
			}
		}
		return l
	})
}

// images lists the containers' images, or their repositories.
func images(path []string, repo bool) func(string, int) extract {
	return collect(path, func(l []string, _ *Event, c *fastjson.Value) []string {
		v := c.Get("image")
		if v == nil {
			return l
		}
		if repo {
			return append(l, repository(text(v)))
		}
		return append(l, text(v))
	})
}

// ruleItems flattens one key of every RBAC rule (ka.req.role.rules.verbs);
// rules without any give an empty but present list, as the plugin sets.
func ruleItems(key string) func(string, int) extract {
	return func(arg string, idx int) extract {
		ex := flat([]string{"requestObject", "rules"}, key)(arg, idx)
		return func(ev *Event) (fields.Value, bool) {
			if v, ok := ex(ev); ok {
				return v, true
			}
			if _, ok := elems(ev, idx, "requestObject", "rules"); ok {
				return fields.Value{List: []string{}, IsList: true}, true
			}
			return fields.Value{}, false
		}
	}
}

// jsonPointer reads an RFC 6901 pointer (json.value[/a/b]).
func jsonPointer(ptr string, _ int) extract {
	keys := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, k := range keys {
		keys[i] = strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~")
	}
	return scalar(keys)
}

// wholeObject is json.obj: the event indented, as the json plugin prints it.
func wholeObject(string, int) extract {
	return func(ev *Event) (fields.Value, bool) {
		var out bytes.Buffer
		if err := json.Indent(&out, ev.Obj.MarshalTo(nil), "", "  "); err != nil {
			return fields.Value{}, false
		}
		return str(out.String())
	}
}

func rawTime(string, int) extract {
	return func(ev *Event) (fields.Value, bool) { return str(ev.rawTime()) }
}

var (
	spec       = []string{"requestObject", "spec"}
	containers = []string{"requestObject", "spec", "containers"}
	volumes    = []string{"requestObject", "spec", "volumes"}
)

func init() {
	const no, idx, key = fields.NoArg, fields.IndexArg, fields.RequiredArg
	def("ka.auditid", "The unique id of the audit event", no, false, at("auditID"))
	def("ka.stage", "Stage of the request (e.g. RequestReceived, ResponseComplete, etc.)", no, false, at("stage"))
	def("ka.auth.decision", "The authorization decision", no, false, at("annotations", "authorization.k8s.io/decision"))
	def("ka.auth.reason", "The authorization reason", no, false, at("annotations", "authorization.k8s.io/reason"))
	def("ka.user.name", "The user name performing the request", no, false, at("user", "username"))
	def("ka.user.groups", "The groups to which the user belongs", no, true, listAt("user", "groups"))
	def("ka.impuser.name", "The impersonated user name", no, false, at("impersonatedUser", "username"))
	def("ka.verb", "The action being performed", no, false, at("verb"))
	def("ka.uri", "The request URI as sent from client to server", no, false, at("requestURI"))
	def("ka.uri.param", "The value of a given query parameter in the uri (e.g. when uri=/foo?key=val, ka.uri.param[key] is val).", key, false,
		func(arg string, _ int) extract {
			return func(ev *Event) (fields.Value, bool) {
				uri := ev.Obj.GetStringBytes("requestURI")
				if uri == nil {
					return fields.Value{}, false
				}
				u, err := url.Parse(string(uri))
				if err != nil {
					return fields.Value{}, false
				}
				q, err := url.ParseQuery(u.RawQuery)
				if err != nil || len(q[arg]) == 0 {
					return fields.Value{}, false
				}
				return str(q[arg][0])
			}
		})
	def("ka.target.name", "The target object name", no, false, at("objectRef", "name"))
	def("ka.target.namespace", "The target object namespace", no, false, at("objectRef", "namespace"))
	def("ka.target.resource", "The target object resource", no, false, at("objectRef", "resource"))
	def("ka.target.subresource", "The target object subresource", no, false, at("objectRef", "subresource"))
	def("ka.req.binding.subjects", "When the request object refers to a cluster role binding, the subject (e.g. account/users) being linked by the binding", no, true, listAt("requestObject", "subjects"))
	def("ka.req.binding.role", "When the request object refers to a cluster role binding, the role being linked by the binding", no, false, at("requestObject", "roleRef", "name"))
	def("ka.req.binding.subject.has_name", "Deprecated, always returns \"true\". Only provided for backwards compatibility", key, false,
		func(string, int) extract { return func(*Event) (fields.Value, bool) { return str("true") } })
	def("ka.req.configmap.name", "If the request object refers to a configmap, the configmap name", no, false, at("objectRef", "name"))
	def("ka.req.configmap.obj", "If the request object refers to a configmap, the entire configmap object", no, false, at("requestObject", "data"))
	def("ka.req.container.image", "Deprecated by ka.req.pod.containers.image. Returns the image of the first container only", no, false, first(images(containers, false)))
	def("ka.req.container.image.repository", "Deprecated by ka.req.pod.containers.image.repository. Returns the repository of the first container only", no, false, first(images(containers, true)))
	def("ka.req.pod.host_ipc", "When the request object refers to a pod, the value of the hostIPC flag.", no, false, at("requestObject", "spec", "hostIPC"))
	def("ka.req.pod.host_network", "When the request object refers to a pod, the value of the hostNetwork flag.", no, false, at("requestObject", "spec", "hostNetwork"))
	def("ka.req.container.host_network", "Deprecated alias for ka.req.pod.host_network", no, false, at("requestObject", "spec", "hostNetwork"))
	def("ka.req.pod.host_pid", "When the request object refers to a pod, the value of the hostPID flag.", no, false, at("requestObject", "spec", "hostPID"))
	def("ka.req.container.privileged", "Deprecated by ka.req.pod.containers.privileged. Returns true if any container has privileged=true", no, false,
		func(string, int) extract {
			return func(ev *Event) (fields.Value, bool) {
				arr := ev.Obj.GetArray(containers...)
				if arr == nil {
					return fields.Value{}, false
				}
				for _, c := range arr {
					if c.GetBool("securityContext", "privileged") {
						return str("true")
					}
				}
				return str("false")
			}
		})
	def("ka.req.pod.run_as_user", "When the request object refers to a pod, the runAsUser uid specified in the security context for the pod. See ....containers.run_as_user for the runAsUser for individual containers", no, false, at("requestObject", "spec", "securityContext", "runAsUser"))
	def("ka.req.pod.run_as_group", "When the request object refers to a pod, the runAsGroup gid specified in the security context for the pod. See ....containers.run_as_group for the runAsGroup for individual containers", no, false, at("requestObject", "spec", "securityContext", "runAsGroup"))
	def("ka.req.pod.fs_group", "When the request object refers to a pod, the fsGroup gid specified by the security context.", no, false, at("requestObject", "spec", "securityContext", "fsGroup"))
	def("ka.req.pod.supplemental_groups", "When the request object refers to a pod, the supplementalGroup gids specified by the security context.", no, true, listAt("requestObject", "spec", "securityContext", "supplementalGroups"))
	def("ka.req.role.rules", "When the request object refers to a role/cluster role, the rules associated with the role", no, true, listAt("requestObject", "rules"))
	for _, k := range []string{"apiGroups", "nonResourceURLs", "verbs", "resources"} {
		def("ka.req.role.rules."+k, "When the request object refers to a role/cluster role, the "+k+" associated with the role's rules", idx, true, ruleItems(k))
	}
	def("ka.req.service.type", "When the request object refers to a service, the service type", no, false, at("requestObject", "spec", "type"))
	def("ka.req.service.ports", "When the request object refers to a service, the service's ports", idx, true, listAt("requestObject", "spec", "ports"))
	def("ka.req.pod.volumes.hostpath", "When the request object refers to a pod, all hostPath paths specified for all volumes", idx, true, each(volumes, "hostPath", "path"))
	def("ka.req.volume.hostpath", "Deprecated by ka.req.pod.volumes.hostpath. Return true if the provided (host) path prefix is used by any volume", key, false,
		func(arg string, _ int) extract {
			prefix, isPrefix := strings.CutSuffix(arg, "*")
			return func(ev *Event) (fields.Value, bool) {
				arr := ev.Obj.GetArray(volumes...)
				if arr == nil {
					return fields.Value{}, false
				}
				for _, v := range arr {
					p := v.GetStringBytes("hostPath", "path")
					if p != nil && (isPrefix && bytes.HasPrefix(p, []byte(prefix)) || string(p) == arg) {
						return str("true")
					}
				}
				return str("false")
			}
		})
	def("ka.req.pod.volumes.flexvolume_driver", "When the request object refers to a pod, all flexvolume drivers specified for all volumes", idx, true, each(volumes, "flexVolume", "driver"))
	def("ka.req.pod.volumes.volume_type", "When the request object refers to a pod, all volume types for all volumes", idx, true,
		collect(volumes, func(l []string, _ *Event, v *fastjson.Value) []string {
			if o, err := v.Object(); err == nil {
				o.Visit(func(k []byte, _ *fastjson.Value) {
					if string(k) != "name" {
						l = append(l, string(k))
					}
				})
			}
			return l
		}))
	def("ka.resp.name", "The response object name", no, false, at("responseObject", "metadata", "name"))
	def("ka.response.code", "The response code", no, false, at("responseStatus", "code"))
	def("ka.response.reason", "The response reason (usually present only for failures)", no, false, at("responseStatus", "reason"))
	def("ka.useragent", "The useragent of the client who made the request to the apiserver", no, false, at("userAgent"))
	def("ka.sourceips", "The IP addresses of the client who made the request to the apiserver", idx, true, listAt("sourceIPs"))

	// Per-container fields, for containers, initContainers and
	// ephemeralContainers alike.
	for _, kind := range []string{"containers", "initContainers", "ephemeralContainers"} {
		path := append(append([]string(nil), spec...), kind)
		what := map[string]string{"containers": "containers", "initContainers": "init containers", "ephemeralContainers": "ephemeral containers"}[kind]
		p := "ka.req.pod." + kind + "."
		d := func(name, desc string, build func(string, int) extract) {
			def(p+name, "When the request object refers to a pod, "+desc+" for all "+what+".", idx, true, build)
		}
		d("image", "the images", images(path, false))
		d("image.repository", "the image repositories (e.g. falcosecurity/falco)", images(path, true))
		d("host_port", "the hostPort values (containerPort when none)", hostPorts(path))
		d("privileged", "the value of the privileged flag", each(path, "securityContext", "privileged"))
		d("allow_privilege_escalation", "the value of the allowPrivilegeEscalation flag", each(path, "securityContext", "allowPrivilegeEscalation"))
		d("read_only_fs", "the value of the readOnlyRootFilesystem flag", each(path, "securityContext", "readOnlyRootFilesystem"))
		d("run_as_user", "the runAsUser uid", each(path, "securityContext", "runAsUser"))
		d("eff_run_as_user", "the initial uid (container, else pod security context, else 0)", effective(path, "runAsUser"))
		d("run_as_group", "the runAsGroup gid", each(path, "securityContext", "runAsGroup"))
		d("eff_run_as_group", "the initial gid (container, else pod security context, else 0)", effective(path, "runAsGroup"))
		d("proc_mount", "the procMount types", each(path, "securityContext", "procMount"))
		d("add_capabilities", "the capabilities added", flat(path, "securityContext", "capabilities", "add"))
		if kind != "containers" {
			d("name", "the names", each(path, "name"))
			d("command", "the commands", each(path, "command"))
			d("args", "the args", each(path, "args"))
		}
	}

	// The json plugin's fields; jevt.* are its aliases kept for old rules.
	for _, ns := range []string{"json", "jevt"} {
		def(ns+".value", "Extracts a value from a JSON-encoded input. Syntax is "+ns+".value[<json pointer>], where <json pointer> is a json pointer (see https://datatracker.ietf.org/doc/html/rfc6901)", key, false, jsonPointer)
		def(ns+".obj", "The full json message as a text string.", no, false, wholeObject)
		def(ns+".rawtime", "The time of the event, identical to evt.rawtime.", no, false, rawTime)
	}
}

// first takes a list field's first element (the deprecated
// ka.req.container.* fields).
func first(build func(string, int) extract) func(string, int) extract {
	return func(arg string, _ int) extract {
		ex := build(arg, 0)
		return func(ev *Event) (fields.Value, bool) {
			v, ok := ex(ev)
			if !ok {
				return v, false
			}
			return str(v.List[0])
		}
	}
}
