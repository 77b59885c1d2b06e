#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds imagegate, installs and
# starts what the tests need (Docker engine, DynamoDB Local, SeaweedFS for
# S3, HAProxy, crane, skopeo, OCI conformance suite), runs every Go test with all of them required (none may skip), and
# prints the conformance summary. Called by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOEXPERIMENT=jsonv2
root=$PWD
mkdir -p build
start=$(date +%s)

make build
echo "binary: $(du -h bin/imagegate | cut -f1) bin/imagegate"

conformance_bin=$(bash scripts/build-conformance.sh)
client_env=$(bash scripts/install-clients.sh)
while IFS= read -r line; do export "${line?}"; done <<<"$client_env"
bash scripts/dynamodb-local.sh install
bash scripts/seaweedfs.sh install
bash scripts/haproxy.sh install >/dev/null

docker_dir=$(mktemp -d /tmp/imagegate-dockerd.XXXXXX)
ns_dir=$(mktemp -d /tmp/imagegate-ns.XXXXXX)
s3_dir=$(mktemp -d /tmp/imagegate-s3.XXXXXX)
cleanup() {
	bash scripts/dockerd.sh stop "$docker_dir" || true
	bash scripts/seaweedfs.sh stop "$s3_dir" || true
}
trap cleanup EXIT
eval "export $(bash scripts/dockerd.sh start "$docker_dir" | tail -n 1)"
eval "export $(bash scripts/seaweedfs.sh start "$s3_dir" | tail -n 1)"

export IMAGEGATE_BIN=$root/bin/imagegate
export OCI_CONFORMANCE_BIN=$conformance_bin
export IMAGEGATE_TEST_REQUIRE_ALL=1
export IMAGEGATE_CONFORMANCE_OUT=$root/build/conformance

# Packages that need DynamoDB Local (which listens on every interface) run
# in a private network namespace with it and a SeaweedFS of their own; the
# others on the host, next to dockerd. The conformance suite runs there too,
# on the embedded default and on S3 + DynamoDB; so does the fleet (three
# replicas behind HAProxy, with a Docker engine of its own in the namespace).
netns_pkgs="./metadata/dynamodb/... ./fleet/dynamodb/... ./test/outage/..."
host_pkgs=$(go list ./... | grep -v -e /test/conformance -e /metadata/dynamodb -e /fleet/dynamodb -e /test/outage -e /test/fleet)

go vet ./...
go test -count=1 -timeout 30m $host_pkgs
# The concurrent packages under the race detector, then every fuzz target
# for a bounded time (docs in each script).
bash scripts/race.sh
bash scripts/fuzz.sh
bash scripts/netns-tests.sh "$ns_dir/main" $netns_pkgs
bash scripts/netns-tests.sh "$ns_dir/conformance" --verbose-log build/conformance.log ./test/conformance
fleet_start=$(date +%s)
bash scripts/netns-tests.sh "$ns_dir/fleet" --verbose-log build/fleet.log ./test/fleet
echo "test/fleet: $(( $(date +%s) - fleet_start ))s"

echo "make test: $(( $(date +%s) - start ))s"
