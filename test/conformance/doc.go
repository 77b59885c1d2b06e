// Package conformance holds the end-to-end test that runs the OCI
// distribution-spec conformance suite against a live imagegate binary and
// compares the outcome with what plain distribution v3.1.2 achieves (the
// committed baseline-v3.1.2-passed.txt). Everything lives in _test.go files;
// see conformance_test.go for the environment it reads.
package conformance
