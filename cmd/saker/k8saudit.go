package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"strings"

	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/k8saudit"
)

// runK8sAudit follows an API server's --audit-log-path file on a control
// plane node and POSTs its events to the hub, which evaluates the
// k8s_audit rules as it does for webhook batches.
func runK8sAudit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("saker k8saudit", flag.ContinueOnError)
	path := fs.String("f", "", "audit log file to follow (kube-apiserver --audit-log-path), required")
	hubURL := fs.String("hub", "http://localhost:2801", "hub base URL; events go to <hub>"+api.K8sAuditPath)
	fromStart := fs.Bool("from-start", false, "read the file from its beginning instead of its end")
	batch := fs.Int("batch", 100, "events per POST")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("k8saudit: -f FILE is required")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s := &k8saudit.Shipper{URL: strings.TrimRight(*hubURL, "/") + api.K8sAuditPath, MaxBatch: *batch, Log: log}
	log.Info("shipping audit log", "file", *path, "to", s.URL)
	return s.Run(ctx, *path, k8saudit.FollowOptions{FromStart: *fromStart})
}
