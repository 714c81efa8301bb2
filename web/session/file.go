package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// File is a Store kept in one JSON file, shared by every process that
// opens the same path (hub replicas on one host, or on a shared volume
// that supports flock). Writers take an exclusive lock on path+".lock"
// and replace the file atomically; readers reload it when it changed.
type File struct {
	path string

	mu     sync.Mutex
	cache  map[string]Session
	loaded fs.FileInfo // the file version cache holds; nil = none
}

// OpenFile returns a File store at path, creating its directory.
func OpenFile(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("session file: %w", err)
	}
	f := &File{path: path}
	if _, err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// reload refreshes the cache when the file on disk is another version
// than the one loaded. Callers hold f.mu.
func (f *File) reload() (map[string]Session, error) {
	fi, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		f.cache, f.loaded = map[string]Session{}, nil
		return f.cache, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session file: %w", err)
	}
	if f.loaded != nil && os.SameFile(fi, f.loaded) && fi.ModTime().Equal(f.loaded.ModTime()) && fi.Size() == f.loaded.Size() {
		return f.cache, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("session file: %w", err)
	}
	m := map[string]Session{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("session file %s: %w", f.path, err)
		}
	}
	f.cache, f.loaded = m, fi
	return m, nil
}

// update applies fn to the sessions under the cross-process lock and
// writes the result.
func (f *File) update(fn func(map[string]Session)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	lk, err := os.OpenFile(f.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("session file lock: %w", err)
	}
	defer lk.Close()
	if err := syscall.Flock(int(lk.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("session file lock: %w", err)
	}
	defer syscall.Flock(int(lk.Fd()), syscall.LOCK_UN)
	m, err := f.reload()
	if err != nil {
		return err
	}
	next := make(map[string]Session, len(m)+1)
	now := time.Now()
	for k, v := range m {
		if v.Expires.After(now) {
			next[k] = v
		}
	}
	fn(next)
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".sessions-*")
	if err != nil {
		return fmt.Errorf("session file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("session file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("session file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("session file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("session file: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("session file: %w", err)
	}
	f.loaded = nil // force a reload: the next reader sees what we wrote
	return nil
}

// Put implements Store.
func (f *File) Put(_ context.Context, key string, s Session) error {
	return f.update(func(m map[string]Session) { m[key] = s })
}

// Delete implements Store.
func (f *File) Delete(_ context.Context, key string) error {
	return f.update(func(m map[string]Session) { delete(m, key) })
}

// Get implements Store.
func (f *File) Get(_ context.Context, key string) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.reload()
	if err != nil {
		return Session{}, err
	}
	s, ok := m[key]
	if !ok || !s.Expires.After(time.Now()) {
		return Session{}, ErrNotFound
	}
	return s, nil
}
