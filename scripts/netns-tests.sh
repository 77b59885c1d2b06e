#!/usr/bin/env bash
# netns-tests.sh — run Go test packages inside a private network namespace
# with their own DynamoDB Local and SeaweedFS.
#
# Usage:
#   scripts/netns-tests.sh DIR [--verbose-log FILE] PKG...
#
# Contract: DynamoDB Local listens on every interface, so the packages that
# need it run in a namespace whose only interface is loopback
# (scripts/in-netns.sh). Inside, this starts DynamoDB Local (state in
# DIR/ddb) and a SeaweedFS of its own (DIR/s3), exports
# IMAGEGATE_TEST_DYNAMODB_ENDPOINT and IMAGEGATE_TEST_S3_ENDPOINT, runs
# `go test -count=1` on PKG..., and stops both servers whatever the result.
# There is no network inside: the test binaries are built here first, so
# every module must already be in the module cache. With --verbose-log,
# the tests run with -v and their output is also written to FILE (the
# conformance summary is read from there). Exits with go test's status.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 2 ]] || { echo "usage: $0 DIR [--verbose-log FILE] PKG..." >&2; exit 2; }
dir=$1
shift
log=""
if [[ "$1" == --verbose-log ]]; then
	log=$2
	shift 2
fi
mkdir -p "$dir/ddb" "$dir/s3"

if [[ "${IMAGEGATE_NETNS_INSIDE:-}" != 1 ]]; then
	# Outside: compile the test binaries while the module proxy is reachable.
	go test -count=1 -run '^$' "$@" >/dev/null
	IMAGEGATE_NETNS_INSIDE=1 exec bash scripts/in-netns.sh bash "$0" "$dir" ${log:+--verbose-log "$log"} "$@"
fi

stop_servers() {
	bash scripts/dynamodb-local.sh stop "$dir/ddb" || true
	bash scripts/seaweedfs.sh stop "$dir/s3" || true
}
trap stop_servers EXIT
# weed names a unix socket in /tmp after each of its ports, and /tmp is
# shared with the host: ports of their own keep this SeaweedFS from taking
# over (and, when it stops, deleting) the sockets of one outside.
export SEAWEEDFS_PORT_BASE=${SEAWEEDFS_PORT_BASE:-19300} SEAWEEDFS_S3_PORT=${SEAWEEDFS_S3_PORT:-19350}
export "$(bash scripts/dynamodb-local.sh start "$dir/ddb" | tail -n 1)"
export "$(bash scripts/seaweedfs.sh start "$dir/s3" | tail -n 1)"

if [[ -z "$log" ]]; then
	go test -count=1 -timeout 20m "$@"
else
	set -o pipefail
	go test -count=1 -timeout 20m -v "$@" 2>&1 | tee "$log" |
		grep -E '^(--- |ok|FAIL|PASS)|conformance( \(.*\))?:' || true
	# grep above only trims the output; the tests' own verdict decides:
	! grep -qE '^(FAIL|--- FAIL)' "$log" && grep -qE '^ok\s' "$log"
fi
