package state

import (
	"regexp"
	"strings"
)

// Container runtimes as container.type reports them.
const (
	RuntimeDocker     = "docker"
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimePodman     = "podman"
)

// containerIDRe finds a 64-hex container id in the last component of a
// cgroup path, with the runtime's prefix and systemd's ".scope" suffix.
var containerIDRe = regexp.MustCompile(`(?:^|[-/])([0-9a-f]{64})(?:\.scope)?$`)

// ContainerIDFromCgroup extracts the container id and runtime from a cgroup
// path or from its last component alone (the probe sends only the leaf):
//
//	/docker/<id>                                    docker (cgroupfs driver)
//	/system.slice/docker-<id>.scope                 docker (systemd driver)
//	/kubepods/besteffort/pod<uid>/<id>              containerd / cri-o (cgroupfs)
//	/kubepods.slice/…/cri-containerd-<id>.scope     containerd (systemd)
//	/kubepods.slice/…/crio-<id>.scope               cri-o
//	/machine.slice/libpod-<id>.scope, /libpod_parent/libpod-<id>  podman
//
// It returns the full id and the runtime, or "" for host processes and for
// the runtimes' own conmon/shim cgroups.
func ContainerIDFromCgroup(path string) (id, runtime string) {
	path = strings.TrimRight(path, "/")
	leaf := path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		leaf = path[i+1:]
	}
	m := containerIDRe.FindStringSubmatch(leaf)
	if m == nil {
		return "", ""
	}
	id = m[1]
	prefix := strings.TrimSuffix(leaf[:strings.Index(leaf, id)], "-")
	switch {
	case strings.HasSuffix(prefix, "conmon"):
		return "", "" // crio-conmon-<id>, libpod-conmon-<id>: the monitor, not the container
	case prefix == "docker":
		return id, RuntimeDocker
	case prefix == "cri-containerd":
		return id, RuntimeContainerd
	case prefix == "crio":
		return id, RuntimeCRIO
	case prefix == "libpod":
		return id, RuntimePodman
	case prefix == "":
		switch {
		case strings.Contains(path, "/docker/"), strings.HasPrefix(path, "docker/"):
			return id, RuntimeDocker
		case strings.Contains(path, "kubepods"):
			return id, RuntimeContainerd
		}
		// A bare id (or only the leaf, which is what the probe sends) is
		// what docker's cgroupfs driver creates.
		return id, RuntimeDocker
	}
	return "", ""
}

// ShortID is the 12-character container id Falco prints.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
