package fields

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/saker-sec/saker/sensor/event"
)

// HostContainerID is container.id (and container.name) for host processes.
const HostContainerID = "host"

// containerStr registers a string field of the event's container; on the
// host it is onHost (present) unless missingOnHost.
func containerStr(name, desc, onHost string, missingOnHost bool, get func(c *event.Container) string) {
	isID := name == "container.id"
	simpleStr(name, desc, func(ev *event.Event) (string, bool) {
		c := ev.Container
		if c == nil {
			if ev.Thread != nil && ev.Thread.ContainerID != "" {
				// in a container whose metadata is not known (yet)
				if isID {
					return ev.Thread.ContainerID, true
				}
				return "", false
			}
			if missingOnHost {
				return "", false
			}
			return onHost, true
		}
		return get(c), true
	})
}

// mountsString renders container.mounts as Falco does:
// source:dest:mode:rdwr:propagation, comma-separated.
func mountString(m event.Mount) string {
	return m.Source + ":" + m.Dest + ":" + m.Mode + ":" + strconv.FormatBool(m.RW) + ":" + m.Propagation
}

// findMount resolves container.mount*[KEY]: KEY is an index into the
// mounts or a glob pattern matched against the mount source (for
// container.mount.dest, container.mount.mode…) or destination (for
// container.mount.source).
func findMount(c *event.Container, key string, index int, bySource bool) (event.Mount, bool) {
	if n := index; n >= 0 {
		if n < len(c.Mounts) {
			return c.Mounts[n], true
		}
		return event.Mount{}, false
	}
	for _, m := range c.Mounts {
		s := m.Dest
		if bySource {
			s = m.Source
		}
		if globMatch(key, s) {
			return m, true
		}
	}
	return event.Mount{}, false
}

func mountField(name, desc string, bySource bool, get func(m event.Mount) string) {
	register(&Field{Name: name, Type: String, Desc: desc, Arg: RequiredArg,
		make: func(arg string, hasArg bool) (Extractor, error) {
			if arg == "" {
				return nil, fmt.Errorf("a mount index or pattern is required")
			}
			index := -1 // parsed once: Atoi's error allocates
			if n, err := strconv.Atoi(arg); err == nil && n >= 0 {
				index = n
			}
			return func(ev *event.Event) (Value, bool) {
				if ev.Container == nil {
					return Value{}, false
				}
				m, ok := findMount(ev.Container, arg, index, bySource)
				if !ok {
					// "N/A", as libs reports no such mount: the official
					// sensitive_mount macro tests `not …[/proc*] in
					// ("<NA>","N/A")`, which a missing value turns true for
					// every container.
					return Value{S: "N/A"}, true
				}
				return Value{S: get(m)}, true
			}, nil
		}})
}

func labelField(name, desc string, labels func(c *event.Container) map[string]string) {
	register(&Field{Name: name, Type: String, Desc: desc, Arg: KeyArg,
		make: func(arg string, hasArg bool) (Extractor, error) {
			return func(ev *event.Event) (Value, bool) {
				if ev.Container == nil {
					return Value{}, false
				}
				v, ok := labels(ev.Container)[arg]
				return Value{S: v}, ok
			}, nil
		}})
}

