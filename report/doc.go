// Package report renders an audit result in every output format mlaudit
// has: a table for people and CI logs, and JSON for machines. Each format
// lives in its own file and is fed the same audit.Result.
package report
