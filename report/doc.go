// Package report renders what mlaudit computes for people and machines: an
// audit result in every output format (a table for people and CI logs,
// JSON, markdown, JUnit, SARIF, Prometheus, HTML; one file each, all fed the
// same audit.Result), a repair plan and what applying it did (plan.go), and
// a policy explanation (explain.go).
package report
