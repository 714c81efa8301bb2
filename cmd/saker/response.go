package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/saker-sec/saker/sensor/response"
	"github.com/saker-sec/saker/sensor/response/k8spod"
)

// runResponse lists or lifts the network blocks the sensor's
// block_network action set (pinned on the BPF filesystem, so this works
// whether or not the sensor runs).
func runResponse(_ context.Context, args []string) error {
	return responseCmd(os.Stdout, args)
}

func responseCmd(w io.Writer, args []string) error {
	usage := errors.New("usage: saker response list|release [-dir DIR] [NAME...|-all]")
	if len(args) == 0 {
		return usage
	}
	sub := args[0]
	fs := flag.NewFlagSet("saker response "+sub, flag.ContinueOnError)
	dir := fs.String("dir", response.DefaultBlockDir, "the sensor's block_dir (BPF filesystem)")
	all := fs.Bool("all", false, "release: lift every block")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	b, err := response.NewNetBlocker(*dir, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	switch sub {
	case "list":
		blocks, err := b.List()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCGROUP\tEXPIRES")
		for _, blk := range blocks {
			exp := "on release"
			if !blk.Expires.IsZero() {
				exp = blk.Expires.UTC().Format(time.RFC3339)
			}
			cg := blk.Cgroup
			if cg == "" {
				cg = "(gone)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", blk.Name, cg, exp)
		}
		return tw.Flush()
	case "release":
		names := fs.Args()
		if *all {
			blocks, err := b.List()
			if err != nil {
				return err
			}
			for _, blk := range blocks {
				names = append(names, blk.Name)
			}
		} else if len(names) == 0 {
			return usage
		}
		var errs []error
		for _, n := range names {
			ok, err := b.Release(n)
			switch {
			case err != nil:
				errs = append(errs, err)
			case !ok:
				errs = append(errs, fmt.Errorf("release: no block %q (see saker response list)", n))
			default:
				fmt.Fprintf(w, "released %s\n", n)
			}
		}
		return errors.Join(errs...)
	}
	return usage
}

// podClient builds the Kubernetes client of the pod actions in cfg, from
// KUBECONFIG or, in a pod, the service account; nil when cfg has none.
func podClient(cfg response.Config, lookupEnv func(string) (string, bool)) (response.Pods, error) {
	if !cfg.Active() || !slices.ContainsFunc(cfg.Actions, func(a response.Action) bool { return response.IsPodAction(a.Action) }) {
		return nil, nil
	}
	kubeconfig, _ := lookupEnv("KUBECONFIG")
	host, _ := lookupEnv("KUBERNETES_SERVICE_HOST")
	port, _ := lookupEnv("KUBERNETES_SERVICE_PORT")
	c, err := k8spod.New(k8spod.Config{Kubeconfig: kubeconfig, APIServer: k8spod.InClusterURL(host, port), UserAgent: "saker/" + version})
	if err != nil {
		return nil, fmt.Errorf("response: pod actions: %w", err)
	}
	return c, nil
}
