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

# shellcheck source=lib/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/gobuild.sh"
build_cached "${bin}" "${module}@${version}" "${module}"
