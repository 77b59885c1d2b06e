#!/usr/bin/env bash
# Runs the packages whose code runs concurrently under the race detector:
# the fleet state (Memory under its contract suite's concurrent updates),
# the gate (middleware, exercised through both doors by registry and
# test/upload, which run it with the recorder, notifier and token service
# as the server composes them), the recorder, notify, auth, the upload
# shim and the S3 driver. Called by scripts/test.sh once SeaweedFS (for
# storagedriver/s3) and the other services are up and their variables
# exported, like the rest of the suite; nothing may skip.
#
# -race needs cgo and a C compiler: the Makefile builds with CGO_ENABLED=0,
# so this sets CGO_ENABLED=1 and installs gcc when it is missing. Packages
# that import Trivy stay out: compiling Trivy with -race alone would cost
# most of the run. RACE_PKGS overrides the list.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOEXPERIMENT=jsonv2 CGO_ENABLED=1

pkgs=${RACE_PKGS:-"./fleet ./fleet/sqlstore ./metadata/sqlstore ./analysis/... ./quota/... ./pulls/... ./gc/... ./retention/... ./push/... ./middleware/... ./ingest/... ./metadata/recorder/... ./notify/... ./auth/... ./shim/... ./storagedriver/... ./registry/... ./test/upload/..."}

# A C compiler that can build and link a program (gcc and the C library's
# headers), else install them.
cc_works() { echo 'int main(void) { return 0; }' | gcc -x c -o /dev/null - >/dev/null 2>&1; }
if ! command -v gcc >/dev/null 2>&1 || ! cc_works; then
	apt-get update >&2
	apt-get install -y --no-install-recommends gcc libc6-dev >&2
	cc_works || { echo "race: gcc still cannot build a program after install" >&2; exit 1; }
fi

# Trivy must not come in through a listed package or its tests.
# shellcheck disable=SC2086
if go list -deps -test $pkgs | grep -q '^github.com/aquasecurity/trivy'; then
	echo "race: a listed package imports Trivy; keep it out of the race run" >&2
	exit 1
fi

start=$(date +%s)
# -short: the race run is about concurrency, not sizes. The storage driver
# suite keeps its concurrent readers and writers but drops the 5 GB
# stream and the second full pass (the plain run above does both): under
# the race detector's shadow memory those alone take over 16 GB and most
# of an hour. No other listed package reads -short.
# shellcheck disable=SC2086
go test -race -short -count=1 -timeout 30m $pkgs
echo "race: $(( $(date +%s) - start ))s"
