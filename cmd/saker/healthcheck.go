package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The healthcheck command exists because the saker image is FROM scratch:
// there is no curl or wget inside it, so Docker/compose health checks call
// the binary itself (`saker healthcheck http://127.0.0.1:2801/healthz`).
func runHealthcheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 3*time.Second, "per-request timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	urls := fs.Args()
	if len(urls) == 0 {
		urls = []string{"http://127.0.0.1:2801/healthz"}
	}
	client := &http.Client{Timeout: *timeout}
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("healthcheck %s: %w", u, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("healthcheck %s: %w", u, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("healthcheck %s: status %s", u, resp.Status)
		}
	}
	return nil
}
