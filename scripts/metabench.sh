#!/usr/bin/env bash
# metabench.sh — run the metadata store benchmark (test/metabench) with
# all four stores: bolt, DynamoDB Local, PostgreSQL and MariaDB.
#
# Usage:
#   scripts/metabench.sh DIR      # the Markdown table at the end of DIR/metabench.log
#
# Contract: builds the benchmark's test binary (outside, where the module
# proxy is reachable), then, inside a private network namespace
# (scripts/in-netns.sh: DynamoDB Local listens on every interface),
# starts DynamoDB Local (in memory), PostgreSQL and MariaDB with their
# state under DIR, runs TestMetadataBench with IMAGEGATE_METABENCH=1 and
# IMAGEGATE_TEST_REQUIRE_ALL=1 (a store that cannot run fails it), its
# output on stdout and in DIR/metabench.log, and stops the three servers
# whatever the result. IMAGEGATE_METABENCH_RECORDS (default 1,000,000),
# IMAGEGATE_METABENCH_WRITES and IMAGEGATE_METABENCH_FILLERS pass through
# (test/metabench/doc.go). Needs root; takes about half an hour on 2
# cores. Not part of `make test`. Exits with the test's status.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir="$(cd "$1" && pwd)"

if [[ "${IMAGEGATE_NETNS_INSIDE:-}" != 1 ]]; then
	export GOEXPERIMENT=jsonv2 CGO_ENABLED=0
	go test -c -o "${dir}/metabench.test" ./test/metabench
	bash scripts/dynamodb-local.sh install
	bash scripts/postgres.sh install
	bash scripts/mariadb.sh install
	IMAGEGATE_NETNS_INSIDE=1 exec bash scripts/in-netns.sh bash "$0" "${dir}"
fi

stop_servers() {
	bash scripts/dynamodb-local.sh stop "${dir}/ddb" || true
	bash scripts/postgres.sh stop "${dir}/postgres" || true
	bash scripts/mariadb.sh stop "${dir}/mariadb" || true
}
trap stop_servers EXIT
export "$(bash scripts/dynamodb-local.sh start "${dir}/ddb" | tail -n 1)"
export "$(bash scripts/postgres.sh start "${dir}/postgres" | tail -n 1)"
export "$(bash scripts/mariadb.sh start "${dir}/mariadb" | tail -n 1)"

IMAGEGATE_METABENCH=1 IMAGEGATE_TEST_REQUIRE_ALL=1 \
	"${dir}/metabench.test" -test.run '^TestMetadataBench$' -test.v -test.count=1 -test.timeout 3h 2>&1 |
	tee "${dir}/metabench.log"
