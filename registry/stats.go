package registry

import "sync"

// Stats counts the HTTP requests a Client made: the real cost of an audit
// (latency, and on Docker Hub every manifest GET counts as a pull).
type Stats struct {
	// Requests maps "METHOD kind" ("GET manifest", "HEAD manifest",
	// "GET blob", "GET tags", "GET ping", "GET token") to a count.
	Requests map[string]int64 `json:"requests"`
	// Total is the sum of Requests.
	Total int64 `json:"total"`
	// RateLimitRemaining is the last ratelimit-remaining each registry
	// host announced (Docker Hub's pulls left in its window).
	RateLimitRemaining map[string]int `json:"rateLimitRemaining,omitempty"`
	// CacheHits counts manifests and configs served from memory or the
	// on-disk cache instead of a GET.
	CacheHits int64 `json:"cacheHits"`
}

type statsCollector struct {
	mu       sync.Mutex
	requests map[string]int64
}

func (s *statsCollector) add(method, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests == nil {
		s.requests = map[string]int64{}
	}
	s.requests[method+" "+kind]++
}

func (s *statsCollector) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Requests: make(map[string]int64, len(s.requests))}
	for k, v := range s.requests {
		out.Requests[k] = v
		out.Total += v
	}
	return out
}
