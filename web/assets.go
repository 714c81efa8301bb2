package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"
)

//go:embed assets
var assetFS embed.FS

// asset is one embedded file, with a gzipped copy when that is smaller.
type asset struct {
	body, gz []byte
	ctype    string
}

// assets serves the embedded files under /assets/<hash>/ where hash covers
// every file: a new build gets new URLs, so files can be cached forever
// ("immutable") while index.html, which names the hash, is never cached.
type assets struct {
	hash  string
	files map[string]*asset // by path under assets/; .html has the prefix filled in
}

const assetPrefixMark = "{{ASSETS}}"

func loadAssets() (*assets, error) {
	a := &assets{files: map[string]*asset{}}
	h := sha256.New()
	var names []string
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk assets: %w", err)
	}
	sort.Strings(names)
	raw := map[string][]byte{}
	for _, p := range names {
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read asset %s: %w", p, err)
		}
		rel := strings.TrimPrefix(p, "assets/")
		raw[rel] = b
		h.Write([]byte(rel))
		h.Write(b)
	}
	a.hash = hex.EncodeToString(h.Sum(nil))[:12]
	prefix := "/assets/" + a.hash
	for rel, b := range raw {
		ct := mime.TypeByExtension(path.Ext(rel))
		if ct == "" {
			ct = "application/octet-stream"
		}
		if strings.HasSuffix(rel, ".html") {
			b = bytes.ReplaceAll(b, []byte(assetPrefixMark), []byte(prefix))
		}
		f := &asset{body: b, ctype: ct}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if gz.Len() < len(b)*9/10 {
			f.gz = gz.Bytes()
		}
		a.files[rel] = f
	}
	if a.files["index.html"] == nil || a.files["login.html"] == nil {
		return nil, fmt.Errorf("assets: index.html and login.html are required")
	}
	return a, nil
}

func (a *assets) write(w http.ResponseWriter, r *http.Request, f *asset, cache string) {
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("Cache-Control", cache)
	w.Header().Add("Vary", "Accept-Encoding")
	body := f.body
	if f.gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		body = f.gz
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// serve answers /assets/<hash>/<file>. A stale hash (a page from an older
// build) still gets the current file, but only briefly cached.
func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	f := a.files[name]
	if f == nil || strings.HasSuffix(name, ".html") {
		http.NotFound(w, r)
		return
	}
	cache := "public, max-age=31536000, immutable"
	if chi.URLParam(r, "hash") != a.hash {
		cache = "no-cache"
	}
	a.write(w, r, f, cache)
}

func (a *assets) serveFavicon(w http.ResponseWriter, r *http.Request) {
	a.write(w, r, a.files["favicon.svg"], "public, max-age=86400")
}

// serveIndex serves the single-page app shell for every app route.
func (a *assets) serveIndex(w http.ResponseWriter, r *http.Request) {
	a.write(w, r, a.files["index.html"], "no-cache")
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.auth.user(r); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.assets.write(w, r, s.assets.files["login.html"], "no-cache")
}
