# apt.sh — install a missing command from Debian, as the other scripts do
# for skopeo, docker.io and haproxy. Sourced; defines need_command.

# need_command CMD PACKAGE WHY: returns when CMD is on PATH; otherwise
# installs PACKAGE (apt_install_package) and checks CMD again.
need_command() {
	local cmd=$1 pkg=$2 why=$3
	command -v "${cmd}" >/dev/null 2>&1 && return
	apt_install_package "${pkg}" "${cmd} is missing (${why})"
	command -v "${cmd}" >/dev/null 2>&1 || { echo "${0##*/}: ${cmd} still missing after installing ${pkg}" >&2; exit 1; }
}

# apt_install_package PACKAGE WHY: as root on a machine with apt-get,
# installs PACKAGE (--no-install-recommends; one `apt-get update` when the
# first attempt cannot find it). Anywhere else it exits 1 saying what to
# install and why.
apt_install_package() {
	local pkg=$1 why=$2
	if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		echo "${0##*/}: ${why}; install Debian's ${pkg} (as root: apt-get install ${pkg})" >&2
		exit 1
	fi
	echo "${0##*/}: ${why}; installing Debian's ${pkg}" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y --no-install-recommends "${pkg}" >&2; then
		apt-get update >&2
		apt-get install -y --no-install-recommends "${pkg}" >&2
	fi
}

# apt_install_no_start PACKAGE WHY: apt_install_package for a package that
# ships a system service (postgresql-15, mariadb-server) which must be
# neither started nor left enabled: a policy-rc.d that answers 101 ("action
# forbidden") is in place while apt runs — deb-systemd-invoke and
# invoke-rc.d both obey it — and the one that was there before, if any, is
# put back after. The package's service (SERVICE, the third argument) is
# then disabled, so that no boot starts it either: `systemctl disable`
# (which edits the links on disk when no systemd runs) or, without
# systemctl, removing the links the package made; and `update-rc.d
# disable` for SysV init.
apt_install_no_start() {
	local pkg=$1 why=$2 service=${3:-}
	local policy=/usr/sbin/policy-rc.d saved=""
	if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		apt_install_package "${pkg}" "${why}" # says what to install, exits 1
	fi
	if [[ -e "${policy}" ]]; then
		saved="$(mktemp "${policy}.imagegate.XXXXXX")"
		cp -p "${policy}" "${saved}"
	fi
	printf '#!/bin/sh\n# imagegate: no service starts while a test dependency installs\nexit 101\n' >"${policy}"
	chmod 0755 "${policy}"
	local rc=0
	(apt_install_package "${pkg}" "${why}") || rc=$?
	if [[ -n "${saved}" ]]; then
		mv -f "${saved}" "${policy}"
	else
		rm -f "${policy}"
	fi
	((rc == 0)) || exit "${rc}"
	[[ -n "${service}" ]] || return 0
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable "${service}.service" >&2 2>&1 || true
	else
		rm -f /etc/systemd/system/*.wants/"${service}.service"
	fi
	if [[ -e "/etc/init.d/${service}" ]] && command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d "${service}" disable >&2 2>&1 || true
	fi
}
