#!/usr/bin/env python3
"""Compare two forecast files window by window on their bands.

usage: scripts/compare_bands.py TEST BEFORE.csv AFTER.csv [LEVEL]

TEST is the truth (series,timestamp,value, as rolling.py writes it); BEFORE
and AFTER are fleetcast forecast outputs (series,timestamp,mean,lower,upper)
for the same windows. For each window (series) it sums the interval score of
the LEVEL band (default 0.8) over the scored steps: width plus 2/(1 - LEVEL)
times any miss, the proper score behind MSIS. It prints the geometric mean of
after / before over the windows, and how many windows got better and worse.
Unlike MSIS, a mean of per-window ratios to a seasonal-naive scale, a few
windows cannot dominate it. forecast/README.md quotes its output.
"""
import csv
import math
import sys
from collections import defaultdict


def scores(path, truth, pen):
    out = defaultdict(float)
    with open(path) as f:
        for r in csv.DictReader(f):
            k = (r["series"], r["timestamp"])
            if k not in truth:
                continue
            y, lo, hi = truth[k], float(r["lower"]), float(r["upper"])
            out[r["series"]] += (hi - lo) + pen * (max(lo - y, 0) + max(y - hi, 0))
    return out


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__.strip().splitlines()[2])
    level = float(sys.argv[4]) if len(sys.argv) == 5 else 0.8
    truth = {}
    with open(sys.argv[1]) as f:
        for r in csv.DictReader(f):
            try:
                truth[(r["series"], r["timestamp"])] = float(r["value"])
            except ValueError:
                pass
    pen = 2 / (1 - level)
    a, b = scores(sys.argv[2], truth, pen), scores(sys.argv[3], truth, pen)
    logs = [math.log(b[s] / a[s]) for s in a if a[s] > 0 and b.get(s, 0) > 0]
    if not logs:
        sys.exit("compare_bands: no window scored in both files")
    better = sum(1 for x in logs if x < -1e-9)
    worse = sum(1 for x in logs if x > 1e-9)
    print(f"interval score after/before, geometric mean {math.exp(sum(logs) / len(logs)):.3f}: "
          f"{better} windows better, {worse} worse, of {len(logs)}")


if __name__ == "__main__":
    main()