func init() {
	containerStr("container.id", "Container id (12 characters), or \"host\" for host processes.", HostContainerID, false, func(c *event.Container) string { return c.ID })
	containerStr("container.full_id", "Full container id (64 characters), or \"host\".", HostContainerID, false, func(c *event.Container) string {
		if c.FullID != "" {
			return c.FullID
		}
		return c.ID
	})
	containerStr("container.name", "Container name, or \"host\" for host processes.", HostContainerID, false, func(c *event.Container) string { return c.Name })
	containerStr("container.image", "Container image as the runtime reports it (nginx:1.25); empty on the host.", "", false, func(c *event.Container) string { return c.Image })
	containerStr("container.image.id", "Container image id; empty on the host.", "", false, func(c *event.Container) string { return c.ImageID })
	containerStr("container.image.repository", "Container image repository (docker.io/library/nginx or as named); empty on the host.", "", false, func(c *event.Container) string { return c.Repository })
	containerStr("container.image.tag", "Container image tag; empty on the host.", "", false, func(c *event.Container) string { return c.Tag })
	containerStr("container.type", "Container runtime: docker, containerd, cri-o, podman; \"host\" on the host.", HostContainerID, false, func(c *event.Container) string { return c.Runtime })
	simple("container.privileged", Bool, "True for a container running privileged (false on the host).", func(ev *event.Event) (Value, bool) {
		if ev.Container == nil {
			// The container plugin knows the host as a container that
			// is not privileged; unknown containers have no value.
			if ev.Thread != nil && ev.Thread.ContainerID != "" {
				return Value{}, false
			}
			return Value{}, true
		}
		return boolVal(ev.Container.Privileged), true
	})
	simple("container.start_ts", AbsTime, "Container start time, ns since the epoch.", func(ev *event.Event) (Value, bool) {
		if ev.Container == nil || ev.Container.StartTS == 0 {
			return Value{}, false
		}
		return Value{N: ev.Container.StartTS}, true
	})
	simple("container.duration", RelTime, "Nanoseconds since the container started.", func(ev *event.Event) (Value, bool) {
		if ev.Container == nil || ev.Container.StartTS == 0 {
			return Value{}, false
		}
		return Value{N: ev.TS - ev.Container.StartTS}, true
	})
	simple("container.mounts", String, "Container mounts as source:dest:mode:rdwr:propagation, comma-separated.", func(ev *event.Event) (Value, bool) {
		if ev.Container == nil {
			return Value{}, false
		}
		parts := make([]string, len(ev.Container.Mounts))
		for i, m := range ev.Container.Mounts {
			parts[i] = mountString(m)
		}
		return Value{S: strings.Join(parts, ",")}, true
	})
	mountField("container.mount", "One mount (index, or glob over the source) as source:dest:mode:rdwr:propagation.", true, mountString)
	mountField("container.mount.source", "Source of a mount chosen by index or by a glob over its destination.", false, func(m event.Mount) string { return m.Source })
	mountField("container.mount.dest", "Destination of a mount chosen by index or by a glob over its source.", true, func(m event.Mount) string { return m.Dest })
	mountField("container.mount.mode", "Mode of a mount chosen by index or by a glob over its source.", true, func(m event.Mount) string { return m.Mode })
	mountField("container.mount.rdwr", "Read/write flag (true/false) of a mount chosen by index or by a glob over its source.", true, func(m event.Mount) string { return strconv.FormatBool(m.RW) })
	mountField("container.mount.propagation", "Propagation of a mount chosen by index or by a glob over its source.", true, func(m event.Mount) string { return m.Propagation })
	labelField("container.label", "A container label: container.label[com.example.app].", func(c *event.Container) map[string]string { return c.Labels })
	simple("container.labels", String, "All container labels as key:value, separated by \", \" (io.kubernetes.* and annotations left out).", func(ev *event.Event) (Value, bool) {
		if ev.Container == nil {
			return Value{}, false
		}
		return Value{S: joinLabels(ev.Container.Labels)}, true
	})
}

// joinLabels renders container.labels / k8s.pod.labels as the container
// plugin does: sorted "key:value" (or "key" for empty values) joined by
// ", ", without annotations and io.kubernetes.* internal labels.
func joinLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if strings.HasPrefix(k, "annotation.") || strings.HasPrefix(k, "io.kubernetes.") {
			continue
		}
		keys = append(keys, k)
	}
	sortStrings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		if v := m[k]; v != "" {
			b.WriteByte(':')
			b.WriteString(v)
		}
	}
	return b.String()
}

// globMatch is fnmatch(3) without FNM_PATHNAME, as Falco matches mount
// keys: '*' also matches '/', '?' one byte, '[...]' a class.
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				nextPx, nextSx = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			case '[':
				if sx < len(s) {
					if end := strings.IndexByte(pattern[px+1:], ']'); end >= 0 {
						if classMatch(pattern[px+1:px+1+end], s[sx]) {
							px += end + 2
							sx++
							continue
						}
					}
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextSx > 0 && nextSx <= len(s) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}

func classMatch(class string, c byte) bool {
	neg := false
	if class != "" && (class[0] == '!' || class[0] == '^') {
		neg, class = true, class[1:]
	}
	match := false
	for i := 0; i < len(class); i++ {
		if i+2 < len(class) && class[i+1] == '-' {
			if class[i] <= c && c <= class[i+2] {
				match = true
			}
			i += 2
			continue
		}
		if class[i] == c {
			match = true
		}
	}
	return match != neg
}
