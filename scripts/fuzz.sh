#!/usr/bin/env bash
# Runs every native Go fuzz target (func FuzzXxx(f *testing.F)) of the
# module for a bounded time each: FUZZTIME per target (default 15s), one
# `go test -fuzz` per target, as Go requires. Targets are discovered with
# `go test -list '^Fuzz'` in each package that declares one, so a new
# target runs without editing this script. Called by scripts/test.sh.
#
# A failing input is written to <package>/testdata/fuzz/<FuzzXxx>/<hash>:
# commit it with the fix and it runs as a regression test in every plain
# `go test` from then on. What the fuzzer finds interesting is kept in the
# Go build cache (GOCACHE/fuzz), so each run starts where the last ended.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOEXPERIMENT=jsonv2
fuzztime=${FUZZTIME:-15s}
# Minimising every new interesting input costs whole seconds per input on
# the slower targets (FuzzIngest): keep the time for fuzzing.
minimize=${FUZZMINIMIZETIME:-10x}

start=$(date +%s)
pkgs=$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_]\w*\(f \*testing\.F\)' . |
	xargs -r -n1 dirname | sort -u)
targets=0
for pkg in $pkgs; do
	list=$(go test -list '^Fuzz' "$pkg") # fails the script if the package does not build
	for target in $(grep -E '^Fuzz' <<<"$list" || true); do
		log=$(mktemp)
		corpus="$pkg/testdata/fuzz/$target"
		for attempt in 1 2; do
			before=$(ls "$corpus" 2>/dev/null || true)
			if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" >"$log" 2>&1; then
				break
			fi
			# Go 1.26's fuzz coordinator can report its own -fuzztime
			# deadline as the target failing: "context deadline exceeded",
			# no input written (go.dev/issue/75804, fixed in Go 1.27). Such a
			# run is run again, once; a run that writes an input, or fails
			# otherwise, or twice, fails the script.
			if [ "$attempt" = 1 ] && [ "$(ls "$corpus" 2>/dev/null || true)" = "$before" ] &&
				grep -q '^    context deadline exceeded$' "$log" && ! grep -q -e '^panic:' -e 'Failing input written' "$log"; then
				echo "fuzz: $target ($pkg) stopped by Go's fuzz deadline race (go.dev/issue/75804), no input written; running it again" >&2
				continue
			fi
			grep -v '^fuzz: elapsed' "$log" | tail -n 60
			rm -f "$log"
			echo "fuzz: $target ($pkg) failed; the input is under $corpus/" >&2
			exit 1
		done
		echo "fuzz: $target ($pkg) $(grep -E '^fuzz: elapsed' "$log" | tail -n 1 | sed -e 's/^fuzz: //' -e 's/ ([0-9]*\/sec)//')"
		rm -f "$log"
		targets=$((targets + 1))
	done
done
if [ "$targets" -eq 0 ]; then
	echo "fuzz: no fuzz target found" >&2
	exit 1
fi
echo "fuzz: $targets targets, ${fuzztime} each, $(( $(date +%s) - start ))s"
