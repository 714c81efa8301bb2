package sensor

import (
	"fmt"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/output"
)

// OutputConfig maps the falco.yaml output keys onto output.Config.
func OutputConfig(cfg *Config) (output.Config, error) {
	oc := output.Config{
		JSON: cfg.JSONOutput,
		JSONOptions: output.JSONOptions{
			IncludeOutput: cfg.JSONIncludeOutputProperty,
			IncludeTags:   cfg.JSONIncludeTagsProperty,
		},
	}
	if cfg.Priority != "" {
		p, err := alert.ParsePriority(cfg.Priority)
		if err != nil {
			return oc, fmt.Errorf("priority: %w", err)
		}
		oc.Priority = p
	}
	if cfg.StdoutOutput.Enabled {
		oc.Stdout = &output.StdoutOptions{Buffered: cfg.BufferedOutputs}
	}
	if cfg.FileOutput.Enabled {
		oc.File = &output.FileOptions{Filename: cfg.FileOutput.Filename, KeepAlive: cfg.FileOutput.KeepAlive}
	}
	if cfg.SyslogOutput.Enabled {
		oc.Syslog = &output.SyslogOptions{}
	}
	if cfg.ProgramOutput.Enabled {
		oc.Program = &output.ProgramOptions{Program: cfg.ProgramOutput.Program, KeepAlive: cfg.ProgramOutput.KeepAlive}
	}
	if cfg.HTTPOutput.Enabled {
		if cfg.HTTPOutput.URL == "" {
			return oc, fmt.Errorf("http_output.enabled is true but http_output.url is empty")
		}
		oc.HTTP = &output.HTTPOptions{URL: cfg.HTTPOutput.URL, UserAgent: cfg.HTTPOutput.UserAgent, SpoolDir: cfg.HTTPOutput.SpoolDir}
	}
	return oc, nil
}

// NewOutputs opens the sinks the configuration enables.
func NewOutputs(cfg *Config) (*output.Outputs, error) {
	oc, err := OutputConfig(cfg)
	if err != nil {
		return nil, err
	}
	o, err := output.New(oc)
	if err != nil {
		return nil, fmt.Errorf("outputs: %w", err)
	}
	return o, nil
}
