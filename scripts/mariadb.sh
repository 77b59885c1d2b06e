#!/usr/bin/env bash
# mariadb.sh — run a private MariaDB 10.11 for the metadata SQL tests (the
# mysql driver: MySQL 8 / MariaDB).
#
# Usage:
#   scripts/mariadb.sh install     # only install it (needs Debian's packages)
#   scripts/mariadb.sh start DIR   # last stdout line: IMAGEGATE_TEST_MYSQL_DSN=imagegate:imagegate@tcp(127.0.0.1:PORT)/imagegate
#   scripts/mariadb.sh stop DIR
#
# Contract:
#   install  Installs Debian's mariadb-server (mariadbd, mariadb-install-db,
#            the mariadb client) when it is missing, as root
#            (scripts/lib/apt.sh; elsewhere it exits naming the package),
#            without starting or enabling the system service: a policy-rc.d
#            forbids it while apt runs (the package initialises
#            /var/lib/mysql, which is never started). Prints nothing on stdout.
#   start    Installs if needed, then runs a server of its own: data in
#            DIR/mariadb (mariadb-install-db on first start, kept after),
#            owned by and run as a non-root user (as root: the system user
#            imagegate-db, created if needed — see scripts/lib/dbserver.sh),
#            with no option file read (--no-defaults), temporary files in
#            DIR/mariadb-tmp, log in DIR/mariadb.log, pid in DIR/mariadb.pid. TCP on 127.0.0.1 only, on
#            ${MARIADB_PORT}, else the port of an earlier start from the same
#            DIR (DIR/mariadb.port, so a restarted server keeps its DSN), else
#            a free port; its unix socket is DIR/mariadb/mariadb.sock, or
#            /tmp/imagegate-mariadb-PORT.sock when that path is too long for
#            a socket. utf8mb4 by default. InnoDB flushes its log once a
#            second instead of at each commit, and without the doublewrite
#            buffer, unless IMAGEGATE_DB_FSYNC=on: fast, and a machine crash
#            may lose the last second — for tests only. Once it answers
#            (bounded poll), the user imagegate (password imagegate, from
#            127.0.0.1, all privileges but GRANT on this private server:
#            suites make a database each) and the database imagegate are
#            created if missing, and
#            IMAGEGATE_TEST_MYSQL_DSN=imagegate:imagegate@tcp(127.0.0.1:PORT)/imagegate
#            (go-sql-driver/mysql's form) is the last stdout line. A server
#            started earlier from the same DIR that still answers is reused.
#            Exits non-zero (showing the log's tail) when it does not come up.
#   stop     Sends SIGTERM (a clean shutdown that cuts clients off) to the
#            pid in DIR/mariadb.pid, waits (bounded), then SIGKILLs.
#            Succeeds when nothing is running.
#
# Administration goes through the unix socket as the OS user that ran
# mariadb-install-db or root (unix_socket authentication): no password.
set -euo pipefail

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
readonly pidfile="${dir}/mariadb.pid"
readonly portfile="${dir}/mariadb.port"
readonly logfile="${dir}/mariadb.log"
readonly datadir="${dir}/mariadb"
# The server's temporary files: TMPDIR may be a directory the server user
# cannot write (scripts/test.sh points it at its own 0700 directory).
readonly tmpdir="${dir}/mariadb-tmp"

log() { echo "mariadb.sh: $*" >&2; }

# shellcheck source=lib/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/process.sh"
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source=lib/dbserver.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dbserver.sh"

ensure_installed() {
	command -v mariadbd >/dev/null 2>&1 || PATH="${PATH}:/usr/sbin"
	if command -v mariadbd >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1 &&
		command -v mariadb >/dev/null 2>&1; then
		return
	fi
	apt_install_no_start mariadb-server "MariaDB is missing (mariadbd)" mariadb
	command -v mariadbd >/dev/null 2>&1 || { log "mariadbd still missing after installing mariadb-server"; exit 1; }
}

