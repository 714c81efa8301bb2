// Command saker is the single Saker binary: the hub (ingestion, storage,
// forwarding and dashboard), the node sensor, and rule tooling.
//
//	saker hub                         run the hub on :2801 and the dashboard on :2802
//	saker sensor [-c falco.yaml] [-r rules.yaml]... [-o key=value]...
//	saker rules validate|list|fields  rule tooling
//	saker k8saudit -f audit.log       ship a kube-apiserver audit log file to the hub
//	saker up                          hub + dashboard (+ sensor when root) in one process
//	saker version
//
// main only parses the command line and environment and calls the parts'
// Run functions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands is filled by the per-subcommand files' init functions.
var commands = map[string]command{}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func init() {
	commands["version"] = command{"print the version", func(context.Context, []string) error {
		fmt.Println("saker", version)
		return nil
	}}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: saker <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
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
