package config

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Store holds a node's live configuration. Readers call Load for the
// current snapshot, which never changes under them: hold on to it for the
// length of one decision (one command, one tick), then Load again. Writers
// (CONFIG SET, the node's own one-shot changes) build a new snapshot and
// swap it in, one writer at a time.
//
// Lock order: Store.mu is a leaf; nothing else is taken while holding it
// except the file system in Rewrite.
type Store struct {
	mu   sync.Mutex // serialises Set, Update and Rewrite
	cur  atomic.Pointer[Config]
	path string
}

// NewStore returns a Store serving c, which must be valid (as Parse and
// Load return it) and which the Store owns from now on. path is the file c
// was loaded from: "" when the server started without one; "-", standard
// input, counts as none for CONFIG REWRITE.
func NewStore(c *Config, path string) *Store {
	if path == "-" {
		path = ""
	}
	s := &Store{path: path}
	s.cur.Store(c)
	return s
}

// Load returns the current configuration. It is shared: do not modify it.
func (s *Store) Load() *Config { return s.cur.Load() }

// Path is the configuration file CONFIG REWRITE writes, "" if none.
func (s *Store) Path() string { return s.path }

// Set is CONFIG SET: a copy of the current configuration gets the value,
// must still Validate, and replaces it. Errors are those of Config.Set,
// ready for the client; a value that passes its own check but breaks a
// rule between fields is an *InvalidArgumentError.
func (s *Store) Set(name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.cur.Load().Clone()
	if err := next.Set(name, value); err != nil {
		return err
	}
	if err := next.Validate(); err != nil {
		return &InvalidArgumentError{Name: name, Value: value}
	}
	s.cur.Store(next)
	return nil
}

// Update applies f to a copy of the current configuration and swaps it in
// if f succeeds and the result validates; for changes the node makes
// itself, such as turning aof-enqueue-jobs-once off after loading.
func (s *Store) Update(f func(c *Config) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.cur.Load().Clone()
	if err := f(next); err != nil {
		return err
	}
	if err := next.Validate(); err != nil {
		return err
	}
	s.cur.Store(next)
	return nil
}

// Rewrite is CONFIG REWRITE of the current configuration into Path. It
// returns ErrNoConfigFile without a file, or a *RewriteError; both read as
// the client's error reply.
func (s *Store) Rewrite() error {
	if s.path == "" {
		return ErrNoConfigFile
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := Rewrite(s.path, s.cur.Load()); err != nil {
		var re *RewriteError
		if errors.As(err, &re) {
			return re
		}
		return &RewriteError{Err: err}
	}
	return nil
}
