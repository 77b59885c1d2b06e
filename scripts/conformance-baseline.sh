#!/usr/bin/env bash
# conformance-baseline.sh — regenerate test/conformance/baseline-v3.1.2-passed.txt.
#
# Contract:
#   - Builds (once, cached like build-conformance.sh) distribution v3.1.2's own
#     registry binary from a scratch module, and the pinned conformance suite.
#   - Runs the suite RUNS times (default 2), each against a fresh registry
#     (filesystem storage in a temp dir, delete enabled, a free loopback port),
#     through TestConformance itself (IMAGEGATE_CONFORMANCE_REGISTRY), so the
#     suite settings are exactly the ones the real test uses.
#   - Fails unless every run reports the expected counts (EXPECT, default
#     "743 passed, 91 failed, 18 skipped") and all runs yield the same list.
#   - Only then replaces the baseline file. Prints the counts.
# Needs: go, curl. Run from anywhere inside the repository.
set -euo pipefail

readonly dist_version="v3.1.2"
readonly expect="${EXPECT:-743 passed, 91 failed, 18 skipped}"
readonly runs="${RUNS:-2}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
readonly cache_dir="${IMAGEGATE_TOOLS_CACHE:-$HOME/.cache/imagegate/tools}"
readonly registry_bin="${cache_dir}/distribution-registry-${dist_version}"
readonly baseline="${repo_root}/test/conformance/baseline-${dist_version}-passed.txt"

export GOEXPERIMENT="${GOEXPERIMENT:-jsonv2}"

log() { echo "conformance-baseline: $*" >&2; }

command -v curl >/dev/null || { log "curl is required"; exit 1; }

work="$(mktemp -d)"
registry_pid=""
cleanup() {
	if [[ -n "${registry_pid}" ]]; then
		kill -TERM "${registry_pid}" 2>/dev/null || true
		wait "${registry_pid}" 2>/dev/null || true
	fi
	rm -rf "${work}"
}
trap cleanup EXIT

build_registry() {
	[[ -x "${registry_bin}" ]] && return
	log "building distribution ${dist_version} registry (a few minutes)"
	mkdir -p "${cache_dir}" "${work}/distmod"
	(
		cd "${work}/distmod"
		go mod init imagegate.local/distribution-build >/dev/null 2>&1
		export GOFLAGS=-mod=mod
		go get "github.com/distribution/distribution/v3/cmd/registry@${dist_version}" >&2
		go build -o "${registry_bin}.tmp.$$" github.com/distribution/distribution/v3/cmd/registry >&2
	)
	mv -f "${registry_bin}.tmp.$$" "${registry_bin}"
}

# free_port prints a loopback TCP port that nothing answers on right now.
free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
			echo "${port}"
			return
		fi
	done
	log "no free port found"
	exit 1
}

# start_registry DIR: starts a fresh registry with its state in DIR, sets
# registry_addr and registry_pid, and waits (bounded) until /v2/ answers.
start_registry() {
	local dir="$1"
	mkdir -p "${dir}/data"
	registry_addr="127.0.0.1:$(free_port)"
	cat >"${dir}/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${dir}/data
  delete:
    enabled: true
http:
  addr: ${registry_addr}
YAML
	# The registry reads REGISTRY_* variables as config overrides; keep them out.
	local unset=() name
	while IFS= read -r name; do
		unset+=(-u "${name}")
	done < <(compgen -e | grep '^REGISTRY_' || true)
	env "${unset[@]}" "${registry_bin}" serve "${dir}/config.yml" >"${dir}/registry.log" 2>&1 &
	registry_pid=$!
	local deadline=$((SECONDS + 30))
	until curl -fs -o /dev/null "http://${registry_addr}/v2/"; do
		if ! kill -0 "${registry_pid}" 2>/dev/null || (( SECONDS >= deadline )); then
			log "registry did not come up; its log:"
			cat "${dir}/registry.log" >&2
			exit 1
		fi
		sleep 0.2
	done
}

stop_registry() {
	kill -TERM "${registry_pid}"
	wait "${registry_pid}" 2>/dev/null || true
	registry_pid=""
}

build_registry
suite="$("${repo_root}/scripts/build-conformance.sh")"

for run in $(seq 1 "${runs}"); do
	rundir="${work}/run${run}"
	start_registry "${rundir}"
	log "run ${run}/${runs} against distribution ${dist_version} at ${registry_addr}"
	(
		cd "${repo_root}"
		IMAGEGATE_CONFORMANCE_REGISTRY="${registry_addr}" \
			OCI_CONFORMANCE_BIN="${suite}" \
			IMAGEGATE_CONFORMANCE_OUT="${rundir}/out" \
			go test ./test/conformance -run '^TestConformance$' -count=1 -v \
			-args -write-baseline "${rundir}/baseline.txt"
	) >"${rundir}/test.log" 2>&1 || {
		log "run ${run} failed:"
		cat "${rundir}/test.log" >&2
		exit 1
	}
	stop_registry
	counts="$(grep -o 'conformance: [0-9]* passed, [0-9]* failed, [0-9]* skipped' "${rundir}/test.log")"
	log "run ${run}: ${counts}"
	if [[ "${counts}" != "conformance: ${expect}" ]]; then
		log "run ${run} counted '${counts#conformance: }', expected '${expect}' (set EXPECT to accept new counts)"
		exit 1
	fi
	if [[ "${run}" -gt 1 ]] && ! diff -u "${work}/run1/baseline.txt" "${rundir}/baseline.txt" >&2; then
		log "runs 1 and ${run} passed different checks: the baseline would not be stable"
		exit 1
	fi
done

cp "${work}/run1/baseline.txt" "${baseline}"
log "wrote ${baseline}: $(grep -vc '^#' "${baseline}") passed testcases ($(grep -v '^#' "${baseline}" | sort -u | wc -l) distinct names)"
echo "${counts}"
