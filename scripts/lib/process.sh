# shellcheck shell=bash
# Shared by the scripts that run a test server from a pidfile (dockerd.sh,
# dynamodb-local.sh, seaweedfs.sh, postgres.sh, mariadb.sh). The caller
# defines `pidfile`, `dir` and a `log` function before sourcing this file.

# running prints the pid recorded in the pidfile when that process is alive.
running() {
	local pid
	[[ -f "${pidfile}" ]] || return 1
	pid="$(cat "${pidfile}" 2>/dev/null || true)"
	[[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
	echo "${pid}"
}

# stop_pidfile NAME TIMEOUT_S [SIGNAL]: send SIGNAL (default TERM) to the
# recorded process, wait for it (bounded), SIGKILL it if it lingers, and
# remove the pidfile. Succeeds when nothing runs.
stop_pidfile() {
	local name="$1" timeout_s="$2" signal="${3:-TERM}" pid
	if ! pid="$(running)"; then
		log "no ${name} running for ${dir}"
		rm -f "${pidfile}"
		return
	fi
	log "stopping ${name} (pid ${pid}, SIG${signal})"
	kill -"${signal}" "${pid}" 2>/dev/null || true
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

# port_in_use PORT: something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port prints a port that nothing accepts connections on right now,
# from 20000 up to the start of the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768 by default): a port in that range
# may be taken by an outgoing connection between this check and the
# server's bind. Bounded: 100 tries.
free_port() {
	local p low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((low > 21000)) || low=32768
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % (low - 20000)))
		if ! port_in_use "${p}"; then
			echo "${p}"
			return
		fi
	done
	log "no free port found in 20000–$((low - 1))"
	exit 1
}

# wait_started NAME PID TIMEOUT_S CMD [ARG...]: polls CMD every 0.2 s until
# it succeeds (the server answers). When PID exits first, or TIMEOUT_S
# passes, shows the last 30 lines of ${logfile}, stops the server (the
# caller's `stop`) and exits 1.
wait_started() {
	local name=$1 launched=$2 timeout_s=$3
	shift 3
	local deadline=$((SECONDS + timeout_s))
	until "$@"; do
		if ! kill -0 "${launched}" 2>/dev/null; then
			log "${name} exited during startup; last log lines:"
			tail -n 30 "${logfile}" >&2
			rm -f "${pidfile}"
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			log "${name} did not answer within ${timeout_s}s; last log lines:"
			tail -n 30 "${logfile}" >&2
			stop
			exit 1
		fi
		sleep 0.2
	done
}
