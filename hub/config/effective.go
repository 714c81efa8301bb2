package config

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
)

// Mask replaces a secret's value in the effective configuration.
const Mask = "********"

// Effective is the configuration in effect, for `saker hub --print-config`
// and the dashboard's Info page: every setting a part read, secrets
// masked, and the warnings about values that were ignored or replaced.
type Effective struct {
	Settings []Setting `json:"settings"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Effective returns what every part has read so far, sorted by key, with
// secrets masked, plus warnings: those recorded by lenient reads and one
// per non-empty YAML key no part read (an unknown or misspelt key, or an
// output Saker does not have).
func (s *Source) Effective() Effective {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	e := Effective{Settings: make([]Setting, 0, len(s.rec.read)), Warnings: append([]string(nil), s.rec.warns...)}
	for _, st := range s.rec.read {
		st.Value = maskValue(st)
		e.Settings = append(e.Settings, st)
	}
	sort.Slice(e.Settings, func(i, j int) bool { return e.Settings[i].Key < e.Settings[j].Key })

	var unread []string
	for name, v := range s.flat {
		if strings.TrimSpace(v) == "" || s.readLocked(name) {
			continue
		}
		unread = append(unread, name)
	}
	sort.Strings(unread)
	for _, name := range unread {
		e.Warnings = append(e.Warnings, fmt.Sprintf("%s: set in the configuration file but not used by any part; ignored", name))
	}
	unread = unread[:0]
	for _, kv := range s.environ() {
		name, v, _ := strings.Cut(kv, "=")
		prefix, _, ok := strings.Cut(name, "_")
		if !ok || !s.rec.sections[prefix] || strings.TrimSpace(v) == "" || s.readLocked(name) {
			continue
		}
		unread = append(unread, name)
	}
	sort.Strings(unread)
	for _, name := range unread {
		e.Warnings = append(e.Warnings, fmt.Sprintf("%s: set in the environment but not used (misspelt, or its output is not enabled); ignored", name))
	}
	return e
}

// readLocked reports whether name, or a YAML mapping holding it that was
// read as one map setting (CUSTOMFIELDS_CLUSTER under CUSTOMFIELDS), was read.
func (s *Source) readLocked(name string) bool {
	if _, ok := s.rec.read[name]; ok {
		return true
	}
	for n := name; ; {
		i := strings.LastIndexByte(n, '_')
		if i < 0 {
			return false
		}
		n = n[:i]
		if _, isMap := s.maps[n]; isMap {
			if _, ok := s.rec.read[n]; ok {
				return true
			}
		}
	}
}

// Format writes the effective configuration as aligned KEY=value lines
// with each value's origin, then the warnings.
func (e Effective) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "# effective configuration: a non-empty environment variable overrides the file; secrets masked")
	for _, st := range e.Settings {
		fmt.Fprintf(tw, "%s=%s\t# %s\n", st.Key, quoteIfNeeded(st.Value), st.Origin)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(e.Warnings) > 0 {
		fmt.Fprintf(w, "\n# %d warning(s):\n", len(e.Warnings))
		for _, wn := range e.Warnings {
			fmt.Fprintf(w, "# WARNING %s\n", wn)
		}
	}
	return nil
}

func quoteIfNeeded(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"'#") {
		return fmt.Sprintf("%q", v)
	}
	return v
}

func maskValue(st Setting) string {
	if st.Value == "" {
		return ""
	}
	if st.Secret {
		return Mask
	}
	// A URL may carry a password or a token in its query.
	if u, err := url.Parse(st.Value); err == nil && u.Host != "" {
		changed := false
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			changed = true
		}
		if u.RawQuery != "" {
			u.RawQuery = "xxxxx"
			changed = true
		}
		if changed {
			return u.String()
		}
	}
	return st.Value
}

// looksSecret reports whether a setting's name says it holds a credential,
// so that a part that forgets to read it with Secret still has it masked.
func looksSecret(name string) bool {
	for _, w := range []string{"PASSWORD", "PASSWD", "APIKEY", "API_KEY", "TOKEN", "SECRET", "WEBHOOKURL",
		"ACCESSKEY", "ROUTINGKEY", "INTEGRATIONKEY", "PRIVATEKEY", "CREDENTIAL", "SASL", "SIGNINGKEY"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return strings.HasSuffix(name, "_KEY") || strings.HasSuffix(name, "AUTH_HEADER")
}
