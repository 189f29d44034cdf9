#!/usr/bin/env bash
# The forecaster's whole accuracy table on the development sets (issue 12):
# M4 Hourly dev (48 h ahead), NAB dev and the cluster traces at 1 h and 1 d
# ahead on rolling origins (../shared/eval/rolling.py), fleetcast's automatic
# choice next to the PromQL anchors (../shared/eval/promql_anchors.py), each
# cell scored by ../shared/eval/score.py: MASE, sMAPE and coverage of the 80%
# band. Prints progress on stderr and the table (markdown) on stdout.
#
# usage: scripts/eval.sh [fleetcast binary] ; env SHARED (default ../shared),
# WORK (scratch dir, default a temporary one), SETS (default "m4 nab-1h nab-1d
# cluster-1h cluster-1d"; ms-1h and ms-1d are the ms-anomaly series, a
# tuning set of intermittent and bursty series; FAMILY-b1d and FAMILY-b1h,
# for FAMILY nab, cluster, ms or m4, forecast from origins where the history
# ends in a burst (scripts/burst_origins.py); nab-3d, cluster-3d and ms-3d
# forecast a day and 30 minutes ahead from only 3 days of history, as an
# exporter does on a young Prometheus, and nab-60h, cluster-60h and ms-60h a
# day ahead from 2.5 days: the short-history regime where the backtest is
# shorter than the horizon), MODELS (extra fleetcast --model values to score
# beside auto, e.g. "ets regression"), FCFLAGS (extra flags for fleetcast forecast).
set -euo pipefail
BIN=${1:-bin/fleetcast}
SHARED=${SHARED:-../shared}
EVAL=$SHARED/eval
DATA=$SHARED/data
SETS=${SETS:-m4 nab-1h nab-1d cluster-1h cluster-1d}
MODELS=${MODELS:-}
FCFLAGS=${FCFLAGS:-}
LEVEL=0.8
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d)
	trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
say() { echo "eval: $*" >&2; }

# score TRAIN TEST FC SEASONARGS -> "MASE sMAPE coverage MSIS"
score() {
	local line
	line=$(python3 "$EVAL/score.py" --train "$1" --truth "$2" --forecast "$3" $4 --level $LEVEL | grep '^score:') || true
	if [ -z "$line" ]; then
		echo "fail fail fail fail"
		return
	fi
	echo "$line" | sed -E 's/.*sMAPE=([^ ]+) MASE=([^ ]+) MSIS=([^ ]+) coverage=([^ ]+).*/\2 \1 \4 \3/'
}

declare -A CELL NEG ABS COVCI

# sanity TRAIN FC -> "N of M|A of B", in one pass over both files: the
# forecast rows (mean, lower or upper below 0) of the series whose whole
# training history is non-negative, and the series (windows) whose band
# reaches more than twice the history's range (max - min) above its
# maximum or as far below its minimum: what no capacity alert should show.
sanity() {
	python3 - "$1" "$2" <<'PY'
import csv, math, sys
neg, lo, hi = set(), {}, {}
with open(sys.argv[1]) as f:
    for r in csv.DictReader(f):
        try:
            v = float(r["value"])
        except ValueError:
            continue
        if not math.isfinite(v):
            continue
        s = r["series"]
        if v < 0:
            neg.add(s)
        lo[s], hi[s] = min(lo.get(s, v), v), max(hi.get(s, v), v)
bad = rows = 0
far, seen = set(), set()
with open(sys.argv[2]) as f:
    for r in csv.DictReader(f):
        s = r["series"]
        vals = {}
        for k in ("mean", "lower", "upper"):
            try:
                vals[k] = float(r[k])
            except (ValueError, KeyError, TypeError):
                pass
        if s not in neg:
            rows += 1
            if any(v < 0 for v in vals.values()):
                bad += 1
        if s in hi:
            seen.add(s)
            span = hi[s] - lo[s]
            if any(v > hi[s] + 2 * span or v < lo[s] - 2 * span for k, v in vals.items() if k != "mean"):
                far.add(s)
print(f"{bad} of {rows}|{len(far)} of {len(seen)}")
PY
}
ROWS=()
addrow() { case " ${ROWS[*]:-} " in *" $1 "*) ;; *) ROWS+=("$1") ;; esac; }

