#!/usr/bin/env bash
# build-conformance.sh — build the OCI distribution-spec conformance suite binary.
#
# Contract:
#   - Builds github.com/opencontainers/distribution-spec/conformance at the pinned
#     version below into
#       ${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}/oci-conformance-<version>
#     only when that file is missing (idempotent; safe to run repeatedly).
#   - Uses a throw-away scratch module, so the repository's go.mod is never touched.
#   - Prints the absolute path of the binary on stdout (and nothing else);
#     progress goes to stderr.
#   - Exits non-zero on any failure, leaving no partial binary behind.
set -euo pipefail

readonly module="github.com/opencontainers/distribution-spec/conformance"
readonly version="v0.0.0-20260831232431-97274622c111"
readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"
readonly bin="${cache_dir}/oci-conformance-${version}"

export GOEXPERIMENT="${GOEXPERIMENT:-jsonv2}"

if [[ -x "${bin}" ]]; then
	echo "${bin}"
	exit 0
fi

mkdir -p "${cache_dir}"
scratch="$(mktemp -d)"
tmp_bin="${bin}.tmp.$$"
trap 'rm -rf "${scratch}" "${tmp_bin}"' EXIT

echo "building ${module}@${version} (about a minute)..." >&2
(
	cd "${scratch}"
	# The caller's GOFLAGS (e.g. -mod=vendor) mean nothing in the scratch module.
	export GOFLAGS=-mod=mod
	go mod init imagegate.local/conformance-build >/dev/null 2>&1
	go get "${module}@${version}" >&2
	# Build to a temporary name in the cache dir, then rename: a concurrent or
	# interrupted run never leaves a half-written binary at the final path.
	go build -o "${tmp_bin}" "${module}" >&2
)
mv -f "${tmp_bin}" "${bin}"
echo "${bin}"
