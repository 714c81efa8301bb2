package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// envReaders are the functions that read the process environment.
var envReaders = map[string]bool{"Getenv": true, "LookupEnv": true, "Environ": true, "ExpandEnv": true}

// envAllowed lists the packages below cmd that still read the environment,
// each with why. Everything else receives its settings from cmd/saker's
// configuration Source.
var envAllowed = map[string]string{
	"hub/store/redistest":      "test helper: SAKER_REQUIRE_REDIS turns a missing redis-server into a failure",
	"forwarders/forwardertest": "benchmark helper: SAKER_BENCH_OUTAGE shortens the outage benchmark",
}

// TestOnlyCmdReadsTheEnvironment walks every non-test Go file below the
// repository root outside cmd/ and fails on a call to os.Getenv,
// os.LookupEnv, os.Environ or os.ExpandEnv in a package not listed above.
func TestOnlyCmdReadsTheEnvironment(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			if rel == "cmd" || rel == "deploy" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		if _, ok := envAllowed[filepath.ToSlash(filepath.Dir(rel))]; ok {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		osName := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"os"` {
				osName = "os"
				if imp.Name != nil {
					osName = imp.Name.Name
				}
			}
		}
		if osName == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == osName && envReaders[sel.Sel.Name] {
				t.Errorf("%s: os.%s below cmd: decode the setting from the configuration Source in cmd/saker and pass it down", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no Go file checked")
	}
}
