#!/usr/bin/env python3
"""How sure is a band's coverage figure? (issue 12)

score.py gives one coverage per set: the share of test points inside the
band. The points of one forecast window are nearly one draw (a window is
mostly all in or all out), and the windows of one series share its
character, so that share is far less certain than its number of points
suggests. This prints the coverage with a 90% interval from a two-stage
bootstrap: series drawn with replacement, then windows within each drawn
series. The coverage is score.py's: the mean over windows of each window's
share of points inside the band.

usage: coverage_ci.py --truth TEST.csv --forecast FC.csv [--draws 2000]
                      [--exclude-times OTHER_TEST.csv]

TEST.csv and FC.csv are rolling.py's test file (series,timestamp,value,
series named 'name@origin') and a forecast file (series,timestamp,mean,
lower,upper). --exclude-times drops the windows whose origin also appears
in another set's test file, so a denser set can be read apart from the
windows of the set it is checking.
"""
import argparse
import bisect
import collections
import csv
import math
import random
import sys


def where(window):
    """The family of a window 'family/name@origin' (its series without the
    origin when there is no family), for counting what is left out."""
    series = window.split("@")[0]
    return series.split("/")[0] if "/" in series else series


def read_windows(truth, forecast):
    """Per window (rolling.py's series 'name@origin'), the share of its test
    points inside the band, matched as score.py matches them: by timestamp,
    or to the nearest forecast timestamp within half the forecast's median
    step."""
    band = {}
    with open(forecast) as f:
        for r in csv.DictReader(f):
            try:
                band.setdefault(r["series"], {})[float(r["timestamp"])] = (float(r["lower"]), float(r["upper"]))
            except (KeyError, ValueError) as e:
                sys.exit(f"coverage_ci: {forecast}: row {r}: need numeric timestamp, lower and upper: {e}")
    points = {}
    with open(truth) as f:
        for r in csv.DictReader(f):
            try:
                points.setdefault(r["series"], []).append((float(r["timestamp"]), float(r["value"])))
            except (KeyError, ValueError) as e:
                sys.exit(f"coverage_ci: {truth}: row {r}: need numeric timestamp and value: {e}")
    windows, missing = {}, collections.Counter()
    for w, pts in points.items():
        b = band.get(w, {})
        ts = sorted(b)
        gaps = sorted(x - y for x, y in zip(ts[1:], ts[:-1]))
        tol = gaps[len(gaps) // 2] / 2 if gaps else 0.0
        inside = n = 0
        for t, y in pts:
            i = bisect.bisect_left(ts, t)
            near = [ts[j] for j in (i - 1, i) if 0 <= j < len(ts)]
            if not near or not math.isfinite(y):
                missing[where(w)] += 1
                continue
            best = min(near, key=lambda x: abs(x - t))
            if abs(best - t) > tol:
                missing[where(w)] += 1
                continue
            lo, hi = b[best]
            if not (math.isfinite(lo) and math.isfinite(hi)):
                missing[where(w)] += 1
                continue
            n += 1
            inside += lo <= y <= hi
        if n:
            windows[w] = inside / n
    if missing:
        per = ", ".join(f"{k} {n}" for k, n in missing.most_common())
        print(f"coverage_ci: {sum(missing.values())} test points have no band (left out): {per}", file=sys.stderr)
    return windows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--forecast", required=True)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--exclude-times", help="another set's test file: drop windows at its origins")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    windows = read_windows(a.truth, a.forecast)
    if a.exclude_times:
        with open(a.exclude_times) as f:
            drop = {r["series"] for r in csv.DictReader(f)}
        windows = {w: v for w, v in windows.items() if w not in drop}
    if not windows:
        sys.exit("coverage_ci: no window has both truth and forecast")

    by_series = {}
    for w, pts in windows.items():
        by_series.setdefault(w.rsplit("@", 1)[0], []).append(pts)
    series = sorted(by_series)

    def cover(groups):  # the mean of the windows' coverage, as score.py's
        ws = [c for g in groups for c in g]
        return sum(ws) / len(ws)

    point = cover(by_series.values())
    rng = random.Random(a.seed)
    draws = []
    for _ in range(a.draws):
        groups = []
        for s in rng.choices(series, k=len(series)):
            ws = by_series[s]
            groups.append(rng.choices(ws, k=len(ws)))
        draws.append(cover(groups))
    draws.sort()
    lo, hi = draws[int(0.05 * len(draws))], draws[int(0.95 * len(draws)) - 1]
    nwin = sum(len(v) for v in by_series.values())
    print(f"coverage {point:.3f}, 90% interval {lo:.3f} to {hi:.3f} ({len(series)} series, {nwin} windows)")
    for s in series:
        print(f"  {s}: {cover([by_series[s]]):.3f} ({len(by_series[s])} windows)")


if __name__ == "__main__":
    main()
