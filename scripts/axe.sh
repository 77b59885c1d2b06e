#!/usr/bin/env bash
# axe.sh — axe-core, the accessibility engine the web UI's browser tests
# (test/ui) inject into every page they screenshot.
#
# Usage:
#   scripts/axe.sh install
#       # last stdout line: IMAGEGATE_AXE=/abs/path/axe.min.js
#
# Contract:
#   install  Runs `npm ci --ignore-scripts` in test/ui: the version and
#            sha512 integrity pinned in test/ui/package-lock.json, from the
#            npm registry, into test/ui/node_modules (git-ignored). Cached:
#            skipped when the installed axe-core is the locked version.
#            Needs node and npm (exits 1 saying so). Prints
#            IMAGEGATE_AXE=<path> as its last stdout line; the tests read
#            that variable (and skip the check without it, or fail under
#            IMAGEGATE_TEST_REQUIRE_ALL=1). Idempotent.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly root
readonly dir="${root}/test/ui"
readonly axe="${dir}/node_modules/axe-core/axe.min.js"

[[ $# -eq 1 && $1 == install ]] || {
	echo "usage: $0 install" >&2
	exit 2
}
command -v npm >/dev/null || {
	echo "axe.sh: npm is missing (apt-get install npm): the UI's accessibility check needs axe-core" >&2
	exit 1
}
locked=$(node -e 'console.log(require(process.argv[1]).packages["node_modules/axe-core"].version)' "${dir}/package-lock.json")
installed=""
if [[ -f ${dir}/node_modules/axe-core/package.json ]]; then
	installed=$(node -e 'console.log(require(process.argv[1]).version)' "${dir}/node_modules/axe-core/package.json")
fi
if [[ ${installed} != "${locked}" || ! -f ${axe} ]]; then
	(cd "${dir}" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi
echo "IMAGEGATE_AXE=${axe}"
