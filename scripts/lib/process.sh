# shellcheck shell=bash
# Shared by the scripts that run a test server from a pidfile (dockerd.sh,
# dynamodb-local.sh, seaweedfs.sh). The caller defines `pidfile`, `dir` and
# a `log` function before sourcing this file.

# running prints the pid recorded in the pidfile when that process is alive.
running() {
	local pid
	[[ -f "${pidfile}" ]] || return 1
	pid="$(cat "${pidfile}" 2>/dev/null || true)"
	[[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
	echo "${pid}"
}

# stop_pidfile NAME TIMEOUT_S: SIGTERM the recorded process, wait for it
# (bounded), SIGKILL it if it lingers, and remove the pidfile. Succeeds
# when nothing runs.
stop_pidfile() {
	local name="$1" timeout_s="$2" pid
	if ! pid="$(running)"; then
		log "no ${name} running for ${dir}"
		rm -f "${pidfile}"
		return
	fi
	log "stopping ${name} (pid ${pid})"
	kill -TERM "${pid}" 2>/dev/null || true
	local deadline=$((SECONDS + timeout_s))
	while kill -0 "${pid}" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "${name} (pid ${pid}) did not exit within ${timeout_s}s; killing it"
			kill -KILL "${pid}" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	rm -f "${pidfile}"
}

# http_answers URL: any HTTP status means the server is up.
http_answers() {
	local code
	code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true)"
	[[ -n "${code}" && "${code}" != "000" ]]
}
