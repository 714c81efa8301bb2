package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/defaultrules"
	"github.com/saker-sec/saker/sensor/fields"
	"github.com/saker-sec/saker/sensor/k8saudit"
	"github.com/saker-sec/saker/sensor/rules"
)

// multiFlag collects a repeatable string flag (-r a.yaml -r b.yaml).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runRules(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: saker rules validate|list|fields [flags]")
		return exitCode(2)
	}
	switch args[0] {
	case "validate":
		return rulesValidate(os.Stdout, args[1:])
	case "list":
		return rulesList(os.Stdout, args[1:])
	case "fields":
		return rulesFields(os.Stdout, args[1:])
	}
	fmt.Fprintf(os.Stderr, "saker rules: unknown subcommand %q\n", args[0])
	return exitCode(2)
}

// rulesFlags parses -r FILE (repeatable, files may also be positional) and
// -priority.
func rulesFlags(name string, args []string) (*flag.FlagSet, []string, rules.Config, *bool, error) {
	fs := flag.NewFlagSet("saker rules "+name, flag.ContinueOnError)
	var files multiFlag
	fs.Var(&files, "r", "rules file (repeatable, loaded in order)")
	prio := fs.String("priority", "debug", "minimum rule priority to load")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return nil, nil, rules.Config{}, nil, err
	}
	files = append(files, fs.Args()...)
	p, err := alert.ParsePriority(*prio)
	if err != nil {
		return nil, nil, rules.Config{}, nil, fmt.Errorf("-priority: %w", err)
	}
	// Both sources, as Falco with the k8saudit and json plugins loaded.
	return fs, files, k8saudit.RulesConfig(rules.Config{MinPriority: p}), asJSON, nil
}

// rulesValidate loads the files like `falco --validate`: each file is
// reported "Ok" or "Invalid" with its errors and warnings; exit 1 when any
// file is invalid.
func rulesValidate(w io.Writer, args []string) error {
	_, files, cfg, _, err := rulesFlags("validate", args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("validate: no rules files (-r FILE)")
	}
	l := rules.NewLoader(cfg)
	for _, f := range files {
		if err := l.LoadFile(f); err != nil && !errors.As(err, new(rules.Errors)) {
			return err
		}
	}
	// Every error of every file at once, as `falco --validate` prints them.
	_, err = l.Compile()
	var errs rules.Errors
	if err != nil && !errors.As(err, &errs) {
		return err
	}
	ok := len(errs) == 0
	for _, f := range files {
		status := "Ok"
		for _, e := range errs {
			if e.Loc.File == f {
				status = "Invalid"
				break
			}
		}
		fmt.Fprintf(w, "%s: %s\n", f, status)
	}
	if !ok {
		fmt.Fprintf(w, "%d Errors:\n", len(errs))
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
	}
	if n := len(l.Warnings); n > 0 {
		fmt.Fprintf(w, "%d Warnings:\n", n)
		for _, wr := range l.Warnings {
			fmt.Fprintln(w, wr.String())
		}
	}
	if !ok {
		return exitCode(1)
	}
	return nil
}

func rulesList(w io.Writer, args []string) error {
	_, files, cfg, asJSON, err := rulesFlags("list", args)
	if err != nil {
		return err
	}
	// Without -r, list the rules the sensor loads by default.
	l := rules.NewLoader(cfg)
	if len(files) == 0 {
		if err := l.Load(defaultrules.Name, defaultrules.YAML); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := l.LoadFile(f); err != nil && !errors.As(err, new(rules.Errors)) {
			return err
		}
	}
	rs, err := l.Compile()
	if err != nil {
		return err
	}
	if *asJSON {
		type jr struct {
			Name       string   `json:"name"`
			Priority   string   `json:"priority"`
			Enabled    bool     `json:"enabled"`
			Source     string   `json:"source"`
			Tags       []string `json:"tags"`
			Condition  string   `json:"condition"`
			Output     string   `json:"output"`
			EventTypes []string `json:"event_types"`
		}
		out := make([]jr, 0, len(rs.Rules))
		for _, r := range rs.Rules {
			var ts []string
			for _, t := range r.EventTypes {
				ts = append(ts, t.String())
			}
			out = append(out, jr{r.Name, r.Priority.String(), r.Enabled && r.Loaded, r.Source, r.Tags, r.Condition, r.Output, ts})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tPRIORITY\tENABLED\tEVENT TYPES")
	for _, r := range rs.Rules {
		var ts []string
		for _, t := range r.EventTypes {
			ts = append(ts, t.String())
		}
		evt := strings.Join(ts, ",")
		if r.AllEventTypes {
			evt = "(all)"
		}
		if r.Source != "syscall" {
			evt = "(" + r.Source + " events)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", r.Name, r.Priority, r.Enabled && r.Loaded, evt)
	}
	return tw.Flush()
}

// rulesFields prints the fields of each rule source like `falco --list`;
// -source limits it to one (syscall or k8s_audit).
func rulesFields(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("saker rules fields", flag.ContinueOnError)
	source := fs.String("source", "", "only this source's fields: syscall or k8s_audit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bySource := []struct {
		name   string
		fields []*fields.Field
	}{{"syscall", fields.All()}, {k8saudit.Source, k8saudit.Fields{}.All()}}
	found := false
	for _, src := range bySource {
		if *source != "" && *source != src.name {
			continue
		}
		found = true
		fmt.Fprintf(w, "# source: %s\n", src.name)
		for _, f := range src.fields {
			name := f.Name
			switch f.Arg {
			case fields.IndexArg:
				name += "[N]"
			case fields.KeyArg, fields.RequiredArg:
				name += "[KEY]"
			case fields.IndexOrKey:
				name += "[ARG]"
			}
			fmt.Fprintf(w, "%-30s %-8s %s\n", name, f.Type, f.Desc)
		}
	}
	if !found {
		return fmt.Errorf("fields: unknown source %q (want syscall or %s)", *source, k8saudit.Source)
	}
	return nil
}
