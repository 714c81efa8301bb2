// Package syslog sends alerts to a remote syslog server over UDP or TCP
// with the standard library's log/syslog client (RFC 3164 framing, tag
// "Falco", severity from the alert's priority), as falcosidekick does: the
// message is the Falco JSON payload, or a CEF record with SYSLOG_FORMAT=cef.
// Unlike falcosidekick (a new connection per alert), one connection is
// kept and re-dialled after a failure; CEF values are escaped as the CEF
// specification requires and output fields come in key order.
package syslog

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	gosyslog "log/syslog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the syslog output's configuration (SYSLOG_*).
type Config struct {
	Host     string // SYSLOG_HOST; enables the output
	Port     string // SYSLOG_PORT
	Protocol string // SYSLOG_PROTOCOL: udp or tcp
	Format   string // SYSLOG_FORMAT: json (default) or cef
	settings.Common
}

// Load reads the syslog settings; enabled is false without SYSLOG_HOST.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.Host = src.String("syslog.host", "")
	if cfg.Host == "" {
		return cfg, false
	}
	cfg.Port = src.String("syslog.port", "")
	if cfg.Port == "" {
		src.Errorf("syslog.port", "SYSLOG_PORT is required with SYSLOG_HOST")
	}
	cfg.Protocol = src.Enum("syslog.protocol", "udp", "udp", "tcp")
	cfg.Format = src.Enum("syslog.format", "json", "json", "cef")
	cfg.Common = src.Common("syslog")
	return cfg, true
}

// Severity maps a Falco priority to the syslog severity.
func Severity(p alert.Priority) gosyslog.Priority {
	switch p {
	case alert.PriorityEmergency:
		return gosyslog.LOG_EMERG
	case alert.PriorityAlert:
		return gosyslog.LOG_ALERT
	case alert.PriorityCritical:
		return gosyslog.LOG_CRIT
	case alert.PriorityError:
		return gosyslog.LOG_ERR
	case alert.PriorityWarning:
		return gosyslog.LOG_WARNING
	case alert.PriorityNotice:
		return gosyslog.LOG_NOTICE
	case alert.PriorityInformational:
		return gosyslog.LOG_INFO
	}
	return gosyslog.LOG_DEBUG
}

// cefSeverity is falcosidekick's 0-10 CEF severity of a priority.
func cefSeverity(p alert.Priority) string {
	return [...]string{"Unknown", "0", "3", "4", "6", "7", "8", "9", "10"}[max(min(p, alert.PriorityEmergency), alert.PriorityUnset)]
}

var (
	cefHeader    = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\n", " ", "\r", " ")
	cefExtension = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\n", `\n`, "\r", `\r`)
)

// CEF renders an alert as a CEF:0 record with falcosidekick's fields.
func CEF(a *alert.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|Falcosecurity|Falco|1.0|Falco Event|%s|%s|uuid=%s start=%s msg=%s source=%s",
		cefHeader.Replace(a.Rule), cefSeverity(a.Priority), cefExtension.Replace(a.UUID),
		a.Time.Format(time.RFC3339), cefExtension.Replace(a.Output), cefExtension.Replace(a.Source))
	if a.Hostname != "" {
		b.WriteString(" hostname=" + cefExtension.Replace(a.Hostname))
	}
	keys := make([]string, 0, len(a.OutputFields))
	for k := range a.OutputFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := make([]string, len(keys))
	for i, k := range keys {
		fields[i] = cefExtension.Replace(fmt.Sprintf("%v:%v", k, a.OutputFields[k]))
	}
	b.WriteString(" outputfields=" + strings.Join(fields, " "))
	if len(a.Tags) > 0 {
		b.WriteString(" tags=" + cefExtension.Replace(strings.Join(a.Tags, ",")))
	}
	return b.String()
}

// Message returns the syslog message of one alert.
func Message(cfg *Config, a *alert.Alert) (string, error) {
	if cfg.Format == "cef" {
		return CEF(a), nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode alert: %w", err)
	}
	return string(b), nil
}

// Forwarder writes alerts to syslog.
type Forwarder struct {
	cfg  Config
	addr string
	mu   sync.Mutex
	w    *gosyslog.Writer
}

// New builds a syslog forwarder; it dials on first use.
func New(cfg Config, _ outhttp.Options, _ *slog.Logger) (*Forwarder, error) {
	return &Forwarder{cfg: cfg, addr: net.JoinHostPort(cfg.Host, cfg.Port)}, nil
}

// Forward writes one message per alert, in order, on one connection.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return batch.Each(ctx, alerts, func(ctx context.Context, a *alert.Alert) (bool, error) {
		msg, err := Message(&f.cfg, a)
		if err != nil {
			return false, err
		}
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if f.w == nil {
			// Facility 0 with the alert's severity, as falcosidekick sends.
			w, err := gosyslog.Dial(f.cfg.Protocol, f.addr, gosyslog.LOG_DEBUG, "Falco")
			if err != nil {
				return true, fmt.Errorf("syslog dial %s/%s: %w", f.cfg.Protocol, f.addr, err)
			}
			f.w = w
		}
		if err := write(f.w, Severity(a.Priority), msg); err != nil {
			f.w.Close()
			f.w = nil
			return true, fmt.Errorf("syslog write: %w", err)
		}
		return false, nil
	})
}

// write sends msg with the given severity.
func write(w *gosyslog.Writer, sev gosyslog.Priority, msg string) error {
	switch sev {
	case gosyslog.LOG_EMERG:
		return w.Emerg(msg)
	case gosyslog.LOG_ALERT:
		return w.Alert(msg)
	case gosyslog.LOG_CRIT:
		return w.Crit(msg)
	case gosyslog.LOG_ERR:
		return w.Err(msg)
	case gosyslog.LOG_WARNING:
		return w.Warning(msg)
	case gosyslog.LOG_NOTICE:
		return w.Notice(msg)
	case gosyslog.LOG_INFO:
		return w.Info(msg)
	}
	return w.Debug(msg)
}
