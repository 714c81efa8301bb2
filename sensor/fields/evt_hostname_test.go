package fields

import (
	"errors"
	"testing"
)

func TestDefaultHostname(t *testing.T) {
	kernel := func() (string, error) { return "kernel-host", nil }
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := NodeName(getenv, kernel); got != "kernel-host" {
		t.Errorf("without FALCO_HOSTNAME: %q", got)
	}
	env["FALCO_HOSTNAME"] = "node-7"
	if got := NodeName(getenv, kernel); got != "node-7" {
		t.Errorf("with FALCO_HOSTNAME: %q", got)
	}
	delete(env, "FALCO_HOSTNAME")
	if got := NodeName(getenv, func() (string, error) { return "", errors.New("x") }); got != "" {
		t.Errorf("kernel error: %q", got)
	}
}
