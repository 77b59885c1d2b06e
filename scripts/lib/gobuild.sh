# gobuild.sh — sourced by the build-*.sh scripts: build a Go main package of
# another module into the tools cache, outside this repository's go.mod.
#
# build_cached BIN MODULE@VERSION PACKAGE [CHECK]
#   When BIN is missing, builds PACKAGE (a main package of MODULE) in a
#   throw-away scratch module that requires MODULE@VERSION, to a temporary
#   name beside BIN, runs CHECK (a function name) on the result when given,
#   then renames it to BIN: an interrupted or concurrent run never leaves a
#   half-written binary at BIN. When BIN exists, only runs CHECK on it.
#   Progress goes to stderr; prints BIN on stdout.
build_cached() {
	local out=$1 modver=$2 pkg=$3 check=${4:-}
	if [[ -x "${out}" ]]; then
		[[ -z "${check}" ]] || "${check}" "${out}"
		echo "${out}"
		return
	fi
	mkdir -p "$(dirname "${out}")"
	local scratch tmp_bin="${out}.tmp.$$"
	scratch="$(mktemp -d)"
	# shellcheck disable=SC2064 # expand now: the trap outlives this function's locals
	trap "rm -rf '${scratch}' '${tmp_bin}'" EXIT
	echo "building ${pkg} (${modver})..." >&2
	(
		cd "${scratch}"
		# The caller's GOFLAGS (e.g. -mod=vendor) mean nothing in the scratch module.
		export GOFLAGS=-mod=mod GOEXPERIMENT="${GOEXPERIMENT:-jsonv2}"
		go mod init imagegate.local/tool-build >/dev/null 2>&1
		go get "${modver}" >&2
		go build -o "${tmp_bin}" "${pkg}" >&2
	)
	[[ -z "${check}" ]] || "${check}" "${tmp_bin}"
	mv -f "${tmp_bin}" "${out}"
	echo "${out}"
}
