#!/usr/bin/env bash
# prometheus.sh — promtool (Debian's `prometheus` package) for the tests of
# the shipped alert rules and dashboard (deploy/prometheus, deploy/grafana).
#
# Usage:
#   scripts/prometheus.sh install
#       # last stdout line: PROMTOOL_BIN=/abs/path/promtool
#
# Contract:
#   install  When it is not cached yet, fetches Debian's prometheus package
#            (`apt-get download`, one `apt-get update` if that fails; needs
#            root) and unpacks it with `dpkg-deb -x` into
#            ${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}/prometheus.
#            Nothing is installed into the system: no maintainer script runs,
#            so no prometheus service is started, no user created. promtool
#            is a Go binary needing only libc, so none of the package's
#            dependencies (web assets for the server's UI) are fetched.
#            Prints PROMTOOL_BIN=<path of the unpacked promtool> as its last
#            stdout line. Idempotent: a second run downloads nothing.
set -euo pipefail

readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"
readonly install_dir="${cache_dir}/prometheus"
readonly promtool="${install_dir}/root/usr/bin/promtool"

usage() {
	echo "usage: $0 install" >&2
	exit 2
}

log() { echo "prometheus.sh: $*" >&2; }

# installed: promtool is unpacked and the unpacking finished.
installed() { [[ -f "${install_dir}/.complete" && -x "${promtool}" ]]; }

ensure_installed() {
	if installed; then
		return
	fi
	[[ "$(id -u)" -eq 0 ]] || { log "promtool is not cached and fetching it needs root (apt-get download)"; exit 1; }
	mkdir -p "${cache_dir}"
	local scratch debs
	scratch="$(mktemp -d "${cache_dir}/.prometheus.XXXXXX")"
	# apt-get download drops root for _apt, which cannot enter the cache
	# (under root's home): download into a directory of its own in /tmp.
	debs="$(mktemp -d)"
	# shellcheck disable=SC2064 # expand now: both are local
	trap "rm -rf '${scratch}' '${debs}'" EXIT
	chmod 755 "${debs}"
	id _apt >/dev/null 2>&1 && chown _apt "${debs}"
	log "fetching Debian's prometheus package into ${install_dir}"
	(cd "${debs}" && apt-get download prometheus >&2) || {
		log "apt-get download prometheus failed; updating the package lists once"
		apt-get update >&2
		(cd "${debs}" && apt-get download prometheus >&2)
	}
	mkdir -p "${scratch}/root"
	dpkg-deb -x "${debs}"/prometheus_*.deb "${scratch}/root"
	rm -rf "${install_dir}"
	mv "${scratch}" "${install_dir}"
	chmod 755 "${install_dir}"
	rm -rf "${debs}"
	trap - EXIT
	[[ -x "${promtool}" ]] || { log "the package holds no ${promtool#"${install_dir}/root"}"; rm -rf "${install_dir}"; exit 1; }
	"${promtool}" --version 2>&1 | head -n 1 >"${install_dir}/.complete"
	log "installed $(cat "${install_dir}/.complete")"
}

case "${1:-}" in
install)
	[[ $# -eq 1 ]] || usage
	ensure_installed
	echo "PROMTOOL_BIN=${promtool}"
	;;
*) usage ;;
esac
