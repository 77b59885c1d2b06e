// Package logs tests what operators read: the real imagegate binary with
// auth on, pushed to by the real crane through a recording proxy, and its
// JSON log checked line by line — one access line per request, the same
// request id in every line of a request and in its X-Request-Id answer, no
// ERROR line for a normal push, a refusal logged once, durations in ms.
//
// Everything lives in _test.go files. The tests need IMAGEGATE_BIN (make
// build) and CRANE_BIN (scripts/install-clients.sh) and skip without them.
package logs
