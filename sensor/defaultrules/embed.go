// Package defaultrules embeds the rules file the sensor loads when no -r
// option or rules_files setting names another: saker_rules.yaml, written by
// the Saker project in the Falco rules language.
package defaultrules

import _ "embed"

// Name is the file name the embedded rules are reported under.
const Name = "saker_rules.yaml"

// YAML is the content of saker_rules.yaml.
//
//go:embed saker_rules.yaml
var YAML []byte
