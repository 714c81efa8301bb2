// Package policyreport records alerts as results of Kubernetes Policy
// Reports (wgpolicyk8s.io/v1alpha2, the Policy WG's CRDs, shown by Policy
// Reporter and Kyverno's UI), as falcosidekick's PolicyReport output does:
// an alert about a namespace (k8s.ns.name or ka.target.namespace) goes to
// the PolicyReport "falco-policy-report" of that namespace (of
// POLICYREPORT_FALCONAMESPACE when the namespace does not exist), others to
// the ClusterPolicyReport "falco-cluster-policy-report"; each report keeps
// the last POLICYREPORT_MAXEVENTS results and their summary.
//
// It talks to the API server with client-go's dynamic client. Differences
// from falcosidekick, on purpose: a batch costs one read and one write per
// report instead of per alert; writes carry the resourceVersion read, so
// two hubs never overwrite each other's results (a conflict is read again
// and retried); a result's timestamp is the alert's Unix time (sidekick
// puts the seconds-of-the-minute there); Secrets are kind Secret;
// POLICYREPORT_PRUNEBYPRIORITY, which sidekick reads and ignores, drops the
// oldest of the least severe results first when a report is full.
package policyreport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Report names and the source recorded in each result, as falcosidekick's.
const (
	ReportName        = "falco-policy-report"
	ClusterReportName = "falco-cluster-policy-report"
	Source            = "Falco"
	Category          = "SI - System and Information Integrity"
)

// Resources of the reports.
var (
	PolicyReports        = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
	ClusterPolicyReports = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "clusterpolicyreports"}
	namespaces           = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// In-cluster service account files.
const (
	saDir = "/var/run/secrets/kubernetes.io/serviceaccount/"
)

// Config is the PolicyReport output's configuration (POLICYREPORT_*).
type Config struct {
	Enabled         bool   // POLICYREPORT_ENABLED; enables the output
	Kubeconfig      string // POLICYREPORT_KUBECONFIG; empty = in-cluster service account
	MaxEvents       int    // POLICYREPORT_MAXEVENTS (1000): results kept per report
	FalcoNamespace  string // POLICYREPORT_FALCONAMESPACE: fallback namespace (default: the hub's own, else "default")
	PruneByPriority bool   // POLICYREPORT_PRUNEBYPRIORITY
	// APIServer is the in-cluster API server (from KUBERNETES_SERVICE_HOST
	// and _PORT) used without a kubeconfig.
	APIServer string
	settings.Common
}

// Load reads the settings; enabled is false unless POLICYREPORT_ENABLED.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.Enabled = src.Bool("policyreport.enabled", false)
	if !cfg.Enabled {
		return cfg, false
	}
	cfg.Kubeconfig = src.String("policyreport.kubeconfig", "")
	cfg.MaxEvents = src.Int("policyreport.maxevents", 1000, 1)
	cfg.FalcoNamespace = src.String("policyreport.falconamespace", "")
	cfg.PruneByPriority = src.Bool("policyreport.prunebypriority", false)
	if cfg.Kubeconfig == "" {
		host, _ := src.Lookup("KUBERNETES_SERVICE_HOST")
		port, _ := src.Lookup("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			src.Errorf("policyreport.kubeconfig", "not set, and the hub is not in a Kubernetes pod (no KUBERNETES_SERVICE_HOST/_PORT)")
		} else {
			cfg.APIServer = "https://" + net.JoinHostPort(host, port)
		}
	}
	cfg.Common = src.Common("policyreport")
	return cfg, true
}

