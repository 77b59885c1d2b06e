#!/usr/bin/env bash
# The whole test suite on a fresh machine: builds imagegate, installs and
# starts what the tests need (Docker engine, DynamoDB Local, SeaweedFS for
# S3, PostgreSQL and MariaDB for the SQL metadata stores, HAProxy, crane,
# skopeo, OCI conformance suite), runs every Go test with
# all of them required (none may skip), and prints the conformance summary.
# Called by `make test` and CI.
#
# Each phase prints its name when it starts and its duration when it ends
# (a line every minute while it runs), and the run ends with a table of all
# phases — also when a phase fails.
#
# Every temporary file of the run — the servers' directories, the tests'
# t.TempDir()s that a killed fuzz worker cannot remove, Trivy's per-process
# trivy-* directories, SeaweedFS's weed.* logs, mktemp files of the scripts
# — goes under one directory (TMPDIR, /tmp/ig-test.XXXXXX) that is removed
# on exit; set KEEP_TMP=1 to keep it for a post-mortem.
set -euo pipefail
cd "$(dirname "$0")/.."
# The one set of Go flags (README "Go flags"): the same as the Makefile's,
# so that `go test` by hand reuses this run's build cache.
export GOEXPERIMENT=jsonv2 CGO_ENABLED=0
root=$PWD
mkdir -p build
start=$SECONDS

run_tmp=$(mktemp -d /tmp/ig-test.XXXXXX)
export TMPDIR=$run_tmp
docker_dir=$run_tmp/dockerd
ns_dir=$run_tmp/ns
s3_dir=$run_tmp/s3
pg_dir=$run_tmp/postgres
mariadb_dir=$run_tmp/mariadb

timings=()
current=""
beat=""
cleanup() {
	local rc=$?
	[[ -z "$beat" ]] || kill "$beat" 2>/dev/null || true
	bash scripts/dockerd.sh stop "$docker_dir" >/dev/null 2>&1 || true
	bash scripts/seaweedfs.sh stop "$s3_dir" >/dev/null 2>&1 || true
	bash scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true
	bash scripts/mariadb.sh stop "$mariadb_dir" >/dev/null 2>&1 || true
	if [[ "${KEEP_TMP:-}" == 1 ]]; then
		echo "temporary files kept in $run_tmp ($(du -sh "$run_tmp" 2>/dev/null | cut -f1))"
	else
		rm -rf "$run_tmp" || echo "could not remove all of $run_tmp" >&2
	fi
	[[ -z "$current" ]] || timings+=("$(printf '%-12s %6ss  FAILED' "$current" $((SECONDS - phase_start)))")
	echo "== phases"
	printf '   %s\n' "${timings[@]}"
	echo "== make test: $((SECONDS - start))s$([[ $rc -eq 0 ]] || echo " (failed, exit $rc)")"
}
trap cleanup EXIT

# begin NAME: a phase starts; a heartbeat line every 30 s until end.
# Phases are plain code between begin and end (not functions), so that
# set -e stops the run at the first failing command of a phase.
begin() {
	current=$1
	phase_start=$SECONDS
	echo "== $current"
	(while sleep 30; do echo "   … $current: $((SECONDS - phase_start))s"; done) &
	beat=$!
}

# end: the current phase ended; its duration is printed and kept.
end() {
	kill "$beat" 2>/dev/null || true
	wait "$beat" 2>/dev/null || true
	beat=""
	timings+=("$(printf '%-12s %6ss' "$current" $((SECONDS - phase_start)))")
	echo "== $current: $((SECONDS - phase_start))s"
	current=""
}

begin build
make build
echo "binary: $(du -h bin/imagegate | cut -f1) bin/imagegate"
end

begin tools
conformance_bin=$(bash scripts/build-conformance.sh)
# distribution's own registry, for the bench's smoke run (cmd/imagegate-bench).
DISTRIBUTION_BIN=$(bash scripts/build-distribution.sh)
export DISTRIBUTION_BIN
client_env=$(bash scripts/install-clients.sh)
while IFS= read -r line; do export "${line?}"; done <<<"$client_env"
bash scripts/dynamodb-local.sh install
bash scripts/seaweedfs.sh install
bash scripts/postgres.sh install
bash scripts/mariadb.sh install
bash scripts/haproxy.sh install >/dev/null
export "$(bash scripts/prometheus.sh install | tail -n 1)"
export "$(bash scripts/chromium.sh install | tail -n 1)"
export "$(bash scripts/axe.sh install | tail -n 1)"
# The completion test sources bash-completion's library, as a shell does.
if [[ ! -f /usr/share/bash-completion/bash_completion ]]; then
	# shellcheck source=scripts/lib/apt.sh
	source scripts/lib/apt.sh
	apt_install_package bash-completion "bash-completion is missing (the completion test sources its library)"
fi
end

begin servers
eval "export $(bash scripts/dockerd.sh start "$docker_dir" | tail -n 1)"
eval "export $(bash scripts/seaweedfs.sh start "$s3_dir" | tail -n 1)"
# PostgreSQL and MariaDB listen on 127.0.0.1 only: the SQL store suites run
# on the host (host-tests). The outage tests start servers of their own
# inside the namespace with the same scripts.
export "$(bash scripts/postgres.sh start "$pg_dir" | tail -n 1)"
export "$(bash scripts/mariadb.sh start "$mariadb_dir" | tail -n 1)"
end

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

begin vet
echo "   go vet: $(go list ./... | wc -l) packages; a cold cache compiles Trivy and its dependencies first"
go vet ./...
end

begin host-tests
# shellcheck disable=SC2086
go test -count=1 -timeout 30m $host_pkgs
end

# The concurrent packages under the race detector, then every fuzz target
# for a bounded time (docs in each script).
begin race
bash scripts/race.sh
end

begin fuzz
bash scripts/fuzz.sh
end

begin netns
# shellcheck disable=SC2086
bash scripts/netns-tests.sh "$ns_dir/main" $netns_pkgs
end

begin conformance
bash scripts/netns-tests.sh "$ns_dir/conformance" --verbose-log build/conformance.log ./test/conformance
end

begin fleet
bash scripts/netns-tests.sh "$ns_dir/fleet" --verbose-log build/fleet.log ./test/fleet
end
