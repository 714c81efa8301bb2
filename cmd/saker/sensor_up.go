package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"

	"github.com/saker-sec/saker/hub"
	"github.com/saker-sec/saker/sensor"
	"github.com/saker-sec/saker/sensor/fields"
	"github.com/saker-sec/saker/sensor/probe"
)

// In `saker up` the sensor runs beside the hub and posts its alerts to the
// hub's ingestion listener over loopback. It is skipped, with a log line,
// where the probe cannot load (not root, no BTF).
func runSensorPart(ctx context.Context, h *hub.Hub, configPath string, log *slog.Logger) error {
	if err := probe.Check(); err != nil {
		log.Info("sensor not started", "reason", err)
		return nil
	}
	cfg, err := sensor.LoadConfig(configPath, nil)
	if err != nil {
		return err
	}
	cfg.StdoutOutput.Enabled = false
	cfg.HTTPOutput.Enabled = true
	cfg.HTTPOutput.URL = "http://" + loopbackAddr(h.Addr()) + "/"
	fields.SetHostname(fields.NodeName(os.Getenv, os.Hostname))
	pods, err := podClient(cfg.Response, os.LookupEnv)
	if err != nil {
		return err
	}
	return sensor.Run(ctx, sensor.Options{Config: cfg, Logger: log, Pods: pods})
}

// loopbackAddr turns a listener address with an unspecified host
// (":2801", "[::]:2801") into a dialable loopback one.
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
