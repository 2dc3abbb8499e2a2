// Package bench measures whole-registry audits: requests and wall time
// against a registry that answers every request 20 ms late, cold and with
// a warm cache (BenchmarkAudit); pings and token requests per 100
// repositories on a registry that issues bearer tokens (BenchmarkTokens);
// peak heap and wall time at 2,000 and 10,000 tags, cold and warm, so that
// the cost per tag can be seen to stay flat, and at 10,000 tags the peak
// resident memory of the built mlaudit binary (BenchmarkScale; goal:
// under 150 MB). Run them with `make bench`; the numbers in docs/audit.md
// come from it.
package bench
