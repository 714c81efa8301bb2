// Package k8spod acts on Kubernetes pods for response actions: it labels,
// annotates or deletes one pod through the API server (client-go),
// reached with a kubeconfig or, inside a cluster, the pod's service
// account. It needs only get, patch and delete on pods (deploy/k8s).
package k8spod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ServiceAccountDir holds the in-cluster token, CA and namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount/"

var pods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// Config says how to reach the API server.
type Config struct {
	// Kubeconfig is a kubeconfig file, or several separated by ":" merged
	// as kubectl merges $KUBECONFIG (its current context); empty means
	// in-cluster: APIServer with the service account's token and CA.
	Kubeconfig string
	// APIServer is the in-cluster API server URL, built by the caller
	// from KUBERNETES_SERVICE_HOST and _PORT (see InClusterURL).
	APIServer string
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// UserAgent names the caller in the API server's audit log.
	UserAgent string
}

// InClusterURL is the API server URL from the KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT values every pod gets, or "" outside a pod.
func InClusterURL(host, port string) string {
	if host == "" || port == "" {
		return ""
	}
	return "https://" + net.JoinHostPort(host, port)
}

// Client acts on pods.
type Client struct {
	dyn dynamic.Interface
}

// New builds a client from cfg; it does not contact the API server.
func New(cfg Config) (*Client, error) {
	rc, err := restConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return &Client{dyn: dyn}, nil
}

func restConfig(cfg Config) (*rest.Config, error) {
	var rc *rest.Config
	switch {
	case cfg.Kubeconfig != "":
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(cfg.Kubeconfig)}
		var err error
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes: kubeconfig %s: %w", cfg.Kubeconfig, err)
		}
	case cfg.APIServer != "":
		rc = &rest.Config{Host: cfg.APIServer, BearerTokenFile: ServiceAccountDir + "token",
			TLSClientConfig: rest.TLSClientConfig{CAFile: ServiceAccountDir + "ca.crt"}}
	default:
		return nil, errors.New("kubernetes: no kubeconfig (KUBECONFIG) and not in a pod (no KUBERNETES_SERVICE_HOST/_PORT)")
	}
	rc.Timeout = cfg.Timeout
	if rc.Timeout <= 0 {
		rc.Timeout = 10 * time.Second
	}
	if cfg.UserAgent != "" {
		rc.UserAgent = cfg.UserAgent
	}
	// No client-side throttling: the actions' rate_limit bounds the calls,
	// and client-go's default (5 per second after a burst of 10) would
	// hold every action past the tenth for 200 ms more than the one before.
	rc.QPS, rc.Burst, rc.RateLimiter = -1, 0, nil
	return rc, nil
}

// ErrGone reports a pod that no longer exists.
var ErrGone = errors.New("pod not found")

// Label merges labels into the pod's labels.
func (c *Client) Label(ctx context.Context, namespace, name string, labels map[string]string) error {
	return c.patch(ctx, namespace, name, "labels", labels)
}

// Annotate merges annotations into the pod's annotations.
func (c *Client) Annotate(ctx context.Context, namespace, name string, annotations map[string]string) error {
	return c.patch(ctx, namespace, name, "annotations", annotations)
}

// patch sends a JSON merge patch of metadata.<key>: other labels or
// annotations are kept, and a pod changed meanwhile needs no retry.
func (c *Client) patch(ctx context.Context, namespace, name, key string, m map[string]string) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{key: m}})
	if err != nil {
		return err
	}
	_, err = c.dyn.Resource(pods).Namespace(namespace).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: "saker"})
	return apiErr("patch", namespace, name, err)
}

// Delete deletes the pod; gracePeriod nil keeps the pod's own
// terminationGracePeriodSeconds, 0 deletes at once.
func (c *Client) Delete(ctx context.Context, namespace, name string, gracePeriod *int64) error {
	err := c.dyn.Resource(pods).Namespace(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: gracePeriod})
	return apiErr("delete", namespace, name, err)
}

func apiErr(verb, namespace, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s pod %s/%s: %w", verb, namespace, name, ErrGone)
	}
	return fmt.Errorf("%s pod %s/%s: %w", verb, namespace, name, err)
}

// ValidateLabels checks label keys and values as the API server would,
// so a bad actions file fails at load, not at the first alert.
func ValidateLabels(m map[string]string) error {
	var errs []string
	for k, v := range m {
		for _, e := range validation.IsQualifiedName(k) {
			errs = append(errs, fmt.Sprintf("label key %q: %s", k, e))
		}
		for _, e := range validation.IsValidLabelValue(v) {
			errs = append(errs, fmt.Sprintf("label %s value %q: %s", k, v, e))
		}
	}
	return joinSorted(errs)
}

// ValidateAnnotationKeys checks annotation keys (values are free text).
func ValidateAnnotationKeys(m map[string]string) error {
	var errs []string
	for k := range m {
		for _, e := range validation.IsQualifiedName(k) {
			errs = append(errs, fmt.Sprintf("annotation key %q: %s", k, e))
		}
	}
	return joinSorted(errs)
}

func joinSorted(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	slices.Sort(errs)
	return errors.New(strings.Join(errs, "; "))
}
