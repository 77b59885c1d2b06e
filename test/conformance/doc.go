// Package conformance holds the end-to-end test that runs the OCI
// distribution-spec conformance suite against live imagegate binaries at
// OCI_VERSION=1.1 and dev — embedded storage with auth off and on, and S3 +
// DynamoDB with auth on — and requires every check to pass, none skipped but
// those a version's profile disables, naming each failure. Pointed at an
// external registry it compares with what plain distribution v3.1.2 achieves
// (the committed baseline-v3.1.2-passed.txt) instead. See conformance_test.go
// and backends_test.go for the environment it reads.
//
// The runner itself (suite.go, results.go) is exported for other end-to-end
// packages: Check runs the suite against any registry and judges it the
// same way (test/fleet runs it through a load balancer).
package conformance
