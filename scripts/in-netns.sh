#!/usr/bin/env bash
# in-netns.sh — run a command inside a private network namespace.
#
# Usage:
#   scripts/in-netns.sh CMD [ARG...]
#
# Contract: runs CMD with its arguments in a new network namespace
# (`unshare -n`, needs root) whose only interface is loopback, brought up
# first. Servers started there (DynamoDB Local listens on every interface)
# are reachable from inside only; nothing inside reaches the outside network,
# so whatever CMD needs from the network (Go modules, npm packages) must be
# fetched before. Installs Debian's iproute2 when `ip` is missing. Exits with
# CMD's exit status; the namespace disappears with its last process.
set -euo pipefail

log() { echo "in-netns.sh: $*" >&2; }

[[ $# -ge 1 ]] || {
	echo "usage: $0 CMD [ARG...]" >&2
	exit 2
}

if [[ "$(id -u)" -ne 0 ]]; then
	log "needs root (unshare -n)"
	exit 1
fi

if ! command -v ip >/dev/null 2>&1; then
	log "installing iproute2 from Debian"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends iproute2 >&2
fi

# Inside the namespace: bring loopback up, then become CMD ("$0" is the
# inner shell's name, "$@" CMD and its arguments).
exec unshare -n -- bash -c 'ip link set lo up && exec "$@"' in-netns "$@"
