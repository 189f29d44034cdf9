package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat"
)

// This file measures how far the leave-one-group-out table can be trusted:
// had each group held other series of its own kind, how would the table
// read? Each resample draws every group's series with replacement and
// repeats the whole protocol on the draw: the setting and threshold chosen
// on the other three groups' resampled scores, the held-out group's
// resampled score at them. It needs only each series' raw score per
// setting and threshold (nabCorpus.sweep), because NAB's raw score of a corpus
// is the sum of its series' raw scores, normalised by its window count.
// Series rather than windows are drawn, because the windows and false
// alarms of one series share its detector and its quirks.

// bootResamples and bootSeed fix the resamples, so that the figures are
// reproducible run to run.
const (
	bootResamples = 1000
	bootSeed      = 14
)

// bootTable is the resampled leave-one-group-out figures: held[b][h] is
// group h's held-out standard score in resample b, mean[b] their mean.
type bootTable struct {
	held [][]float64
	mean []float64
}

// bootstrap repeats the leave-one-group-out protocol on n resamples of
// the groups' series, once for each nvs[k]: over the first nvs[k]
// settings, on the same draws, so that two grids can be compared draw by
// draw (bootDiff). raw[v][g][s][j] is series s of group g's raw standard
// score at setting v and threshold thr[j]; nwin[g][s] its window count.
func (e *evaluation) bootstrap(raw [][][][]float64, nwin [][]int, nvs []int, n int, seed uint64) []bootTable {
	rng := rand.New(rand.NewPCG(seed, seed))
	ng := len(e.groups)
	nv := slices.Max(nvs)
	// The resampled scores, in the shape choose reads (reused).
	rs := &evaluation{groups: e.groups, thr: e.thr, eligible: e.eligible, res: make([]result, nv)}
	for v := range rs.res {
		rs.res[v].at = make([][3][]float64, ng)
		for g := range rs.res[v].at {
			rs.res[v].at[g][0] = make([]float64, len(e.thr))
		}
	}
	bts := make([]bootTable, len(nvs))
	for k := range bts {
		bts[k] = bootTable{held: make([][]float64, n), mean: make([]float64, n)}
	}
	draw := make([][]int, ng)
	for b := range n {
		for g := range ng {
			var w int
			draw[g], w = drawSeries(rng, nwin[g])
			for v := range nv {
				at := rs.res[v].at[g][0]
				for j := range at {
					sum := 0.0
					for _, s := range draw[g] {
						sum += raw[v][g][s][j]
					}
					at[j] = nabNorm(sum, w, 0)
				}
			}
		}
		for k, nvk := range nvs {
			bt := &bts[k]
			bt.held[b] = make([]float64, ng)
			for h := range ng {
				v, j := rs.choose(rs.others(h), nvk)
				bt.held[b][h] = rs.res[v].at[h][0][j]
				bt.mean[b] += bt.held[b][h] / float64(ng)
			}
		}
	}
	return bts
}

// bootDiff prints, draw by draw, how much the held-out scores of a exceed
// those of b (two grids resampled on the same draws): each group's and the
// mean's 5%, 50% and 95% points, and in how many draws a is ahead. The
// table's own difference (tableDiff per group, then the mean's) is beside
// them.
func (e *evaluation) bootDiff(stdout io.Writer, title string, a, b bootTable, tableDiff []float64) {
	n := len(a.mean)
	fmt.Fprintf(stdout, "\n%s\n\n| held-out group | table | 5%% | median | 95%% | draws ahead |\n|---|---|---|---|---|---|\n", title)
	d := make([]float64, n)
	row := func(name string, td float64, at func(b int) float64) {
		ahead := 0
		for i := range n {
			d[i] = at(i)
			if d[i] > 0 {
				ahead++
			}
		}
		fmt.Fprintf(stdout, "| %s | %+.2f | %+.2f | %+.2f | %+.2f | %d of %d |\n", name, td, quantile(d, 0.05), quantile(d, 0.5), quantile(d, 0.95), ahead, n)
	}
	tm := 0.0
	for h, g := range e.groups {
		row(g.name, tableDiff[h], func(i int) float64 { return a.held[i][h] - b.held[i][h] })
		tm += tableDiff[h] / float64(len(e.groups))
	}
	row("**mean**", tm, func(i int) float64 { return a.mean[i] - b.mean[i] })
}

// drawSeries draws as many series as the group has, with replacement,
// again until the draw holds at least one window (a corpus without windows
// has no NAB score), and returns the draw and its window count.
func drawSeries(rng *rand.Rand, nwin []int) (draw []int, windows int) {
	draw = make([]int, len(nwin))
	for windows == 0 {
		for i := range draw {
			draw[i] = rng.IntN(len(nwin))
			windows += nwin[draw[i]]
		}
	}
	return draw, windows
}

// quantile is the empirical q-quantile of xs, which it sorts.
func quantile(xs []float64, q float64) float64 {
	slices.Sort(xs)
	return stat.Quantile(q, stat.Empirical, xs, nil)
}

// bootPrint prints the resampled table beside the table itself (table[h],
// tableMean), and how many resamples meet the bar: a mean of at
// least 70 and no held-out group below 60.
func (e *evaluation) bootPrint(stdout io.Writer, title string, bt bootTable, table []float64, tableMean float64) {
	n := len(bt.mean)
	fmt.Fprintf(stdout, "\n%s\n\n| held-out group | table | 5%% | median | 95%% |\n|---|---|---|---|---|\n", title)
	col := make([]float64, n)
	for h, g := range e.groups {
		for b := range n {
			col[b] = bt.held[b][h]
		}
		fmt.Fprintf(stdout, "| %s | %.2f | %.2f | %.2f | %.2f |\n", g.name, table[h], quantile(col, 0.05), quantile(col, 0.5), quantile(col, 0.95))
	}
	copy(col, bt.mean)
	fmt.Fprintf(stdout, "| **mean** | **%.2f** | %.2f | %.2f | %.2f |\n", tableMean, quantile(col, 0.05), quantile(col, 0.5), quantile(col, 0.95))
	met, meanMet := 0, 0
	for b := range n {
		if bt.mean[b] >= 70 {
			meanMet++
			if slices.Min(bt.held[b]) >= 60 {
				met++
			}
		}
	}
	fmt.Fprintf(stdout, "\nResamples with a mean of at least 70: %d of %d; with that and no group below 60 (the issue's bar): %d of %d.\n", meanMet, n, met, n)
}

// bootTitle says what the resampled table is, for nv settings.
func bootTitle(nv int) string {
	what := fmt.Sprintf("the whole protocol (one of %d settings and the threshold chosen on the other three groups)", nv)
	if nv == 1 {
		what = "the shipped constants fixed, the threshold chosen on the other three groups"
	}
	return strings.Join([]string{
		fmt.Sprintf("Bootstrap over series (%d resamples, seed %d): each group's series drawn with replacement and", bootResamples, bootSeed),
		what + " repeated on each draw;",
		"the held-out scores' 5%, 50% and 95% points. How far the table above would move had the groups held other series like theirs.",
	}, "\n")
}
