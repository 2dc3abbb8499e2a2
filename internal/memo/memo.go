// Package memo runs a function once per key and remembers what it
// returned, for every caller, concurrent or later. golang.org/x/sync's
// singleflight only joins concurrent calls and forgets the result; audits
// need "once per run" (a reference fetched once however many checks ask).
package memo

import "sync"

// Map remembers results by key. The zero value is ready to use.
type Map[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// Do returns what fn returned the first time Do was called with key,
// calling it if nobody has; concurrent callers of the same key wait for
// the one call.
func (m *Map[T]) Do(key string, fn func() (T, error)) (T, error) {
	m.mu.Lock()
	if m.calls == nil {
		m.calls = map[string]*call[T]{}
	}
	c, ok := m.calls[key]
	if !ok {
		c = &call[T]{done: make(chan struct{})}
		m.calls[key] = c
	}
	m.mu.Unlock()
	if !ok {
		c.v, c.err = fn()
		close(c.done)
	}
	<-c.done
	return c.v, c.err
}

// Set records v as key's result if nothing is recorded yet.
func (m *Map[T]) Set(key string, v T) {
	m.Do(key, func() (T, error) { return v, nil }) //nolint:errcheck // nothing can fail
}
