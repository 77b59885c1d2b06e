#!/usr/bin/env bash
# chromium.sh — Debian's Chromium, the real browser the web UI's tests
# (test/ui, chromedp) drive headless.
#
# Usage:
#   scripts/chromium.sh install
#       # last stdout line: IMAGEGATE_CHROMIUM=/abs/path/chromium
#
# Contract:
#   install  When `chromium` is not on PATH, installs Debian's chromium
#            package (apt-get install --no-install-recommends, one
#            `apt-get update` if that fails; needs root — elsewhere it exits
#            1 saying what to install). Measured cold on the development
#            machine: 83 s (124 MB downloaded, 414 MB installed, 25 packages). A
#            browser download from Google is not possible here, and not
#            needed: the tests run Debian's build with --headless. Prints
#            IMAGEGATE_CHROMIUM=<path> as its last stdout line; the tests
#            read that variable (and skip without it, or fail under
#            IMAGEGATE_TEST_REQUIRE_ALL=1). Idempotent.
set -euo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/apt.sh
source "${here}/lib/apt.sh"

usage() {
	echo "usage: $0 install" >&2
	exit 2
}

[[ $# -eq 1 ]] || usage
case "$1" in
install)
	need_command chromium chromium "the web UI's browser tests (test/ui) drive it headless"
	echo "IMAGEGATE_CHROMIUM=$(command -v chromium)"
	;;
*) usage ;;
esac
