// Package bench measures whole-registry audits: requests and wall time
// against a registry that answers every request 20 ms late, cold and with
// a warm cache. Run it with `make bench`; the numbers in the README come
// from it.
package bench
