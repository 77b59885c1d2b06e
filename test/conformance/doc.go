// Package conformance holds the end-to-end test that runs the OCI
// distribution-spec conformance suite against live imagegate binaries, once
// with auth off and once with auth on (the suite logging in as an admin), and
// compares the outcomes with what plain distribution v3.1.2 achieves (the
// committed baseline-v3.1.2-passed.txt) and with each other. Everything
// lives in _test.go files; see conformance_test.go for the environment it
// reads.
package conformance
