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
# tuning set of intermittent and bursty series; nab-3d, cluster-3d and ms-3d
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

# score TRAIN TEST FC SEASONARGS -> "MASE sMAPE coverage"
score() {
	local line
	line=$(python3 "$EVAL/score.py" --train "$1" --truth "$2" --forecast "$3" $4 --level $LEVEL | grep '^score:') || true
	if [ -z "$line" ]; then
		echo "fail fail fail"
		return
	fi
	echo "$line" | sed -E 's/.*sMAPE=([^ ]+) MASE=([^ ]+) MSIS=[^ ]+ coverage=([^ ]+).*/\2 \1 \3/'
}

declare -A CELL NEG ABS

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

for s in $SETS; do
	case $s in
	m4) run_set m4 "$DATA/m4-hourly/train.csv" "$DATA/m4-hourly/test.csv" 48 "--season 24" 86400 604800 ;;
	nab-1h)
		roll nab-1h 12 21600 3600 "$DATA/nab/train.csv" "$DATA/nab/test.csv"
		run_set nab-1h "$WORK/nab-1h/train.csv" "$WORK/nab-1h/test.csv" 1h "--season-seconds 86400" 3600 21600 ;;
	nab-1d)
		roll nab-1d 4 86400 86400 "$DATA/nab/train.csv" "$DATA/nab/test.csv"
		run_set nab-1d "$WORK/nab-1d/train.csv" "$WORK/nab-1d/test.csv" 1d "--season-seconds 86400" 3600 86400 ;;
	cluster-1h)
		roll cluster-1h 12 21600 3600 "$DATA/cluster/full.csv"
		run_set cluster-1h "$WORK/cluster-1h/train.csv" "$WORK/cluster-1h/test.csv" 1h "--season-seconds 86400" 3600 21600 ;;
	cluster-1d)
		roll cluster-1d 4 86400 86400 "$DATA/cluster/full.csv"
		run_set cluster-1d "$WORK/cluster-1d/train.csv" "$WORK/cluster-1d/test.csv" 1d "--season-seconds 86400" 3600 86400 ;;
	ms-1h)
		roll ms-1h 12 21600 3600 "$DATA/ms-anomaly/data.csv"
		run_set ms-1h "$WORK/ms-1h/train.csv" "$WORK/ms-1h/test.csv" 1h "--season-seconds 86400" 3600 21600 ;;
	ms-1d)
		roll ms-1d 4 86400 86400 "$DATA/ms-anomaly/data.csv"
		run_set ms-1d "$WORK/ms-1d/train.csv" "$WORK/ms-1d/test.csv" 1d "--season-seconds 86400" 3600 86400 ;;
	nab-3d)
		HIST=259200 roll nab-3d 12 21600 88200 "$DATA/nab/train.csv" "$DATA/nab/test.csv"
		run_set nab-3d "$WORK/nab-3d/train.csv" "$WORK/nab-3d/test.csv" 1d30m "--season-seconds 86400" 3600 86400 ;;
	cluster-3d)
		HIST=259200 roll cluster-3d 12 21600 88200 "$DATA/cluster/full.csv"
		run_set cluster-3d "$WORK/cluster-3d/train.csv" "$WORK/cluster-3d/test.csv" 1d30m "--season-seconds 86400" 3600 86400 ;;
	ms-3d)
		HIST=259200 roll ms-3d 12 21600 88200 "$DATA/ms-anomaly/data.csv"
		run_set ms-3d "$WORK/ms-3d/train.csv" "$WORK/ms-3d/test.csv" 1d30m "--season-seconds 86400" 3600 86400 ;;
	nab-60h)
		HIST=216000 roll nab-60h 12 21600 86400 "$DATA/nab/train.csv" "$DATA/nab/test.csv"
		run_set nab-60h "$WORK/nab-60h/train.csv" "$WORK/nab-60h/test.csv" 1d "--season-seconds 86400" 3600 86400 ;;
	cluster-60h)
		HIST=216000 roll cluster-60h 12 21600 86400 "$DATA/cluster/full.csv"
		run_set cluster-60h "$WORK/cluster-60h/train.csv" "$WORK/cluster-60h/test.csv" 1d "--season-seconds 86400" 3600 86400 ;;
	ms-60h)
		HIST=216000 roll ms-60h 12 21600 86400 "$DATA/ms-anomaly/data.csv"
		run_set ms-60h "$WORK/ms-60h/train.csv" "$WORK/ms-60h/test.csv" 1d "--season-seconds 86400" 3600 86400 ;;
	*) echo "eval: unknown set $s (valid: m4 nab-1h nab-1d cluster-1h cluster-1d ms-1h ms-1d nab-3d cluster-3d ms-3d nab-60h cluster-60h ms-60h)" >&2; exit 2 ;;
	esac
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
		read -r ma sm cv <<<"${CELL[$s,$r]:-- - -}"
		[ "$cv" = nan ] && cv="—"
		line="$line $ma | $sm | $cv |"
	done
	echo "$line"
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
