#!/usr/bin/env bash
# dockerd.sh — run a private Docker engine for the end-to-end tests.
#
# Usage:
#   scripts/dockerd.sh start DIR   # prints DOCKER_HOST=unix://DIR/docker.sock
#   scripts/dockerd.sh stop DIR
#
# Contract:
#   start  Installs Debian's docker.io when `dockerd` is missing (one
#          `apt-get update`, then `apt-get install -y --no-install-recommends
#          docker.io`; needs root). Starts dockerd with every piece of state
#          under DIR (data root, exec root, pidfile, unix socket, log file),
#          with no bridge, no iptables and the vfs storage driver, so it runs
#          on machines without a Docker install and needs no kernel features
#          beyond a plain root shell. Waits (bounded poll on `docker info`)
#          until the engine answers, then prints `DOCKER_HOST=unix://...` on
#          stdout as the only stdout line. If an engine started earlier from
#          the same DIR still answers, it is reused. Exits non-zero (showing
#          the tail of DIR/dockerd.log) if the engine does not come up.
#   stop   Sends SIGTERM to the engine recorded in DIR/dockerd.pid, waits
#          (bounded) for it to exit, then SIGKILLs it if needed. Succeeds when
#          nothing is running.
#
# Keep DIR short: a unix socket path must fit in 108 bytes.
set -euo pipefail

readonly start_timeout_s=90
readonly stop_timeout_s=30

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
action="$1"
mkdir -p "$2"
dir="$(cd "$2" && pwd)"
readonly sock="${dir}/docker.sock"
readonly pidfile="${dir}/dockerd.pid"
readonly logfile="${dir}/dockerd.log"
readonly docker_host="unix://${sock}"

log() { echo "dockerd.sh: $*" >&2; }

# shellcheck source=lib/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/process.sh"

answers() {
	docker --host "${docker_host}" info >/dev/null 2>&1
}

ensure_installed() {
	if command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; then
		return
	fi
	if [[ "$(id -u)" -ne 0 ]]; then
		log "dockerd is missing and installing docker.io needs root"
		exit 1
	fi
	log "installing docker.io from Debian"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends docker.io >&2
	command -v dockerd >/dev/null 2>&1 || { log "dockerd still missing after install"; exit 1; }
}

start() {
	ensure_installed
	if running >/dev/null && answers; then
		log "reusing engine (pid $(running)) at ${docker_host}"
		echo "DOCKER_HOST=${docker_host}"
		return
	fi
	if pid="$(running)"; then
		log "engine pid ${pid} does not answer; stopping it first"
		stop
	fi
	if (( ${#sock} > 100 )); then
		log "socket path too long for a unix socket (${#sock} bytes): ${sock}"
		exit 1
	fi
	# Leftovers of an engine that was killed hard would make dockerd refuse to start.
	rm -f "${pidfile}" "${sock}"
	mkdir -p "${dir}/root" "${dir}/exec"

	log "starting dockerd (log: ${logfile})"
	# setsid: the engine must outlive this script and not get the caller's signals.
	setsid dockerd \
		--data-root "${dir}/root" \
		--exec-root "${dir}/exec" \
		--pidfile "${pidfile}" \
		--host "${docker_host}" \
		--iptables=false --ip6tables=false --bridge=none \
		--storage-driver=vfs \
		</dev/null >>"${logfile}" 2>&1 &
	local launched=$!

	local deadline=$((SECONDS + start_timeout_s))
	until answers; do
		if ! kill -0 "${launched}" 2>/dev/null; then
			log "dockerd exited during startup; last log lines:"
			tail -n 30 "${logfile}" >&2
			exit 1
		fi
		if (( SECONDS >= deadline )); then
			log "dockerd did not answer within ${start_timeout_s}s; last log lines:"
			tail -n 30 "${logfile}" >&2
			exit 1
		fi
		sleep 0.5
	done
	log "engine ready: $(docker --host "${docker_host}" version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)"
	echo "DOCKER_HOST=${docker_host}"
}

stop() {
	stop_pidfile "dockerd" "${stop_timeout_s}"
	# dockerd leaves its data root (and what it mounted below) mounted.
	grep -o " ${dir}/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do
		umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || true
	done
}

case "${action}" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
