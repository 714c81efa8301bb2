package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/saker-sec/saker/sensor"
)

func init() {
	commands["sensor"] = command{"run the eBPF sensor (root): -c falco.yaml, -r rules.yaml..., -o key=value...", func(ctx context.Context, args []string) error {
		return runSensorCmd(ctx, os.Stdout, args)
	}}
}

// runSensorCmd parses Falco-style flags and runs the sensor.
func runSensorCmd(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("saker sensor", flag.ContinueOnError)
	cfgPath := fs.String("c", os.Getenv("SAKER_SENSOR_CONFIG"), "configuration file with falco.yaml keys (rules_files, json_output, priority, *_output, buffered_outputs, rule_matching)")
	var rulesFiles, overrides multiFlag
	fs.Var(&rulesFiles, "r", "rules file to load instead of the configured ones (repeatable; default: the embedded Saker rules)")
	fs.Var(&overrides, "o", "override a configuration key, e.g. -o json_output=true -o http_output.url=http://hub:2801/ (repeatable)")
	list := fs.Bool("list", false, "print the fields rules and outputs can use, then exit")
	listRules := fs.Bool("L", false, "print the loaded rules (name and description), then exit")
	debug := fs.Bool("debug", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sensor: unexpected arguments %q", fs.Args())
	}
	if *list {
		return rulesFields(w, nil)
	}
	cfg, err := sensor.LoadConfig(*cfgPath, overrides)
	if err != nil {
		return err
	}
	if len(rulesFiles) > 0 {
		cfg.RulesFiles = rulesFiles
	}
	if *listRules {
		rs, err := sensor.LoadRules(cfg)
		if err != nil {
			return err
		}
		for _, r := range rs.Rules {
			fmt.Fprintf(w, "%-50s %s\n", r.Name, strings.Join(strings.Fields(r.Desc), " "))
		}
		return nil
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	err = sensor.Run(ctx, sensor.Options{Config: cfg, Logger: log})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