run_set() { # name train test horizon seasonargs hw_window pl_window
	local name=$1 train=$2 test=$3 hor=$4 sargs=$5 hw=$6 pl=$7
	local t0=$SECONDS
	for m in auto $MODELS; do
		say "$name: fleetcast forecast --model $m --horizon $hor"
		# shellcheck disable=SC2086
		nice "$BIN" forecast --input "$train" --horizon "$hor" --level $LEVEL --model "$m" $FCFLAGS \
			--output "$WORK/$name-$m.csv" 2>"$WORK/$name-$m.log" || say "$name: $m failed on some series (see $WORK/$name-$m.log)"
		CELL[$name,$m]=$(score "$train" "$test" "$WORK/$name-$m.csv" "$sargs")
		if [ "$m" = auto ]; then
			IFS='|' read -r NEG[$name] ABS[$name] <<<"$(sanity "$train" "$WORK/$name-$m.csv")"
			# Its warnings (test points without a band, gaps in the truth)
			# go to a log per set, named beside the figure.
			COVCI[$name]=$(python3 "$(dirname "$0")/coverage_ci.py" --truth "$test" --forecast "$WORK/$name-$m.csv" 2>"$WORK/$name-coverage.log" | grep "^coverage ") ||
				COVCI[$name]="coverage_ci.py failed"
			if [ -s "$WORK/$name-coverage.log" ]; then
				COVCI[$name]="${COVCI[$name]} (warnings: $WORK/$name-coverage.log)"
			fi
		fi
		addrow "$m"
	done
	for a in "last 0" "holt_winters $hw" "predict_linear $pl" "offset 86400"; do
		set -- $a
		say "$name: anchor $1 over $2 s"
		python3 "$EVAL/promql_anchors.py" "$train" "$test" "$1" "$2" "$WORK/$name-$1.csv"
		CELL[$name,$1]=$(score "$train" "$test" "$WORK/$name-$1.csv" "$sargs")
		addrow "$1"
	done
	say "$name: done in $((SECONDS - t0)) s"
}

roll() { # out origins every horizon inputs... (env HIST: seconds of history, default rolling.py's 14 days)
	local out=$1 o=$2 e=$3 h=$4
	shift 4
	local args=()
	for f in "$@"; do args+=(--input "$f"); done
	[ -n "${HIST:-}" ] && args+=(--history "$HIST")
	python3 "$EVAL/rolling.py" "${args[@]}" --origins "$o" --every "$e" --horizon "$h" --out "$WORK/$out"
}

