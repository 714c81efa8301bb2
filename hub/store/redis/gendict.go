//go:build ignore

// gendict writes zdict.txt, the raw zstd dictionary stream entries are
// compressed with (codec.go): the vocabulary of a Falco alert as the hub
// encodes it — the official stable rules' names, output texts (fields left
// out), priorities and tags, the output field names they print, and the
// JSON skeleton of an alert. An alert alone is too small for zstd to find
// much to reuse in itself; with this history it refers to it instead.
//
// The file must never change once entries are written with it: a new
// dictionary needs a new entry field and dictionary ID (codec.go).
//
//	go run gendict.go ../../../sensor/rules/testdata/falco_rules.yaml
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

type item struct {
	Rule     string   `yaml:"rule"`
	Output   string   `yaml:"output"`
	Priority string   `yaml:"priority"`
	Tags     []string `yaml:"tags"`
}

var field = regexp.MustCompile(`%([a-zA-Z0-9_.]+(\[[^\]]*\])?)`)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gendict.go falco_rules.yaml")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	var items []item
	if err := yaml.Unmarshal(raw, &items); err != nil {
		fail(err)
	}
	var out bytes.Buffer
	fields := map[string]bool{}
	tags := map[string]bool{}
	for _, it := range items {
		if it.Rule == "" || it.Output == "" {
			continue
		}
		for _, m := range field.FindAllStringSubmatch(it.Output, -1) {
			fields[m[1]] = true
		}
		text := strings.Join(strings.Fields(field.ReplaceAllString(it.Output, "")), " ")
		fmt.Fprintf(&out, `"output":%s,"priority":%q,"rule":%s,`, quote(text), it.Priority, quote(it.Rule))
		for _, t := range it.Tags {
			tags[t] = true
		}
	}
	out.WriteString(`"output_fields":{`)
	for i, f := range sortedKeys(fields) {
		if i > 0 {
			out.WriteByte(',')
		}
		fmt.Fprintf(&out, `%s:"",%s:null`, quote(f), quote(f))
	}
	out.WriteString(`},"tags":[`)
	for i, t := range sortedKeys(tags) {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString(quote(t))
	}
	out.WriteString("]}\n")
	// The skeleton last: the nearest history is the cheapest to refer to.
	for _, p := range []string{"Debug", "Informational", "Notice", "Warning", "Error", "Critical", "Alert", "Emergency"} {
		fmt.Fprintf(&out, `"priority":%q,`, p)
	}
	out.WriteString(`{"uuid":"","output":"00:00:00.000000000: Notice ","priority":"Notice","rule":"","time":"2026-01-01T00:00:00.000000000Z",` +
		`"output_fields":{"container.id":"","container.image.repository":"","container.image.tag":"latest","container.name":"",` +
		`"evt.time":1,"evt.type":"","k8s.ns.name":null,"k8s.pod.name":null,"proc.cmdline":"","proc.exepath":"","proc.name":"",` +
		`"proc.pname":"","proc.tty":0,"user.loginuid":-1,"user.name":"root","user.uid":0},"source":"syscall","tags":[],"hostname":""}` + "\n")
	if err := os.WriteFile("zdict.txt", out.Bytes(), 0o644); err != nil {
		fail(err)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gendict:", err)
	os.Exit(1)
}
