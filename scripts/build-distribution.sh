#!/usr/bin/env bash
# build-distribution.sh — build distribution v3.1.2's own registry binary (cmd/registry, with
# its s3-aws driver on aws-sdk-go v1), for comparisons such as test/s3bench.
#
# Contract:
#   - Builds github.com/distribution/distribution/v3/cmd/registry@v3.1.2 into
#       ${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}/distribution-registry-v3.1.2
#     (the path scripts/conformance-baseline.sh uses) only when that file is missing.
#   - Uses a throw-away scratch module: neither distribution's s3-aws driver nor
#     github.com/aws/aws-sdk-go (v1) ever enters the repository's go.mod.
#   - Checks that the binary links aws-sdk-go v1 (the s3-aws driver), so a build
#     without it is refused rather than benchmarked.
#   - Prints the absolute path of the binary on stdout (and nothing else); progress
#     goes to stderr. Exits non-zero on failure, leaving no partial binary behind.
set -euo pipefail

readonly module="github.com/distribution/distribution/v3"
readonly version="v3.1.2"
readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"
readonly bin="${cache_dir}/distribution-registry-${version}"

check() {
	go version -m "$1" | grep -q $'\tdep\tgithub.com/aws/aws-sdk-go\t' || {
		echo "build-distribution.sh: $1 does not link github.com/aws/aws-sdk-go (no s3-aws driver)" >&2
		return 1
	}
}

# shellcheck source=lib/gobuild.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/gobuild.sh"
build_cached "${bin}" "${module}/cmd/registry@${version}" "${module}/cmd/registry" check
