package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func envOf(m map[string]string) (func(string) (string, bool), func() []string) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok },
		func() []string {
			var out []string
			for k, v := range m {
				out = append(out, k+"="+v)
			}
			return out
		}
}

func TestDefaults(t *testing.T) {
	l, e := envOf(nil)
	c, err := LoadWith("", l, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != ":2801" || c.UIAddr() != ":2802" || c.BodyLimit != 1<<20 || c.TLSServer.NoTLSPort != 2810 ||
		len(c.Redis.Addresses) != 0 || !c.Redis.CheckCert || c.Redis.Shards != 1 || c.BatchMaxEvents != 10000 ||
		c.Fsync.Policy != FsyncInterval || c.Fsync.Interval != 0 {
		t.Fatalf("%+v", c)
	}
}

const yamlDoc = `
listenaddress: 127.0.0.1
listenport: 3801
debug: true
customfields:
  cluster: prod
  node: "%SAKER_NODE"
templatedfields:
  where: '{{ index . "k8s.ns.name" }}'
customtags: [a, b]
redis:
  address: r1:6379,r2:6379
  db: 2
retention:
  maxage: 7d
tlsserver:
  notlspaths:
    - /healthz
    - /ping
slack:
  webhookurl: https://hooks.slack.example/x
  minimumpriority: warning
elasticsearch:
  customheaders:
    X-A: b:c
`

func TestYAMLAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yamlDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	l, e := envOf(map[string]string{
		"LISTENPORT": "4801", "SAKER_NODE": "n1", "REDIS_PASSWORD": "pw", "REDIS_SHARDS": "3",
		"SLACK_MINIMUMPRIORITY": "error", "LOKI_HOSTPORT": "http://l:3100",
	})
	c, err := LoadWith(path, l, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "127.0.0.1:4801" || !c.Debug {
		t.Fatal(c.Addr(), c.Debug)
	}
	if !reflect.DeepEqual(c.CustomFields, map[string]string{"cluster": "prod", "node": "n1"}) {
		t.Fatal(c.CustomFields)
	}
	if len(c.TemplatedFields) != 1 || c.TemplatedFields[0].Name != "where" || !reflect.DeepEqual(c.CustomTags, []string{"a", "b"}) {
		t.Fatal(c.TemplatedFields, c.CustomTags)
	}
	if !reflect.DeepEqual(c.Redis.Addresses, []string{"r1:6379", "r2:6379"}) || c.Redis.DB != 2 || c.Redis.Password != "pw" || c.Redis.Shards != 3 {
		t.Fatalf("%+v", c.Redis)
	}
	if c.Retention.MaxAge != 7*24*time.Hour || !reflect.DeepEqual(c.TLSServer.NoTLSPaths, []string{"/healthz", "/ping"}) {
		t.Fatal(c.Retention, c.TLSServer.NoTLSPaths)
	}
	if got := c.GlobalFields(); !reflect.DeepEqual(got, []string{"cluster", "node", "where"}) {
		t.Fatal(got)
	}

	// The same file and environment, read by another part's keys.
	doc, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(doc, l, e)
	if v := src.String("slack.webhookurl", ""); v != "https://hooks.slack.example/x" {
		t.Fatal(v)
	}
	if v := src.String("SLACK_MINIMUMPRIORITY", ""); v != "error" {
		t.Fatal("env must override yaml:", v)
	}
	if m := src.Map("ELASTICSEARCH_CUSTOMHEADERS"); m["X-A"] != "b:c" {
		t.Fatal(m)
	}
}

func TestEnvMapsAndErrors(t *testing.T) {
	l, e := envOf(map[string]string{"CUSTOMFIELDS": "a:1, b:http://x:80", "TEMPLATEDFIELDS": "t:{{ .x }}"})
	c, err := LoadWith("", l, e)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.CustomFields, map[string]string{"a": "1", "b": "http://x:80"}) || len(c.TemplatedFields) != 1 || c.TemplatedFields[0].Name != "t" {
		t.Fatal(c.CustomFields, c.TemplatedFields)
	}
	for _, bad := range []map[string]string{
		{"LISTENPORT": "http"}, {"LISTENPORT": "70000"}, {"DEBUG": "yes please"},
		{"RETENTION_MAXAGE": "forever"}, {"BODYLIMIT": "0"}, {"TEMPLATEDFIELDS": "a:{{ .x "},
		{"REDIS_SHARDS": "0"}, {"REDIS_SHARDS": "257"}, {"REDIS_SHARDS": "three"},
		{"SAKER_FSYNC": "sometimes"}, {"SAKER_FSYNC_INTERVAL": "soon"},
	} {
		l, e := envOf(bad)
		if _, err := LoadWith("", l, e); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	l, e = envOf(map[string]string{"SAKER_FSYNC": "Interval", "SAKER_FSYNC_INTERVAL": "200ms"})
	if c, err := LoadWith("", l, e); err != nil || c.Fsync.Policy != FsyncInterval || c.Fsync.Interval != 200*time.Millisecond {
		t.Errorf("SAKER_FSYNC=Interval SAKER_FSYNC_INTERVAL=200ms: %+v, %v", c.Fsync, err)
	}
	l, e = envOf(map[string]string{"SAKER_FSYNC": "always"})
	if c, err := LoadWith("", l, e); err != nil || c.Fsync.Policy != FsyncAlways {
		t.Errorf("SAKER_FSYNC=always: %+v, %v", c.Fsync, err)
	}
	if _, err := LoadWith("/nonexistent.yaml", l, e); err == nil {
		t.Error("missing file accepted")
	}
}
