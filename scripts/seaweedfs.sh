#!/usr/bin/env bash
# seaweedfs.sh — run SeaweedFS `weed mini` as the S3 server of the storagedriver/s3 tests.
#
# Usage:
#   scripts/seaweedfs.sh install     # only build weed (needs the Go module proxy)
#   scripts/seaweedfs.sh start DIR   # last stdout line: IMAGEGATE_TEST_S3_ENDPOINT=http://127.0.0.1:PORT
#   scripts/seaweedfs.sh stop DIR
#
# Contract:
#   install  Builds weed at the pinned version into
#            ${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}/seaweedfs-<version>/weed
#            when it is not there yet. `go install` refuses the module (its go.mod
#            has a replace directive), so the module is downloaded and built in
#            place: 5–10 min and ~2.6 GB of memory cold on 2 cores, cached after.
#            Prints nothing on stdout.
#   start    Installs if needed, then starts `weed mini` on 127.0.0.1 only, with
#            data, config, log (DIR/seaweedfs.log) and pid (DIR/seaweedfs.pid) in
#            DIR. S3 listens on ${SEAWEEDFS_S3_PORT} or on a free port of
#            20000–29999 (its gRPC port, +10000, free too). The other services
#            get explicit ports BASE…BASE+3 (master, volume, filer, admin; gRPC
#            +10000) from ${SEAWEEDFS_PORT_BASE}, or the first free base of
#            19100, 19110, … 19190: nothing lands on 5000, 5001 or 8000, and
#            several servers (one per DIR) can run side by side. The S3 identity is AK/SK (static, SigV4) and
#            a local KMS provider serves SSE-KMS (keys created on demand). Waits
#            (bounded poll) until S3 answers, then prints
#            IMAGEGATE_TEST_S3_ENDPOINT=... as its last stdout line. A server
#            started earlier from the same DIR that still answers is reused.
#   stop     Sends SIGTERM to the pid in DIR/seaweedfs.pid, waits (bounded), then
#            SIGKILLs. Succeeds when nothing is running.
#
# Clients use region us-east-1, path-style addressing, access key AK, secret key SK.
set -euo pipefail

readonly version=v0.0.0-20261109003541-7506e5f91cd6
readonly module=github.com/seaweedfs/seaweedfs
readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"
readonly install_dir="${cache_dir}/seaweedfs-${version}"
readonly weed="${install_dir}/weed"
readonly start_timeout_s=90
readonly stop_timeout_s=20
readonly access_key=AK
readonly secret_key=SK

usage() {
	echo "usage: $0 install | start DIR | stop DIR" >&2
	exit 2
}

