package memo

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestDoCallsOncePerKey(t *testing.T) {
	var m Map[int]
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := m.Do("k", func() (int, error) {
				calls.Add(1)
				<-release
				return 42, nil
			})
			if v != 42 || err != nil {
				t.Errorf("Do = %d, %v", v, err)
			}
		}()
	}
	close(release)
	wg.Wait()
	if v, _ := m.Do("k", func() (int, error) { return 0, nil }); v != 42 || calls.Load() != 1 {
		t.Errorf("later Do = %d after %d calls; want 42 after 1", v, calls.Load())
	}
	boom := errors.New("boom")
	if _, err := m.Do("other", func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("errors are returned: %v", err)
	}
	m.Set("k", 7)
	m.Set("new", 7)
	if v, _ := m.Do("k", nil); v != 42 {
		t.Error("Set must not replace a recorded result")
	}
	if v, _ := m.Do("new", nil); v != 7 {
		t.Error("Set records a result for a new key")
	}
	m.Forget("k")
	if v, _ := m.Do("k", func() (int, error) { return 9, nil }); v != 9 {
		t.Error("Do after Forget must call again")
	}
}
