// Package memo runs a function once per key and remembers what it
// returned, for every caller, concurrent or later. golang.org/x/sync's
// singleflight only joins concurrent calls and forgets the result; audits
// need "once per run" (a reference fetched once however many checks ask),
// and let a result go ([Map.Forget]) once nothing will ask for it again.
package memo

import "sync"

// Map remembers results by key. The zero value is ready to use.
type Map[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

// call is one key's result; its once makes concurrent callers wait for
// the one call (a channel per key would cost more than many results).
type call[T any] struct {
	once sync.Once
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
		c = &call[T]{}
		m.calls[key] = c
	}
	m.mu.Unlock()
	c.once.Do(func() { c.v, c.err = fn() })
	return c.v, c.err
}

// Set records v as key's result if nothing is recorded yet.
func (m *Map[T]) Set(key string, v T) {
	m.Do(key, func() (T, error) { return v, nil }) //nolint:errcheck // nothing can fail
}

// Forget drops key's result, so that it can be collected; the next Do
// with key calls its function again. Callers that already hold the
// result keep it, and a call in flight still answers its waiters.
func (m *Map[T]) Forget(key string) {
	m.mu.Lock()
	delete(m.calls, key)
	m.mu.Unlock()
}
