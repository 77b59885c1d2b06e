#!/usr/bin/env bash
# haproxy.sh — run HAProxy (Debian's package) as the load balancer in front
# of several imagegate replicas, for the fleet tests (test/fleet).
#
# Usage:
#   scripts/haproxy.sh install
#       # last stdout line: HAPROXY_BIN=/abs/path/haproxy
#   scripts/haproxy.sh start DIR LISTEN STATS BACKEND...
#       # last stdout line: IMAGEGATE_TEST_LB=LISTEN
#   scripts/haproxy.sh stop DIR
#
# Contract:
#   install  When it is not cached yet, fetches Debian's haproxy package and
#            the libraries it needs that the machine lacks (`apt-get
#            download`, one `apt-get update` if that fails; needs root) and
#            unpacks them with `dpkg -x` into
#            ${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}/haproxy.
#            Nothing is installed into the system: no maintainer script runs,
#            so no haproxy service is started or left running. HAPROXY_BIN is
#            a wrapper that runs the unpacked binary with its libraries. Fails
#            when a shared library is still missing. Idempotent: a second run
#            downloads nothing.
#   start    Installs if needed, writes DIR/haproxy.cfg (config below) and
#            runs HAProxy in the foreground mode (-db) in the background,
#            its pid in DIR/haproxy.pid and its output (one line per request,
#            `option httplog`) in DIR/haproxy.log. LISTEN and STATS are
#            host:port; BACKEND... are the replicas' host:port. Waits
#            (bounded poll of the statistics page, STATS/stats;csv) until
#            every backend is UP, then prints IMAGEGATE_TEST_LB=LISTEN as its
#            last stdout line. Exits non-zero (showing the log's tail) when it
#            does not come up. A HAProxy started earlier from the same DIR is
#            stopped first.
#   stop     Sends SIGTERM to the pid in DIR/haproxy.pid, waits (bounded),
#            then SIGKILLs. Succeeds when nothing is running.
#
# The configuration is what docs/scaling.md recommends: HTTP mode, round
# robin with no stickiness (every request is balanced on its own, so the
# PATCHes and the PUT of one blob upload may land on different replicas),
# health checks on GET /healthz (is this replica's process serving? —
# /readyz also checks the dependencies every replica shares, S3, DynamoDB
# and the scanner pool, so a slow or failed dependency would take every
# replica out at once and the load balancer would refuse even pulls; a
# dead or draining replica fails /healthz by refusing the connection), a
# connection refused by a dead replica retried on another (redispatch),
# request bodies streamed to the replica as they arrive (no
# http-buffer-request), and a 60 s server timeout — the load balancer
# timeout issue #13 names: a replica silent for 60 s gets its request cut.
set -euo pipefail

readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"
readonly install_dir="${cache_dir}/haproxy"
readonly wrapper="${install_dir}/bin/haproxy"
readonly start_timeout_s=30
readonly stop_timeout_s=10

usage() {
	echo "usage: $0 install | start DIR LISTEN STATS BACKEND... | stop DIR" >&2
	exit 2
}

log() { echo "haproxy.sh: $*" >&2; }

# installed: the wrapper exists and the unpacking finished.
installed() { [[ -f "${install_dir}/.complete" && -x "${wrapper}" ]]; }

# missing_libs prints the shared libraries the unpacked binary cannot find.
missing_libs() {
	"${install_dir}/bin/ldd-haproxy" | awk '/not found/ {print $1}'
}

# lib_depends DEB prints the lib* packages DEB depends on that are not installed.
lib_depends() {
	dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -E 's/^ *([^ (|]+).*/\1/' | grep '^lib' |
		while read -r pkg; do
			dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q 'install ok installed' || echo "${pkg}"
		done
}

