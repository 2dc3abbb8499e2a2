package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// fileSet is the files a Client keeps open until Close: every version of
// every archive it read (a rewrite's new version does not close the old
// one, which a reader may still be streaming a layer from, or hold as a
// go-containerregistry image to copy), standard input and the Docker
// engine's saves spooled to temporary files. Temporary files are removed
// as soon as they are made; where the system refuses to remove an open
// file (Windows), they are removed by Close, after closing them. The zero
// value is ready.
type fileSet struct {
	mu     sync.Mutex
	files  []*os.File
	remove []string
	closed bool
}

// errClosed is a read through a Client that was closed.
var errClosed = errors.New("the registry Client was closed")

// keep adds f to the files Close closes; after Close, it closes f and
// refuses.
func (s *fileSet) keep(f *os.File) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		f.Close()
		return errClosed
	}
	s.files = append(s.files, f)
	return nil
}

// temp makes a temporary file, removed at once where the system allows
// it, else when the set is closed.
func (s *fileSet) temp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		s.mu.Lock()
		s.remove = append(s.remove, f.Name())
		s.mu.Unlock()
	}
	return f, nil
}

// discard closes a temporary file that will not be kept, and removes it
// if it is still there.
func discard(f *os.File) {
	f.Close()
	os.Remove(f.Name()) // already gone on Unix; elsewhere, Close tries again
}

// close closes every file and removes the temporary files still there.
func (s *fileSet) close() error {
	s.mu.Lock()
	files, remove := s.files, s.remove
	s.files, s.remove, s.closed = nil, nil, true
	s.mu.Unlock()
	var errs []error
	for _, f := range files {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, p := range remove {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing the temporary file %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Close releases what the Client holds open: the archives it read (each
// version of one it rewrote), the temporary copies of standard input and
// of the Docker engine's saves (removing them where they could not be
// removed while open), and idle connections to the Docker engine. Reads
// of those afterwards fail; make a new Client. It is safe to call more
// than once.
func (c *Client) Close() error {
	err := c.files.close()
	c.daemons.mu.Lock()
	e := c.daemons.engine
	c.daemons.mu.Unlock()
	if e != nil {
		e.hc.CloseIdleConnections()
	}
	return err
}