# rolled NAME: the set NAME = FAMILY-SCHEME built by rolling.py, then
# scored. Families: nab (train then test of NAB's development series),
# cluster (the traces), ms (ms-anomaly). Schemes: 1h and 1d ahead from
# rolling.py's 14 days of history (or env HIST), 1hdense (1 h ahead from an
# origin every hour over the last 6 days: ten times 1h's windows, for a
# coverage figure that a few windows do not decide), 3d (1 day and 30 minutes
# ahead from 3 days) and 60h (1 day ahead from 2.5 days); b1d and b1h
# (family m4 too) are the conditional sets of scripts/burst_origins.py,
# origins where the history ends in an excursion. Anchors:
# holt_winters over an hour; predict_linear over 6 hours for 1 h ahead, a
# day otherwise.
rolled() {
	local name=$1 inputs origins=12 every=21600 rh fh pl=86400 hist=${HIST:-}
	case ${name%-*} in
	nab) inputs=("$DATA/nab/train.csv" "$DATA/nab/test.csv") ;;
	cluster) inputs=("$DATA/cluster/full.csv") ;;
	ms) inputs=("$DATA/ms-anomaly/data.csv") ;;
	m4) inputs=("$DATA/m4-hourly/train.csv" "$DATA/m4-hourly/test.csv") ;;
	*) return 1 ;;
	esac
	case ${name##*-} in
	b1d | b1h)
		# Conditional sets: origins where the history ends in an
		# excursion (scripts/burst_origins.py), 1 day or 1 hour ahead.
		local dir=$WORK/${name%-*}-burst test=test.csv
		[ -f "$dir/train.csv" ] || python3 "$(dirname "$0")/burst_origins.py" "${inputs[@]/#/--input=}" --horizon 86400 --also 3600 --out "$dir" 2>"$dir.log"
		fh=1d
		[ "${name##*-}" = b1h ] && fh=1h pl=21600 test=test-3600.csv
		run_set "$name" "$dir/train.csv" "$dir/$test" "$fh" "--season-seconds 86400" 3600 "$pl"
		return
		;;
	1h) rh=3600 fh=1h pl=21600 ;;
	1hdense) origins=144 every=3600 rh=3600 fh=1h pl=21600 ;;
	1d) origins=4 every=86400 rh=86400 fh=1d ;;
	3d) hist=259200 rh=88200 fh=1d30m ;;
	60h) hist=216000 rh=86400 fh=1d ;;
	*) return 1 ;;
	esac
	HIST=$hist roll "$name" "$origins" "$every" "$rh" "${inputs[@]}"
	run_set "$name" "$WORK/$name/train.csv" "$WORK/$name/test.csv" "$fh" "--season-seconds 86400" 3600 "$pl"
}

for s in $SETS; do
	if [ "$s" = m4 ]; then
		run_set m4 "$DATA/m4-hourly/train.csv" "$DATA/m4-hourly/test.csv" 48 "--season 24" 86400 604800
	elif ! rolled "$s"; then
		echo "eval: unknown set $s (valid: m4, or nab, cluster or ms followed by -1h, -1hdense, -1d, -3d or -60h, or nab, cluster, ms or m4 followed by -b1d or -b1h)" >&2
		exit 2
	fi
done

# The table: one row per method, MASE / sMAPE / coverage per set.
hdr="| method |"
sep="|---|"
for s in $SETS; do
	hdr="$hdr $s MASE | sMAPE | cov |"
	sep="$sep---|---|---|"
done
echo "$hdr"
echo "$sep"
for r in "${ROWS[@]}"; do
	label=$r
	case $r in
	last) label="last value" ;;
	holt_winters) label="PromQL holt_winters (flat)" ;;
	predict_linear) label="PromQL predict_linear" ;;
	offset) label="seasonal naive (offset 1d)" ;;
	esac
	line="| $label |"
	for s in $SETS; do
		read -r ma sm cv _ <<<"${CELL[$s,$r]:-- - - -}"
		[ "$cv" = nan ] && cv="—"
		line="$line $ma | $sm | $cv |"
	done
	echo "$line"
done
echo
echo "MSIS of auto's 80% band (the interval score, scaled like MASE; lower is better):"
for s in $SETS; do
	read -r _ _ _ msis <<<"${CELL[$s,auto]:-- - - not-run}"
	echo "- $s: $msis"
done
echo
echo "Coverage of auto's 80% band, with a 90% interval from resampling series and then windows (scripts/coverage_ci.py):"
for s in $SETS; do
	echo "- $s: ${COVCI[$s]:-not run}"
done
echo
echo "Forecast rows of auto with a value below 0, among series whose history is non-negative:"
for s in $SETS; do
	echo "- $s: ${NEG[$s]:-not run}"
done
echo
echo "Series (windows) whose 80% band of auto reaches more than twice the history's range past its maximum or minimum:"
for s in $SETS; do
	echo "- $s: ${ABS[$s]:-not run}"
done
