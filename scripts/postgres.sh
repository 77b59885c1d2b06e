#!/usr/bin/env bash
# postgres.sh — run a private PostgreSQL 15 for the metadata SQL tests.
#
# Usage:
#   scripts/postgres.sh install     # only install it (needs Debian's packages)
#   scripts/postgres.sh start DIR   # last stdout line: IMAGEGATE_TEST_POSTGRES_DSN=postgres://...
#   scripts/postgres.sh stop DIR
#
# Contract:
#   install  Installs Debian's postgresql-15 (binaries in
#            /usr/lib/postgresql/15/bin) when they are missing, as root
#            (scripts/lib/apt.sh; elsewhere it exits naming the package),
#            without starting or enabling the system service: a policy-rc.d
#            forbids it while apt runs (the package's own "main" cluster is
#            created but never started). Prints nothing on stdout.
#   start    Installs if needed, then runs a server of its own: data in
#            DIR/postgres (initdb on first start, kept after), owned by and
#            run as a non-root user (as root: the system user imagegate-db,
#            created if needed — see scripts/lib/dbserver.sh), log in
#            DIR/postgres.log, pid in DIR/postgres.pid. It listens on
#            127.0.0.1 only, on no unix socket, on ${POSTGRES_PORT}, else the
#            port of an earlier start from the same DIR (DIR/postgres.port, so
#            a restarted server keeps its DSN), else a free port. fsync,
#            synchronous_commit and full_page_writes are off unless
#            IMAGEGATE_DB_FSYNC=on: fast, and a machine crash may lose data —
#            for tests only. Once it accepts connections (bounded poll), the
#            login role imagegate (password imagegate, CREATEDB: suites may
#            make a database each) and the database imagegate it owns are
#            created if missing, and
#            IMAGEGATE_TEST_POSTGRES_DSN=postgres://imagegate:imagegate@127.0.0.1:PORT/imagegate?sslmode=disable
#            is the last stdout line. A server started earlier from the same
#            DIR that still answers is reused. Exits non-zero (showing the
#            log's tail) when it does not come up.
#   stop     Sends SIGINT (PostgreSQL's "fast" shutdown: clients are cut
#            off, unlike SIGTERM's wait for them) to the pid in
#            DIR/postgres.pid, waits (bounded), then SIGKILLs. Succeeds when
#            nothing is running.
#
# The superuser is postgres, with a random password in DIR/postgres.pw
# (mode 0600); host logins need a password (scram-sha-256).
set -euo pipefail

readonly bindir=/usr/lib/postgresql/15/bin
readonly start_timeout_s=60
readonly stop_timeout_s=30
readonly app_user=imagegate app_password=imagegate app_db=imagegate

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
readonly pidfile="${dir}/postgres.pid"
readonly portfile="${dir}/postgres.port"
readonly pwfile="${dir}/postgres.pw"
readonly logfile="${dir}/postgres.log"
readonly datadir="${dir}/postgres"

log() { echo "postgres.sh: $*" >&2; }

# shellcheck source=lib/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/process.sh"
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source=lib/dbserver.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dbserver.sh"

ensure_installed() {
	[[ -x "${bindir}/postgres" && -x "${bindir}/initdb" && -x "${bindir}/psql" ]] && return
	apt_install_no_start postgresql-15 "PostgreSQL 15 is missing (${bindir}/postgres)" postgresql
	[[ -x "${bindir}/postgres" ]] || { log "${bindir}/postgres still missing after installing postgresql-15"; exit 1; }
}

# answers PORT: the server accepts connections on 127.0.0.1:PORT.
answers() { "${bindir}/pg_isready" -q -h 127.0.0.1 -p "$1" -t 2 >/dev/null 2>&1; }

# superuser_sql PORT SQL: runs SQL as the superuser over TCP.
superuser_sql() {
	PGPASSWORD="$(cat "${pwfile}")" "${bindir}/psql" -X -q -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2" >&2
}

dsn() { echo "IMAGEGATE_TEST_POSTGRES_DSN=postgres://${app_user}:${app_password}@127.0.0.1:$1/${app_db}?sslmode=disable"; }

init_cluster() {
	[[ -f "${datadir}/PG_VERSION" ]] && return
	log "initdb in ${datadir}"
	rm -rf "${datadir}"
	own_dir "${datadir}"
	head -c 24 /dev/urandom | base64 | tr -d '/+=' >"${pwfile}"
	chmod 0600 "${pwfile}"
	local pw_copy="${dir}/.initdb-pw"
	install -m 0600 "${pwfile}" "${pw_copy}"
	[[ "$(id -u)" -ne 0 ]] || chown "${db_user}:" "${pw_copy}"
	if ! "${as_db_user[@]}" "${bindir}/initdb" -D "${datadir}" -U postgres --pwfile="${pw_copy}" \
		--auth-host=scram-sha-256 --auth-local=reject -E UTF8 --locale=C.UTF-8 >>"${logfile}" 2>&1; then
		rm -f "${pw_copy}"
		log "initdb failed; last log lines:"
		tail -n 30 "${logfile}" >&2
		exit 1
	fi
	rm -f "${pw_copy}"
}

start() {
	if running >/dev/null && [[ -f "${portfile}" ]] && answers "$(cat "${portfile}")"; then
		log "reusing PostgreSQL (pid $(running)) on port $(cat "${portfile}")"
		dsn "$(cat "${portfile}")"
		return
	fi
	if running >/dev/null; then
		log "pid $(running) does not answer; stopping it first"
		stop
	fi
	ensure_installed
	ensure_db_user
	local port="${POSTGRES_PORT:-}"
	[[ -n "${port}" || ! -f "${portfile}" ]] || port="$(cat "${portfile}")"
	[[ -n "${port}" ]] || port="$(free_port)"
	if port_in_use "${port}"; then
		log "port ${port} is in use; set POSTGRES_PORT"
		exit 1
	fi
	init_cluster
	echo "${port}" >"${portfile}"
	local fsync
	fsync="$(db_fsync)"
	log "starting PostgreSQL on 127.0.0.1:${port}, fsync ${fsync} (log: ${logfile})"
	# setsid: the server must outlive this script and not get the caller's signals.
	setsid "${as_db_user[@]}" "${bindir}/postgres" -D "${datadir}" -p "${port}" \
		-c listen_addresses=127.0.0.1 -c unix_socket_directories= \
		-c fsync="${fsync}" -c synchronous_commit="${fsync}" -c full_page_writes="${fsync}" \
		-c max_connections=200 -c shared_buffers=128MB \
		</dev/null >>"${logfile}" 2>&1 &
	local launched=$!
	echo "${launched}" >"${pidfile}"

	wait_started PostgreSQL "${launched}" "${start_timeout_s}" answers "${port}"
	superuser_sql "${port}" "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${app_user}') THEN
			CREATE ROLE ${app_user} LOGIN CREATEDB PASSWORD '${app_password}';
		END IF; END \$\$;"
	if [[ -z "$(PGPASSWORD="$(cat "${pwfile}")" "${bindir}/psql" -X -tA -h 127.0.0.1 -p "${port}" -U postgres -d postgres \
		-c "SELECT 1 FROM pg_database WHERE datname = '${app_db}'")" ]]; then
		superuser_sql "${port}" "CREATE DATABASE ${app_db} OWNER ${app_user}"
	fi
	log "PostgreSQL ready (pid ${launched})"
	dsn "${port}"
}

stop() { stop_pidfile "PostgreSQL" "${stop_timeout_s}" INT; }

case "${action}" in
install) ensure_installed ;;
start) start ;;
stop) stop ;;
*) usage ;;
esac