action="${1:-}"
if [[ "${action}" == install ]]; then
	[[ $# -eq 1 ]] || usage
	dir=""
else
	[[ $# -eq 2 ]] || usage
	mkdir -p "$2"
	dir="$(cd "$2" && pwd)"
fi
readonly pidfile="${dir}/seaweedfs.pid"
readonly portfile="${dir}/seaweedfs.port"
readonly logfile="${dir}/seaweedfs.log"

log() { echo "seaweedfs.sh: $*" >&2; }

# shellcheck source=lib/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/process.sh"

# answers PORT: any HTTP status from S3 means it is up (anonymous GET / gets 403).
answers() { http_answers "http://127.0.0.1:$1/"; }

# in_use PORT: something listens on 127.0.0.1:PORT (or on every interface).
in_use() {
	ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
	# weed also binds a unix socket /tmp/seaweedfs-<service>-<port>.sock per
	# port: an instance in another network namespace (scripts/in-netns.sh)
	# shares /tmp, so its sockets make the port unusable here too.
	compgen -G "/tmp/seaweedfs-*-$1.sock" >/dev/null && return 0
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_s3_port prints a port of 20000–29999 free together with its gRPC port.
free_s3_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 10000))
		if ! in_use "${p}" && ! in_use $((p + 10000)); then
			echo "${p}"
			return
		fi
	done
	log "no free port pair found in 20000–29999"
	exit 1
}

# base_free BASE: BASE…BASE+3 and their gRPC ports (+10000) are free.
base_free() {
	local p
	for p in "$1" $(($1 + 1)) $(($1 + 2)) $(($1 + 3)); do
		if in_use "${p}" || in_use $((p + 10000)); then
			return 1
		fi
	done
}

ensure_installed() {
	[[ -x "${weed}" ]] && return
	command -v go >/dev/null 2>&1 || { log "go is missing (needed once to build weed)"; exit 1; }
	log "building weed ${version} into ${install_dir} (5–10 min cold, ~2.6 GB memory)"
	local src
	src="$(cd / && go mod download -json "${module}@${version}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
	[[ -n "${src}" && -d "${src}" ]] || { log "go mod download ${module}@${version} failed"; exit 1; }
	mkdir -p "${install_dir}"
	# Build to a temporary name, then rename: an interrupted build is redone,
	# never used half-written.
	(cd "${src}" && go build -o "${weed}.tmp.$$" ./weed) || {
		rm -f "${weed}.tmp.$$"
		log "go build of weed failed"
		exit 1
	}
	mv -f "${weed}.tmp.$$" "${weed}"
	log "installed ${weed}"
}

write_s3_config() {
	cat >"${dir}/s3.json" <<EOF
{
  "identities": [
    {"name": "admin", "credentials": [{"accessKey": "${access_key}", "secretKey": "${secret_key}"}],
     "actions": ["Admin", "Read", "List", "Tagging", "Write"]}
  ],
  "kms": {"default_provider": "local",
          "providers": {"local": {"type": "local", "enableOnDemandCreate": true}}}
}
EOF
}

start() {
	if running >/dev/null && [[ -f "${portfile}" ]] && answers "$(cat "${portfile}")"; then
		log "reusing SeaweedFS (pid $(running)) on port $(cat "${portfile}")"
		echo "IMAGEGATE_TEST_S3_ENDPOINT=http://127.0.0.1:$(cat "${portfile}")"
		return
	fi
	if running >/dev/null; then
		log "pid $(running) does not answer; stopping it first"
		stop
	fi
	ensure_installed
	local s3_port="${SEAWEEDFS_S3_PORT:-}"
	if [[ -z "${s3_port}" ]]; then
		s3_port="$(free_s3_port)"
	elif in_use "${s3_port}"; then
		log "port ${s3_port} (SEAWEEDFS_S3_PORT) is in use"
		exit 1
	fi
	local port_base
	if [[ -n "${SEAWEEDFS_PORT_BASE:-}" ]]; then
		port_base="${SEAWEEDFS_PORT_BASE}"
		base_free "${port_base}" || { log "ports ${port_base}–$((port_base + 3)) (or +10000) are in use"; exit 1; }
	else
		port_base=""
		local b
		for b in $(seq 19100 10 19190); do
			if base_free "${b}"; then
				port_base="${b}"
				break
			fi
		done
		[[ -n "${port_base}" ]] || { log "no free port base in 19100–19190; set SEAWEEDFS_PORT_BASE"; exit 1; }
	fi
	mkdir -p "${dir}/data"
	write_s3_config
	echo "${s3_port}" >"${portfile}"
	log "starting weed mini, S3 on 127.0.0.1:${s3_port} (log: ${logfile})"
	# setsid: the server must outlive this script and not get the caller's signals.
	AWS_ACCESS_KEY_ID="${access_key}" AWS_SECRET_ACCESS_KEY="${secret_key}" \
		setsid "${weed}" mini -dir="${dir}/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
		-master.port="${port_base}" -volume.port=$((port_base + 1)) \
		-filer.port=$((port_base + 2)) -admin.port=$((port_base + 3)) -admin.port.legacy=0 \
		-s3.port="${s3_port}" -s3.config="${dir}/s3.json" \
		-webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 \
		-master.telemetry=false -master.volumePreallocate=false \
		</dev/null >>"${logfile}" 2>&1 &
	local launched=$!
	echo "${launched}" >"${pidfile}"

	wait_started "weed mini" "${launched}" "${start_timeout_s}" answers "${s3_port}"
	log "SeaweedFS ready (pid ${launched})"
	echo "IMAGEGATE_TEST_S3_ENDPOINT=http://127.0.0.1:${s3_port}"
}

stop() { stop_pidfile "SeaweedFS" "${stop_timeout_s}"; }

case "${action}" in
install) ensure_installed ;;
start) start ;;
stop) stop ;;
*) usage ;;
esac
