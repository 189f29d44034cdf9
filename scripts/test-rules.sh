#!/usr/bin/env bash
# test-rules.sh: check and unit-test every fleetcast rule file with every
# promtool given (make test-rules). PROMTOOLS is a space-separated list of
# promtool binaries, for example PROMTOOLS="promtool /tmp/prom3/promtool" to
# test Prometheus 2.x and 3.x; it defaults to FLEETCAST_PROMTOOL, then the
# promtool on PATH. A missing promtool is an error, never a skip.
set -euo pipefail

cd "$(dirname "$0")/.."

promtools=${PROMTOOLS:-${FLEETCAST_PROMTOOL:-promtool}}

shopt -s nullglob
rule_files=(rules/*.rules.yml)
test_files=(rules/tests/*.test.yml)
if [ ${#rule_files[@]} -eq 0 ]; then
	echo "test-rules: no rule files in rules/*.rules.yml" >&2
	exit 1
fi
if [ ${#test_files[@]} -eq 0 ]; then
	echo "test-rules: no rule tests in rules/tests/*.test.yml" >&2
	exit 1
fi

# Every alerting rule must be exercised by at least one test file.
missing=0
for alert in $(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "${rule_files[@]}"); do
	if ! grep -q "alertname: *$alert\$" "${test_files[@]}"; then
		echo "test-rules: alert $alert has no promtool test in rules/tests/" >&2
		missing=1
	fi
done
[ "$missing" -eq 0 ] || exit 1

for pt in $promtools; do
	if ! bin=$(command -v "$pt"); then
		cat >&2 <<MSG
test-rules: promtool '$pt' not found.
  Install Prometheus's promtool ('make tools', or apt-get install prometheus on Debian/Ubuntu),
  or point PROMTOOLS / FLEETCAST_PROMTOOL at it. For Prometheus 3.x:
    GOBIN=/tmp/prom3 go install github.com/prometheus/prometheus/cmd/promtool@v0.316.0
    PROMTOOLS="promtool /tmp/prom3/promtool" make test-rules
MSG
		exit 1
	fi
	echo "== $bin ($("$bin" --version 2>&1 | head -n1))"
	"$bin" check rules "${rule_files[@]}"
	"$bin" test rules "${test_files[@]}"
done
