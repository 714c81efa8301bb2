package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/saker-sec/saker/sensor"
	"github.com/saker-sec/saker/sensor/fields"
	"github.com/saker-sec/saker/sensor/response"
)

// runSensorCmd parses Falco-style flags and runs the sensor.
func runSensorCmd(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("saker sensor", flag.ContinueOnError)
	cfgPath := fs.String("c", os.Getenv("SAKER_SENSOR_CONFIG"), "configuration file with falco.yaml keys (rules_files, json_output, priority, *_output, buffered_outputs, rule_matching)")
	var rulesFiles, overrides multiFlag
	fs.Var(&rulesFiles, "r", "rules file to load instead of the configured ones (repeatable; default: the embedded Saker rules)")
	fs.Var(&overrides, "o", "override a configuration key, e.g. -o json_output=true -o http_output.url=http://hub:2801/ (repeatable)")
	actionsFile := fs.String("actions", "", "response actions file (YAML list of {match: {rule, tags, priority, source}, action: kill|container_stop|container_pause|container_kill|block_network|pod_label|pod_annotate|pod_delete|script|webhook}); replaces the config's response key")
	list := fs.Bool("list", false, "print the fields rules and outputs can use, then exit")
	listRules := fs.Bool("L", false, "print the loaded rules (name and description), then exit")
	debug := fs.Bool("debug", false, "debug logging")
	metricsAddr := fs.String("metrics-addr", os.Getenv("SAKER_SENSOR_METRICS_ADDR"), "serve Prometheus metrics on this address (e.g. 127.0.0.1:8765); empty disables")
	statsInterval := fs.Duration("stats-interval", 0, "log a stats line (events, drops, matches) this often; 0 disables")
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
	if *actionsFile != "" {
		if cfg.Response, err = response.LoadFile(*actionsFile); err != nil {
			return err
		}
	} else if err := cfg.Response.Validate(); err != nil {
		return fmt.Errorf("response: %w", err)
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
	if *statsInterval > 0 {
		cfg.StatsInterval = statsInterval.String()
	}
	opts := sensor.Options{Config: cfg, Logger: log, HostRoot: os.Getenv("HOST_ROOT")}
	if opts.Pods, err = podClient(cfg.Response, os.LookupEnv); err != nil {
		return err
	}
	if *metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		opts.Registerer = reg
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("serving metrics", "addr", ln.Addr().String())
	}
	fields.SetHostname(fields.NodeName(os.Getenv, os.Hostname))
	err = sensor.Run(ctx, opts)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