// Result is one PolicyReportResult (v1alpha2 schema).
type Result struct {
	Source     string            `json:"source"`
	Policy     string            `json:"policy"`
	Rule       string            `json:"rule,omitempty"`
	Category   string            `json:"category,omitempty"`
	Severity   string            `json:"severity,omitempty"`
	Timestamp  Timestamp         `json:"timestamp,omitempty"`
	Result     string            `json:"result,omitempty"`
	Resources  []ObjectReference `json:"resources,omitempty"`
	Message    string            `json:"message,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// Timestamp is metav1.Timestamp's JSON form.
type Timestamp struct {
	Seconds int64 `json:"seconds"`
	Nanos   int32 `json:"nanos"`
}

// ObjectReference is the part of corev1.ObjectReference a result names.
type ObjectReference struct {
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// Summary counts a report's results by outcome.
type Summary struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Warn  int `json:"warn"`
	Error int `json:"error"`
	Skip  int `json:"skip"`
}

var kinds = map[string][2]string{
	"pods": {"v1", "Pod"}, "services": {"v1", "Service"}, "secrets": {"v1", "Secret"},
	"configmaps": {"v1", "ConfigMap"}, "namespaces": {"v1", "Namespace"}, "serviceaccounts": {"v1", "ServiceAccount"},
	"daemonsets": {"apps/v1", "DaemonSet"}, "deployments": {"apps/v1", "Deployment"}, "statefulsets": {"apps/v1", "StatefulSet"},
	"cronjobs": {"batch/v1", "CronJob"}, "jobs": {"batch/v1", "Job"},
	"clusterroles":        {"rbac.authorization.k8s.io/v1", "ClusterRole"},
	"clusterrolebindings": {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding"},
	"roles":               {"rbac.authorization.k8s.io/v1", "Role"},
	"rolebindings":        {"rbac.authorization.k8s.io/v1", "RoleBinding"},
}

func field(a *alert.Alert, name string) string {
	v, ok := a.OutputFields[name]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// Namespace is the namespace an alert is about ("" = cluster-wide).
func Namespace(a *alert.Alert) string {
	if ns := field(a, "k8s.ns.name"); ns != "" {
		return ns
	}
	return field(a, "ka.target.namespace")
}

func subject(a *alert.Alert) []ObjectReference {
	name, resource := field(a, "k8s.pod.name"), "pods"
	if name == "" {
		resource = field(a, "ka.target.resource")
		if resource == "" {
			return nil
		}
		if name = field(a, "ka.target.name"); name == "" {
			name = field(a, "ka.resp.name")
		}
	}
	if name == "" {
		return nil
	}
	k := kinds[resource]
	return []ObjectReference{{Namespace: Namespace(a), Name: name, Kind: k[1], APIVersion: k[0]}}
}

// Outcome and severity of a priority, as falcosidekick maps them.
func outcome(p alert.Priority) string {
	switch {
	case p <= alert.PriorityNotice:
		return "skip"
	case p == alert.PriorityWarning:
		return "warn"
	}
	return "fail"
}

func severity(p alert.Priority) string {
	switch {
	case p <= alert.PriorityInformational:
		return "info"
	case p <= alert.PriorityNotice:
		return "low"
	case p <= alert.PriorityWarning:
		return "medium"
	case p <= alert.PriorityError:
		return "high"
	}
	return "critical"
}

// NewResult is the report result of one alert.
func NewResult(a *alert.Alert) Result {
	props := make(map[string]string, len(a.OutputFields))
	for k, v := range a.OutputFields {
		if v != nil {
			props[k] = fmt.Sprint(v)
		} else {
			props[k] = ""
		}
	}
	return Result{
		Source: Source, Policy: a.Source, Rule: a.Rule, Category: Category,
		Severity: severity(a.Priority), Result: outcome(a.Priority), Message: a.Output,
		Timestamp: Timestamp{Seconds: a.Time.Unix(), Nanos: int32(a.Time.Nanosecond())},
		Resources: subject(a), Properties: props,
	}
}

// Forwarder writes alerts into Policy Reports.
type Forwarder struct {
	cfg      Config
	client   dynamic.Interface
	fallback string
	logger   *slog.Logger
}

// New builds a PolicyReport forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	if logger == nil {
		logger = slog.Default()
	}
	rc, err := restConfig(cfg, httpOpts)
	if err != nil {
		return nil, err
	}
	client, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("policyreport: %w", err)
	}
	fallback := cfg.FalcoNamespace
	if fallback == "" {
		if b, err := os.ReadFile(saDir + "namespace"); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			fallback = strings.TrimSpace(string(b))
		} else {
			fallback = "default"
		}
	}
	return &Forwarder{cfg: cfg, client: client, fallback: fallback, logger: logger}, nil
}

// restConfig is the API server's address and credentials from cfg.
func restConfig(cfg Config, httpOpts outhttp.Options) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if cfg.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("policyreport: kubeconfig %s: %w", cfg.Kubeconfig, err)
		}
	} else {
		if _, err := os.Stat(saDir + "token"); err != nil {
			return nil, fmt.Errorf("policyreport: no POLICYREPORT_KUBECONFIG and no service account token: %w", err)
		}
		rc = &rest.Config{Host: cfg.APIServer, BearerTokenFile: saDir + "token",
			TLSClientConfig: rest.TLSClientConfig{CAFile: saDir + "ca.crt"}}
	}
	rc.Timeout = httpOpts.Timeout
	if rc.Timeout <= 0 {
		rc.Timeout = 10 * time.Second
	}
	rc.UserAgent = outhttp.UserAgent
	// No client-side throttling: the output's delivery settings (batching,
	// MAXCONCURRENTREQUESTS, retries) bound the calls, and client-go's
	// default (5 per second after a burst of 10) would hold every report
	// write past the tenth 200 ms more than the one before.
	rc.QPS, rc.Burst, rc.RateLimiter = -1, 0, nil
	return rc, nil
}

// Forward adds the batch's results to their reports: one read and one
// write per report.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	groups := map[string][]int{}
	var order []string
	for i := range alerts {
		ns := Namespace(&alerts[i])
		if _, ok := groups[ns]; !ok {
			order = append(order, ns)
		}
		groups[ns] = append(groups[ns], i)
	}
	pe := &batch.PartialError{}
	var lastRetry bool
	var lastErr error
	for _, ns := range order {
		idx := groups[ns]
		results := make([]Result, len(idx))
		for j, i := range idx {
			results[j] = NewResult(&alerts[i])
		}
		retry, err := f.record(ctx, ns, results)
		if err == nil {
			continue
		}
		lastRetry, lastErr = retry, err
		for _, i := range idx {
			pe.Failures = append(pe.Failures, batch.Failure{Index: i, Retry: retry, Err: err})
		}
	}
	switch {
	case lastErr == nil:
		return false, nil
	case len(pe.Failures) == len(alerts):
		return lastRetry, lastErr
	}
	sort.Slice(pe.Failures, func(a, b int) bool { return pe.Failures[a].Index < pe.Failures[b].Index })
	return lastRetry, pe
}

// record adds results to the report of namespace ns ("" = the cluster
// report), creating it when missing.
func (f *Forwarder) record(ctx context.Context, ns string, results []Result) (bool, error) {
	var res dynamic.ResourceInterface = f.client.Resource(ClusterPolicyReports)
	name := ClusterReportName
	if ns != "" {
		if _, err := f.client.Resource(namespaces).Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			f.logger.Info("policyreport: namespace not found, using the fallback", "namespace", ns, "fallback", f.fallback)
			ns = f.fallback
			for i := range results {
				for j := range results[i].Resources {
					results[i].Resources[j].Namespace = ns
				}
			}
		} else if err != nil {
			return retryable(err), fmt.Errorf("policyreport: namespace %s: %w", ns, err)
		}
		res, name = f.client.Resource(PolicyReports).Namespace(ns), ReportName
	}
	err := retry.OnError(retry.DefaultRetry, func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) },
		func() error { return f.upsert(ctx, res, name, ns, results) })
	if err != nil {
		where := name
		if ns != "" {
			where = ns + "/" + name
		}
		return retryable(err), fmt.Errorf("policyreport %s: %w", where, err)
	}
	return false, nil
}

func (f *Forwarder) upsert(ctx context.Context, res dynamic.ResourceInterface, name, ns string, add []Result) error {
	obj, err := res.Get(ctx, name, metav1.GetOptions{})
	create := apierrors.IsNotFound(err)
	if err != nil && !create {
		return err
	}
	var existing []Result
	if create {
		kind := "ClusterPolicyReport"
		if ns != "" {
			kind = "PolicyReport"
		}
		obj = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": kind,
			"metadata": map[string]any{"name": name, "labels": map[string]any{"app.kubernetes.io/managed-by": "saker"}},
		}}
		if ns != "" {
			obj.SetNamespace(ns)
		}
	} else if raw, ok, _ := unstructured.NestedSlice(obj.Object, "results"); ok {
		for _, r := range raw {
			m, ok := r.(map[string]any)
			if !ok {
				continue
			}
			var res Result
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &res); err == nil {
				existing = append(existing, res)
			}
		}
	}
	all := prune(append(existing, add...), f.cfg.MaxEvents, f.cfg.PruneByPriority)
	items := make([]any, len(all))
	var sum Summary
	for i := range all {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&all[i])
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		items[i] = m
		switch all[i].Result {
		case "pass":
			sum.Pass++
		case "fail":
			sum.Fail++
		case "warn":
			sum.Warn++
		case "error":
			sum.Error++
		case "skip":
			sum.Skip++
		}
	}
	obj.Object["results"] = items
	obj.Object["summary"] = map[string]any{"pass": int64(sum.Pass), "fail": int64(sum.Fail), "warn": int64(sum.Warn), "error": int64(sum.Error), "skip": int64(sum.Skip)}
	if create {
		_, err = res.Create(ctx, obj, metav1.CreateOptions{})
	} else {
		_, err = res.Update(ctx, obj, metav1.UpdateOptions{}) // carries the resourceVersion read
	}
	return err
}

var severityRank = map[string]int{"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

// prune keeps at most max results: the newest, or with byPriority the
// most severe (the oldest of the least severe go first).
func prune(rs []Result, max int, byPriority bool) []Result {
	for len(rs) > max {
		drop := 0
		if byPriority {
			for i := range rs {
				if severityRank[rs[i].Severity] < severityRank[rs[drop].Severity] {
					drop = i
				}
			}
		}
		rs = append(rs[:drop], rs[drop+1:]...)
	}
	return rs
}

// retryable: throttling, timeouts, conflicts, server errors and transport
// failures may pass later; refusals (forbidden, invalid, CRD missing) not.
func retryable(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return true
	}
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsConflict(err) || apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsUnexpectedServerError(err) || st.Status().Code >= 500
}