# socket_path PORT prints where the server's unix socket goes: under DIR
# (in the data dir, which only the server user can write) when the path
# fits a socket address (108 bytes), else in /tmp.
socket_path() {
	local s="${datadir}/mariadb.sock"
	((${#s} <= 100)) || s="/tmp/imagegate-mariadb-$1.sock"
	echo "${s}"
}

# admin_sql PORT SQL: runs SQL as the administrator over the unix socket.
admin_sql() {
	local admin=root
	[[ "$(id -u)" -eq 0 ]] || admin="$(id -un)"
	mariadb --no-defaults --protocol=socket -S "$(socket_path "$1")" -u "${admin}" -e "$2" >&2
}

# answers PORT: the server answers on its socket and accepts TCP
# connections on 127.0.0.1:PORT.
answers() {
	local admin=root
	[[ "$(id -u)" -eq 0 ]] || admin="$(id -un)"
	mariadb-admin --no-defaults --protocol=socket -S "$(socket_path "$1")" -u "${admin}" \
		--connect-timeout=2 ping >/dev/null 2>&1 && port_in_use "$1"
}

dsn() { echo "IMAGEGATE_TEST_MYSQL_DSN=${app_user}:${app_password}@tcp(127.0.0.1:$1)/${app_db}"; }

init_datadir() {
	[[ -d "${datadir}/mysql" ]] && return
	log "mariadb-install-db in ${datadir}"
	rm -rf "${datadir}"
	own_dir "${datadir}"
	local user
	user="$(id -un)"
	[[ "$(id -u)" -ne 0 ]] || user="${db_user}"
	if ! TMPDIR="${tmpdir}" "${as_db_user[@]}" mariadb-install-db --no-defaults --datadir="${datadir}" --user="${user}" \
		--auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
		>>"${logfile}" 2>&1; then
		log "mariadb-install-db failed; last log lines:"
		tail -n 30 "${logfile}" >&2
		exit 1
	fi
}

start() {
	if running >/dev/null && [[ -f "${portfile}" ]] && answers "$(cat "${portfile}")"; then
		log "reusing MariaDB (pid $(running)) on port $(cat "${portfile}")"
		dsn "$(cat "${portfile}")"
		return
	fi
	if running >/dev/null; then
		log "pid $(running) does not answer; stopping it first"
		stop
	fi
	ensure_installed
	ensure_db_user
	local port="${MARIADB_PORT:-}"
	[[ -n "${port}" || ! -f "${portfile}" ]] || port="$(cat "${portfile}")"
	[[ -n "${port}" ]] || port="$(free_port)"
	if port_in_use "${port}"; then
		log "port ${port} is in use; set MARIADB_PORT"
		exit 1
	fi
	own_dir "${tmpdir}"
	init_datadir
	echo "${port}" >"${portfile}"
	local flush=0 doublewrite=0
	if [[ "$(db_fsync)" == on ]]; then
		flush=1 doublewrite=1
	fi
	log "starting MariaDB on 127.0.0.1:${port}, fsync $(db_fsync) (log: ${logfile})"
	# setsid: the server must outlive this script and not get the caller's signals.
	TMPDIR="${tmpdir}" setsid "${as_db_user[@]}" mariadbd --no-defaults --datadir="${datadir}" \
		--tmpdir="${tmpdir}" \
		--socket="$(socket_path "${port}")" --port="${port}" --bind-address=127.0.0.1 \
		--pid-file="${datadir}/mariadbd.pid" --skip-name-resolve --skip-log-bin \
		--character-set-server=utf8mb4 --max-connections=400 \
		--innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit="${flush}" \
		--innodb-doublewrite="${doublewrite}" \
		</dev/null >>"${logfile}" 2>&1 &
	local launched=$!
	echo "${launched}" >"${pidfile}"

	wait_started MariaDB "${launched}" "${start_timeout_s}" answers "${port}"
	admin_sql "${port}" "CREATE DATABASE IF NOT EXISTS ${app_db};
		CREATE USER IF NOT EXISTS '${app_user}'@'127.0.0.1' IDENTIFIED BY '${app_password}';
		GRANT ALL PRIVILEGES ON *.* TO '${app_user}'@'127.0.0.1';"
	log "MariaDB ready (pid ${launched})"
	dsn "${port}"
}

stop() { stop_pidfile "MariaDB" "${stop_timeout_s}"; }

case "${action}" in
install) ensure_installed ;;
start) start ;;
stop) stop ;;
*) usage ;;
esac
