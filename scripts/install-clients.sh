#!/usr/bin/env bash
# install-clients.sh — install the registry clients the end-to-end tests drive.
#
# Contract:
#   - skopeo: when `skopeo` is not on PATH, installs Debian's package
#     (`apt-get install -y --no-install-recommends skopeo`, after one
#     `apt-get update` if the first attempt cannot find it; needs root).
#   - crane, oras, helm: each built from the Go module proxy at the pinned
#     version below into
#       ${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}/<tool>-<version>/<tool>
#     only when that file is missing, with the repository's go.mod untouched.
#     Cold builds on 2 quiet cores: crane about a minute, oras about two,
#     helm (it links Kubernetes' client libraries) the longest.
#   - Idempotent: a second run installs and builds nothing.
#   - Prints exactly four lines on stdout, for `export`:
#       CRANE_BIN=/abs/path/crane
#       SKOPEO_BIN=/abs/path/skopeo
#       ORAS_BIN=/abs/path/oras
#       HELM_BIN=/abs/path/helm
#     Progress goes to stderr. Exits non-zero on any failure, leaving no
#     partial binary behind.
set -euo pipefail

readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"

# Pinned versions; each module path names the tool's main package.
readonly crane_module="github.com/google/go-containerregistry/cmd/crane" crane_version="v0.22.1"
readonly oras_module="oras.land/oras/cmd/oras" oras_version="v1.3.6"
readonly helm_module="helm.sh/helm/v4/cmd/helm" helm_version="v4.3.2"

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

# tool_bin NAME VERSION: where the cached binary of NAME at VERSION lives.
tool_bin() { echo "${cache_dir}/$1-$2/$1"; }

# build_tool NAME MODULE VERSION: go install MODULE@VERSION into the cache,
# unless its binary is already there.
build_tool() {
	local name="$1" module="$2" version="$3"
	local dir="${cache_dir}/${name}-${version}" bin
	bin="$(tool_bin "${name}" "${version}")"
	if [[ -x "${bin}" ]]; then
		return
	fi
	mkdir -p "${dir}"
	# go install writes GOBIN/NAME; build into a private directory and
	# rename, so an interrupted or concurrent run never leaves a partial binary.
	local tmp
	tmp="$(mktemp -d "${dir}/.build.XXXXXX")"
	trap 'rm -rf "${tmp}"' EXIT
	log "building ${name} ${version}"
	local start=${SECONDS}
	(
		# Outside the repository, so its go.mod and GOFLAGS play no part.
		cd "${tmp}"
		export GOFLAGS=-mod=mod GOBIN="${tmp}" CGO_ENABLED=0
		go install "${module}@${version}" >&2
	)
	mv -f "${tmp}/${name}" "${bin}"
	rm -rf "${tmp}"
	trap - EXIT
	log "built ${name} ${version} in $((SECONDS - start)) s"
}

install_skopeo
build_tool crane "${crane_module}" "${crane_version}"
build_tool oras "${oras_module}" "${oras_version}"
build_tool helm "${helm_module}" "${helm_version}"
echo "CRANE_BIN=$(tool_bin crane "${crane_version}")"
echo "SKOPEO_BIN=$(command -v skopeo)"
echo "ORAS_BIN=$(tool_bin oras "${oras_version}")"
echo "HELM_BIN=$(tool_bin helm "${helm_version}")"