ensure_installed() {
	if installed; then
		return
	fi
	[[ "$(id -u)" -eq 0 ]] || { log "haproxy is not cached and fetching it needs root (apt-get download)"; exit 1; }
	mkdir -p "${cache_dir}"
	local scratch debs
	scratch="$(mktemp -d "${cache_dir}/.haproxy.XXXXXX")"
	# shellcheck disable=SC2064 # expand now: scratch is local
	trap "rm -rf '${scratch}'" EXIT
	# apt-get download drops root for _apt, which cannot enter the cache
	# (under root's home): download into a directory of its own in /tmp.
	debs="$(mktemp -d)"
	trap "rm -rf '${scratch}' '${debs}'" EXIT
	chmod 755 "${debs}"
	id _apt >/dev/null 2>&1 && chown _apt "${debs}"
	download() {
		(cd "${debs}" && apt-get download "$@" >&2) || {
			log "apt-get download $* failed; updating the package lists once"
			apt-get update >&2
			(cd "${debs}" && apt-get download "$@" >&2)
		}
	}
	log "fetching Debian's haproxy into ${install_dir}"
	download haproxy
	# Libraries the machine lacks, and theirs (two levels cover haproxy's).
	local deps more
	deps="$(lib_depends "${debs}"/haproxy_*.deb)"
	if [[ -n "${deps}" ]]; then
		# shellcheck disable=SC2086 # one package per word
		download ${deps}
		more="$(for d in ${deps}; do lib_depends "${debs}/${d}"_*.deb; done | sort -u)"
		# shellcheck disable=SC2086
		[[ -z "${more}" ]] || download ${more}
	fi
	mkdir -p "${scratch}/root" "${scratch}/bin"
	for deb in "${debs}"/*.deb; do
		dpkg -x "${deb}" "${scratch}/root"
	done
	rm -rf "${install_dir}" "${debs}"
	mv "${scratch}" "${install_dir}"
	chmod 755 "${install_dir}"
	trap - EXIT
	local libpath
	libpath="$(find "${install_dir}/root" -name '*.so*' -printf '%h\n' | sort -u | paste -sd:)"
	for tool in haproxy ldd-haproxy; do
		local run="exec \"${install_dir}/root/usr/sbin/haproxy\" \"\$@\""
		[[ "${tool}" == ldd-haproxy ]] && run="exec ldd \"${install_dir}/root/usr/sbin/haproxy\""
		printf '#!/bin/sh\n# Generated by scripts/haproxy.sh: Debian'"'"'s haproxy with the libraries unpacked beside it.\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" %s\n' \
			"${libpath}" "${run}" >"${install_dir}/bin/${tool}"
		chmod 755 "${install_dir}/bin/${tool}"
	done
	local missing
	missing="$(missing_libs)"
	if [[ -n "${missing}" ]]; then
		log "haproxy still lacks shared libraries: ${missing}"
		rm -rf "${install_dir}"
		exit 1
	fi
	"${wrapper}" -v | head -n 1 >"${install_dir}/.complete"
	log "installed $(cat "${install_dir}/.complete")"
}

# config LISTEN STATS BACKEND... prints the HAProxy configuration.
config() {
	local listen=$1 stats=$2
	shift 2
	cat <<EOF
# Generated by scripts/haproxy.sh (see its header for why each setting).
global
    log stdout format raw local0
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    option forwardfor
    option redispatch
    retries 3
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 30s
    timeout http-keep-alive 10s
    timeout queue 30s

frontend registry
    bind ${listen}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 1
EOF
	local i=0
	for b in "$@"; do
		i=$((i + 1))
		echo "    server replica${i} ${b}"
	done
	cat <<EOF

listen stats
    bind ${stats}
    stats enable
    stats uri /stats
    stats refresh 0
EOF
}

# all_up STATS N: the statistics page lists N servers of "replicas", all UP.
all_up() {
	local csv
	csv="$(curl -s -m 2 "http://$1/stats;csv" 2>/dev/null)" || return 1
	local up
	up="$(awk -F, '$1 == "replicas" && $2 != "BACKEND" && $18 == "UP"' <<<"${csv}" | wc -l)"
	[[ "${up}" -eq "$2" ]]
}

start() {
	local listen=$1 stats=$2
	shift 2
	[[ $# -ge 1 ]] || usage
	ensure_installed
	stop
	config "${listen}" "${stats}" "$@" >"${dir}/haproxy.cfg"
	"${wrapper}" -c -q -f "${dir}/haproxy.cfg" >&2 || { log "invalid configuration ${dir}/haproxy.cfg"; exit 1; }
	log "starting haproxy on ${listen} for $* (log: ${logfile})"
	# setsid: it must outlive this script and not get the caller's signals.
	setsid "${wrapper}" -db -f "${dir}/haproxy.cfg" </dev/null >>"${logfile}" 2>&1 &
	local launched=$!
	echo "${launched}" >"${pidfile}"
	local deadline=$((SECONDS + start_timeout_s))
	until all_up "${stats}" "$#"; do
		if ! kill -0 "${launched}" 2>/dev/null; then
			log "haproxy exited during startup; last log lines:"
			tail -n 30 "${logfile}" >&2
			rm -f "${pidfile}"
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			log "not every backend UP within ${start_timeout_s}s; last log lines:"
			tail -n 30 "${logfile}" >&2
			stop
			exit 1
		fi
		sleep 0.2
	done
	log "haproxy ready (pid ${launched})"
	echo "IMAGEGATE_TEST_LB=${listen}"
}

stop() { stop_pidfile "haproxy" "${stop_timeout_s}"; }

action="${1:-}"
case "${action}" in
install)
	[[ $# -eq 1 ]] || usage
	ensure_installed
	echo "HAPROXY_BIN=${wrapper}"
	;;
start | stop)
	[[ $# -ge 2 ]] || usage
	mkdir -p "$2"
	dir="$(cd "$2" && pwd)"
	readonly pidfile="${dir}/haproxy.pid" logfile="${dir}/haproxy.log"
	# shellcheck source=lib/process.sh
	source "$(dirname "${BASH_SOURCE[0]}")/lib/process.sh"
	if [[ "${action}" == stop ]]; then
		[[ $# -eq 2 ]] || usage
		stop
	else
		shift 2
		[[ $# -ge 3 ]] || usage
		start "$@"
	fi
	;;
*) usage ;;
esac
