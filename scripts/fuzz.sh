#!/usr/bin/env bash
# Runs every Fuzz target in the module for FUZZTIME (default 10s) each.
# Go's fuzzer can end a run with "context deadline exceeded" and no failing
# input when the machine is too busy for its workers to report in time; such
# a run is tried once more. A failing input (written under testdata/fuzz) or
# a second failure fails the script.
set -euo pipefail
FUZZTIME=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' ./... | while read -r pkg dir; do
	for fz in $(cd "$dir" && grep -ho '^func Fuzz[A-Za-z0-9_]*' ./*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		for try in 1 2; do
			echo "fuzz: $pkg $fz for $FUZZTIME"
			if go test -run '^$' -fuzz "^${fz}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1; then
				tail -1 "$log"
				break
			fi
			if [ "$try" = 1 ] && grep -q "context deadline exceeded" "$log" && ! grep -q "Failing input written" "$log"; then
				echo "fuzz: $fz: the fuzzer timed out without a failing input (busy machine); trying once more"
				continue
			fi
			cat "$log"
			exit 1
		done
	done
done
