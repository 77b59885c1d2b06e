# shellcheck shell=bash
# dbserver.sh — shared by postgres.sh and mariadb.sh: the unprivileged user
# the database servers run as, and the path to their data under DIR.
# Sourced; the caller defines a `log` function first.

# The servers refuse to run as root (PostgreSQL) or should not (MariaDB).
# As root they run as this system user; as anyone else, as that user.
readonly db_user="${IMAGEGATE_DB_USER:-imagegate-db}"

# ensure_db_user: as root, creates the system user ${db_user} (no home, no
# login shell) when it is missing. Does nothing for a non-root caller.
ensure_db_user() {
	[[ "$(id -u)" -eq 0 ]] || return 0
	getent passwd "${db_user}" >/dev/null && return
	log "creating system user ${db_user} to run the test database servers"
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "${db_user}"
}

# as_db_user: the command prefix that runs a command as ${db_user} when
# root — `setsid "${as_db_user[@]}" CMD &` (setpriv execs CMD, so `$!` is
# the server's pid) — and empty (the caller itself) otherwise.
as_db_user=()
if [[ "$(id -u)" -eq 0 ]]; then
	as_db_user=(setpriv --reuid="${db_user}" --regid="${db_user}" --init-groups --)
fi

# own_dir DIR: creates DIR (mode 0700) owned by the server user, and, as
# root, gives "others" search permission (x, never r) on each ancestor of
# DIR that lacks it: mktemp -d and Go's t.TempDir() make 0700 directories,
# which the server user could not traverse to reach its data.
own_dir() {
	local d=$1
	mkdir -p "${d}"
	chmod 0700 "${d}"
	[[ "$(id -u)" -eq 0 ]] || return 0
	chown "${db_user}:" "${d}"
	local p
	p="$(dirname "${d}")"
	while [[ "${p}" != / ]]; do
		if [[ "$(stat -c %A "${p}")" != *[xt] ]]; then
			chmod o+x "${p}"
		fi
		p="$(dirname "${p}")"
	done
}

# db_fsync prints "on" when IMAGEGATE_DB_FSYNC=on asks for durable commits,
# "off" otherwise: test servers skip fsync by default (faster; a crash of
# the machine may lose their data, which tests do not need).
db_fsync() {
	[[ "${IMAGEGATE_DB_FSYNC:-off}" == on ]] && echo on || echo off
}
