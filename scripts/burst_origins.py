#!/usr/bin/env python3
"""Build a conditional evaluation set: forecast origins placed where the history ends in an excursion.

Rolling origins (../shared/eval/rolling.py) almost never fall on a burst, so the main accuracy
table cannot see what a forecaster does when the last few observations are far out. This script
places origins exactly there. Input and output are the formats of rolling.py: long CSV
(series,timestamp,value) in, DIR/train.csv and DIR/test.csv out, each origin its own series
'name@origin', so one `fleetcast forecast` call covers every origin and score.py scores it.

Definition (fixed before any result was looked at; forecast/README.md, "Bursts at the end"):
  - step: the series' median sampling interval; the end window is the last max(3 steps, 1 hour)
    of observations, the baseline the day before that window;
  - the end window is an excursion when its mean lies more than K=5 robust sd (1.4826 x MAD,
    or 1.2533 x the mean absolute deviation when the MAD is 0) from the baseline's median, on
    the same side beyond the 99th (1st) percentile of the whole history before the window;
  - an origin is the first time of each such episode (an episode ends when the end window stops
    being an excursion), with at least --min-history seconds before it and the whole --horizon
    of truth after it; at most --per-series origins per series, spread evenly over its episodes.

usage: burst_origins.py --input a.csv [--input b.csv] --horizon 86400 [--history 1209600]
                        [--min-history 259200] [--per-series 8] [--also 3600] --out DIR
Prints on stderr how many origins each series got.
"""
import argparse, bisect, csv, math, os, sys
from collections import defaultdict

K = 5.0

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--input", action="append", required=True)
p.add_argument("--horizon", type=float, default=86400)
p.add_argument("--history", type=float, default=14 * 86400)
p.add_argument("--min-history", type=float, default=3 * 86400)
p.add_argument("--per-series", type=int, default=8)
p.add_argument("--also", type=float, action="append", default=[],
               help="also write DIR/test-SECONDS.csv with the first SECONDS of each window's truth")
p.add_argument("--out", required=True)
a = p.parse_args()

if a.horizon <= 0 or a.history <= 0 or a.min_history < 0 or a.per_series < 1 or any(h <= 0 for h in a.also):
    sys.exit("burst_origins: --horizon, --history and --also want seconds > 0, --min-history >= 0, --per-series >= 1")

data = defaultdict(dict)
for path in a.input:
    try:
        f = open(path, newline="")
    except OSError as e:
        sys.exit(f"burst_origins: {path}: {e.strerror}")
    with f:
        r = csv.DictReader(f)
        missing = [c for c in ("series", "timestamp", "value") if c not in (r.fieldnames or [])]
        if missing:
            sys.exit(f"burst_origins: {path}: missing columns {missing}; want a header series,timestamp,value")
        for row in r:
            try:
                t = float(row["timestamp"])
            except (TypeError, ValueError):
                sys.exit(f"burst_origins: {path}:{r.line_num}: timestamp {row['timestamp']!r} is not a number of Unix seconds")
            try:
                v = float(row["value"])
            except (TypeError, ValueError):
                continue  # an empty or non-numeric value is a gap
            if math.isfinite(v):
                data[row["series"]][t] = v


def robust_sd(sorted_vals, med):
    dev = sorted(abs(v - med) for v in sorted_vals)
    mad = dev[len(dev) // 2]
    if mad > 0:
        return 1.4826 * mad
    return 1.2533 * sum(dev) / len(dev)


def quantile(sorted_vals, q):
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def excursions(ts, vs):
    """Yield (index of the last point of the end window, episode start) for each episode onset."""
    n = len(ts)
    diffs = sorted(ts[i + 1] - ts[i] for i in range(n - 1))
    step = diffs[len(diffs) // 2] if diffs else 0
    if step <= 0:
        return []
    s = max(3, int(round(3600 / step)))
    B = max(3, int(round(86400 / step)))
    base = []  # sorted baseline window: points [e-s-B, e-s) for end index e (exclusive)
    onsets = []
    on = False
    wsum = 0.0
    for e in range(n):  # the end window is vs[e-s+1 .. e]
        wsum += vs[e]
        if e >= s:
            wsum -= vs[e - s]
            bisect.insort(base, vs[e - s])
            if e - s - B >= 0:
                base.pop(bisect.bisect_left(base, vs[e - s - B]))
        if e < s + B - 1 or ts[e] - ts[0] < a.min_history or ts[e] + a.horizon > ts[-1]:
            on = False
            continue
        med = base[len(base) // 2]
        sd = robust_sd(base, med)
        m = wsum / s
        exc = False
        if sd > 0 and abs(m - med) > K * sd:
            hist = sorted(vs[max(0, bisect.bisect_right(ts, ts[e] - a.history)):e - s + 1])
            exc = m > quantile(hist, 0.99) if m > med else m < quantile(hist, 0.01)
        if exc and not on:
            onsets.append(e)
        on = exc
    return onsets


os.makedirs(a.out, exist_ok=True)
total = 0
with open(os.path.join(a.out, "train.csv"), "w", newline="") as ftr, \
        open(os.path.join(a.out, "test.csv"), "w", newline="") as fte:
    wtr, wte = csv.writer(ftr), csv.writer(fte)
    wtr.writerow(["series", "timestamp", "value"])
    wte.writerow(["series", "timestamp", "value"])
    fal = {h: open(os.path.join(a.out, f"test-{int(h)}.csv"), "w", newline="") for h in a.also}
    wal = {h: csv.writer(f) for h, f in fal.items()}
    for w in wal.values():
        w.writerow(["series", "timestamp", "value"])
    for name in sorted(data):
        pts = sorted(data[name].items())
        ts = [t for t, _ in pts]
        vs = [v for _, v in pts]
        on = excursions(ts, vs)
        if len(on) > a.per_series:
            on = [on[round(k * (len(on) - 1) / (a.per_series - 1))] for k in range(a.per_series)] if a.per_series > 1 else on[-1:]
        for e in on:
            origin = ts[e]
            lo = bisect.bisect_right(ts, origin - a.history)
            hi = bisect.bisect_right(ts, origin + a.horizon)
            sid = f"{name}@{int(origin)}"
            for i in range(lo, e + 1):
                wtr.writerow([sid, int(ts[i]) if ts[i].is_integer() else ts[i], vs[i]])
            for i in range(e + 1, hi):
                row = [sid, int(ts[i]) if ts[i].is_integer() else ts[i], vs[i]]
                wte.writerow(row)
                for h, w in wal.items():
                    if ts[i] <= origin + h:
                        w.writerow(row)
        total += len(on)
        print(f"burst_origins: {name}: {len(on)} origins", file=sys.stderr)
    for f in fal.values():
        f.close()
print(f"burst_origins: {total} origins in {a.out}", file=sys.stderr)
