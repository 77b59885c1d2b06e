// Package fleet proves "many replicas, one registry" against real parts:
// three `imagegate serve` processes on S3 (SeaweedFS) and DynamoDB (DynamoDB
// Local) with auth on, sharing one signing key file and one http.secret,
// behind HAProxy (Debian's package, scripts/haproxy.sh: round robin, no
// stickiness), scanning in a pool of two `imagegate scanner` processes on
// the same S3 bucket and DynamoDB table (scan.pool; the offline fixture
// vulnerability DB in each, none in the replicas), driven by real clients
// (crane, skopeo, docker, the OCI conformance suite, go-containerregistry).
//
// Everything lives in _test.go files. The tests need IMAGEGATE_BIN,
// IMAGEGATE_TEST_S3_ENDPOINT and IMAGEGATE_TEST_DYNAMODB_ENDPOINT, HAProxy in
// the tools cache (`bash scripts/haproxy.sh install`), CRANE_BIN and
// SKOPEO_BIN (scripts/install-clients.sh), dockerd (scripts/dockerd.sh; the
// docker test starts an engine of its own, inside the test's network
// namespace) and OCI_CONFORMANCE_BIN; they run inside
// scripts/netns-tests.sh, which starts DynamoDB Local and SeaweedFS:
//
//	bash scripts/netns-tests.sh /tmp/ns-fleet ./test/fleet
//
// The load run is a benchmark, not a test (docs/scaling.md, "Figures"),
// compiled first, then run inside the namespace (IMAGEGATE_NETNS_INSIDE=1
// skips netns-tests.sh's compile step, which would run it outside):
//
//	go test -run '^$' ./test/fleet
//	IMAGEGATE_NETNS_INSIDE=1 bash scripts/in-netns.sh bash scripts/netns-tests.sh \
//	    /tmp/ns-fleet -run '^$' -bench FleetLoad -benchtime 1x ./test/fleet
package fleet
