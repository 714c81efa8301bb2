// Command saker is the single Saker binary: the hub (ingestion, storage,
// forwarding and dashboard), the node sensor, and rule tooling.
//
//	saker hub                         run the hub on :2801 and the dashboard on :2802
//	saker sensor [-c falco.yaml] [-r rules.yaml]... [-o key=value]...
//	saker rules validate|list|fields  rule tooling
//	saker k8saudit -f audit.log       ship a kube-apiserver audit log file to the hub
//	saker response list|release NAME  network blocks set by the block_network action
//	saker up                          hub + dashboard (+ sensor when root) in one process
//	saker version
//
// main only parses the command line and environment; runHub (hub.go) is
// the composition root that decodes the configuration once and builds the
// parts in order.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands lists saker's subcommands, in the order usage shows them.
func commands() []command {
	return []command{
		{"hub", "run the hub (:2801) and the dashboard (:2802); --print-config shows the effective configuration", func(ctx context.Context, args []string) error {
			return runHub(ctx, "hub", args, false, os.Stdout)
		}},
		{"up", "hub + dashboard (+ sensor when root) in one process", func(ctx context.Context, args []string) error {
			return runHub(ctx, "up", args, true, os.Stdout)
		}},
		{"sensor", "run the eBPF sensor (root): -c falco.yaml, -r rules.yaml..., -o key=value...", func(ctx context.Context, args []string) error {
			return runSensorCmd(ctx, os.Stdout, args)
		}},
		{"rules", "rule tooling: validate, list, fields", runRules},
		{"response", "network blocks set by block_network: list, release NAME|-all", runResponse},
		{"k8saudit", "ship a kube-apiserver audit log file (JSON lines) to the hub", runK8sAudit},
		{"healthcheck", "GET URLs, exit 0 only if all answer 2xx (for container health checks)", runHealthcheck},
		{"version", "print the version", func(context.Context, []string) error {
			fmt.Println("saker", version)
			return nil
		}},
	}
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func usage() {
	fmt.Fprintf(os.Stderr, "usage: saker <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-11s %s\n", c.name, c.summary)
	}
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := lookupCommand(os.Args[1])
	if !ok {
		fmt.Fprintf(os.Stderr, "saker: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		fmt.Fprintln(os.Stderr, "saker:", err)
		os.Exit(1)
	}
}

// exitCode lets a command exit with a specific status without printing
// (e.g. `saker rules validate` exits 1 after printing its own report).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
