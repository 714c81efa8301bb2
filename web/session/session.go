// Package session keeps the dashboard's login sessions on the server side,
// so logging out or changing the password ends a session everywhere, even
// for a copied cookie. Hub replicas share sessions through the same store:
// Redis when the hub uses Redis, a file in SAKER_DATA_DIR otherwise.
//
// Keys are opaque strings chosen by the caller (the dashboard stores a
// hash of the cookie, never the cookie itself).
package session

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Session is one login.
type Session struct {
	User string `json:"user"`
	// Gen identifies the credentials the session was opened with; a
	// session whose Gen no longer matches the configured credentials is
	// dead (the password changed).
	Gen     string    `json:"gen"`
	Expires time.Time `json:"expires"`
}

// ErrNotFound is returned by Get for a key that is unknown, revoked or
// expired.
var ErrNotFound = errors.New("session not found")

// Store holds sessions by key.
type Store interface {
	// Put creates or replaces a session; it expires at s.Expires.
	Put(ctx context.Context, key string, s Session) error
	// Get returns a live session or ErrNotFound; other errors mean the
	// store could not answer.
	Get(ctx context.Context, key string) (Session, error)
	// Delete revokes a session; deleting an unknown key is not an error.
	Delete(ctx context.Context, key string) error
}

// Memory is a Store for one process (tests, single hub without a data
// directory). The zero value is ready to use.
type Memory struct {
	mu sync.Mutex
	m  map[string]Session
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, key string, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]Session{}
	}
	now := time.Now()
	for k, v := range m.m {
		if !v.Expires.After(now) {
			delete(m.m, k)
		}
	}
	m.m[key] = s
	return nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[key]
	if !ok || !s.Expires.After(time.Now()) {
		return Session{}, ErrNotFound
	}
	return s, nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
	return nil
}
