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
