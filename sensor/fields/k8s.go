package fields

import (
	"sort"

	"github.com/saker-sec/saker/sensor/event"
)

func sortStrings(s []string) { sort.Strings(s) }

// k8sStr registers a Kubernetes field: missing on the host and for
// containers outside a pod. When the container runtime did not fill the
// Container's Kubernetes fields, the kubelet's io.kubernetes.* container
// label named by label is used, as the container plugin does.
func k8sStr(name, desc, label string, get func(c *event.Container) string) {
	simple(name, String, desc, func(ev *event.Event) (Value, bool) {
		if ev.Container == nil {
			return Value{}, false
		}
		s := get(ev.Container)
		if s == "" && label != "" {
			s = ev.Container.Labels[label]
		}
		if s == "" {
			return Value{}, false
		}
		return Value{S: s}, true
	})
}

func init() {
	k8sStr("k8s.ns.name", "Kubernetes namespace of the pod.", "io.kubernetes.pod.namespace", func(c *event.Container) string { return c.Namespace })
	k8sStr("k8s.pod.name", "Kubernetes pod name.", "io.kubernetes.pod.name", func(c *event.Container) string { return c.PodName })
	k8sStr("k8s.pod.uid", "Kubernetes pod UID.", "io.kubernetes.pod.uid", func(c *event.Container) string { return c.PodUID })
	k8sStr("k8s.pod.id", "Kubernetes pod UID (legacy alias of k8s.pod.uid).", "io.kubernetes.pod.uid", func(c *event.Container) string { return c.PodUID })
	labelField("k8s.pod.label", "A pod label: k8s.pod.label[app].", func(c *event.Container) map[string]string { return c.PodLabels })
	simple("k8s.pod.labels", String, "All pod labels as key:value, separated by \", \".", func(ev *event.Event) (Value, bool) {
		if ev.Container == nil || ev.Container.PodName == "" {
			return Value{}, false
		}
		return Value{S: joinLabels(ev.Container.PodLabels)}, true
	})
	k8sStr("k8s.pod.sandbox_id", "Kubernetes pod sandbox id (truncated to 12 characters).", "", func(c *event.Container) string {
		if id := c.Labels["io.kubernetes.sandbox.id"]; len(id) > 12 {
			return id[:12]
		}
		return c.Labels["io.kubernetes.sandbox.id"]
	})
}
