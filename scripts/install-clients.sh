#!/usr/bin/env bash
# install-clients.sh — install the registry clients the end-to-end tests drive.
#
# Contract:
#   - skopeo: when `skopeo` is not on PATH, installs Debian's package
#     (`apt-get install -y --no-install-recommends skopeo`, after one
#     `apt-get update` if the first attempt cannot find it; needs root).
#   - crane: builds github.com/google/go-containerregistry/cmd/crane at the
#     pinned version below into
#       ${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}/crane-<version>/crane
#     only when that file is missing, with the repository's go.mod untouched.
#   - Idempotent: a second run installs and builds nothing.
#   - Prints exactly two lines on stdout, for `export`:
#       CRANE_BIN=/abs/path/crane
#       SKOPEO_BIN=/abs/path/skopeo
#     Progress goes to stderr. Exits non-zero on any failure, leaving no
#     partial crane binary behind.
set -euo pipefail

readonly crane_module="github.com/google/go-containerregistry/cmd/crane"
readonly crane_version="v0.22.1"
readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"
readonly crane_dir="${cache_dir}/crane-${crane_version}"
readonly crane_bin="${crane_dir}/crane"

export GOEXPERIMENT="${GOEXPERIMENT:-jsonv2}"

log() { echo "install-clients.sh: $*" >&2; }

install_skopeo() {
	if command -v skopeo >/dev/null 2>&1; then
		return
	fi
	if [[ "$(id -u)" -ne 0 ]]; then
		log "skopeo is missing and installing it needs root"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	log "installing skopeo from Debian"
	if ! apt-get install -y --no-install-recommends skopeo >&2; then
		apt-get update >&2
		apt-get install -y --no-install-recommends skopeo >&2
	fi
	command -v skopeo >/dev/null 2>&1 || { log "skopeo still missing after install"; exit 1; }
}

build_crane() {
	if [[ -x "${crane_bin}" ]]; then
		return
	fi
	mkdir -p "${crane_dir}"
	# go install writes GOBIN/crane; build into a private directory and
	# rename, so an interrupted or concurrent run never leaves a partial binary.
	local tmp
	tmp="$(mktemp -d "${crane_dir}/.build.XXXXXX")"
	trap 'rm -rf "${tmp}"' EXIT
	log "building crane ${crane_version} (about a minute)"
	(
		# Outside the repository, so its go.mod and GOFLAGS play no part.
		cd "${tmp}"
		export GOFLAGS=-mod=mod GOBIN="${tmp}" CGO_ENABLED=0
		go install "${crane_module}@${crane_version}" >&2
	)
	mv -f "${tmp}/crane" "${crane_bin}"
	rm -rf "${tmp}"
	trap - EXIT
}

install_skopeo
build_crane
echo "CRANE_BIN=${crane_bin}"
echo "SKOPEO_BIN=$(command -v skopeo)"
