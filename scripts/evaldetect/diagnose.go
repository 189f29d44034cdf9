package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// diagnose prints where a group's NAB standard score is lost at one setting
// and threshold, per series: each window (found or missed, how far into it
// the first detection came, its best score) and the false alarms (how many,
// and where in the scored part of the series). The points are those of the
// group's normalised standard score: a window found at its first row is
// worth 1, a missed one -1, a false alarm -0.11 (less just after a window),
// and the group's score is 100 (sum + windows) / (2 windows). It returns
// that score, which is the scorer's at thr. steps[k], if given, is the
// step the detector learnt for series k (scoreSteps).
func diagnose(g *group, sc [][]float64, steps []int64, thr float64, stdout io.Writer) float64 {
	c := g.corpus
	pr := nabProfiles[0]
	unit := 100 / (2 * float64(c.nwin)) // points of the group score per unit of raw score
	var lostMiss, lostLate, lostFP, lostFPEarly float64
	fmt.Fprintf(stdout, "%s at %.3f: %d series, %d windows; one window is worth %.2f points, a false alarm about %.2f\n\n",
		g.name, thr, len(c.series), c.nwin, 2*unit, pr.fp*unit)
	fmt.Fprintf(stdout, "| series | step | rows (probation) | windows found | missed | late (points) | false alarms: first quarter, rest | points lost: missed, late, false |\n|---|---|---|---|---|---|---|---|\n")
	type row struct {
		name string
		lost float64
		line string
		wins []string
	}
	var rows []row
	for k, s := range c.series {
		scores := sc[k]
		step := "?"
		if k < len(steps) && steps[k] > 0 {
			step = fmt.Sprintf("%ds", steps[k])
		}
		var found, missed int
		var late, miss, fp float64
		var fpEarly, fpLate int
		var wins []string
		scored := len(scores) - s.probation
		for w, win := range s.wins {
			l, r := win[0], win[1] // a window wholly in probation is missed, as the scorer counts it
			first, maxSc := -1, 0.0
			for i := max(l, s.probation); i <= r; i++ {
				maxSc = math.Max(maxSc, scores[i])
				if first < 0 && scores[i] > thr {
					first = i
				}
			}
			W := float64(r - l + 1)
			if first < 0 {
				missed++
				miss += 2
				wins = append(wins, fmt.Sprintf("  window %d rows %d-%d (%.0f%% into the scored part): missed, best %.2f", w+1, l, r, 100*float64(l-s.probation)/float64(scored), maxSc))
				continue
			}
			found++
			_, v := s.worth(first, pr)
			late += 1 - v
			wins = append(wins, fmt.Sprintf("  window %d rows %d-%d (%.0f%% into the scored part): found %d rows in (%.0f%% of it), worth %.2f, best %.2f", w+1, l, r, 100*float64(l-s.probation)/float64(scored), first-l, 100*float64(first-l)/W, v, maxSc))
		}
		var fpRows []string
		for i := s.probation; i < len(scores); i++ {
			if scores[i] <= thr {
				continue
			}
			w, v := s.worth(i, pr)
			if w >= 0 {
				continue
			}
			cost := -v
			fp += cost
			if float64(i-s.probation) < 0.25*float64(scored) {
				fpEarly++
				lostFPEarly += cost * unit
			} else {
				fpLate++
			}
			if len(fpRows) < 12 {
				fpRows = append(fpRows, fmt.Sprintf("%d(%.2f)", i, scores[i]))
			}
		}
		if len(fpRows) > 0 {
			wins = append(wins, "  false alarms at rows (score): "+strings.Join(fpRows, " "))
		}
		lostMiss += miss * unit
		lostLate += late * unit
		lostFP += fp * unit
		rows = append(rows, row{
			name: s.name,
			lost: (miss + late + fp) * unit,
			line: fmt.Sprintf("| %s | %s | %d (%d) | %d/%d | %d | %.2f | %d, %d | %.2f, %.2f, %.2f |", s.name, step, len(scores), s.probation,
				found, len(s.wins), missed, late*unit, fpEarly, fpLate, miss*unit, late*unit, fp*unit),
			wins: wins,
		})
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].lost > rows[b].lost })
	for _, r := range rows {
		fmt.Fprintln(stdout, r.line)
	}
	total := 100 - lostMiss - lostLate - lostFP
	fmt.Fprintf(stdout, "\nPoints lost: missed windows %.2f, late detection %.2f, false alarms %.2f (%.2f of them in the first quarter of the scored rows); score %.2f\n\n",
		lostMiss, lostLate, lostFP, lostFPEarly, total)
	for _, r := range rows {
		if len(r.wins) > 0 {
			fmt.Fprintf(stdout, "%s\n%s\n", r.name, strings.Join(r.wins, "\n"))
		}
	}
	return total
}

// runDiagnose finds the group and the setting by name and diagnoses them.
func runDiagnose(groups []*group, gname, vname string, thr float64, stdout, stderr io.Writer) int {
	var g *group
	var names []string
	for _, gg := range groups {
		names = append(names, gg.name)
		if gg.name == gname {
			g = gg
		}
	}
	if g == nil {
		fmt.Fprintf(stderr, "evaldetect: --diagnose %q: no such group (want one of %s)\n", gname, strings.Join(names, ", "))
		return 2
	}
	for _, v := range variants() {
		if v.name == vname {
			sc, steps := scoreSteps(g, v.opts)
			diagnose(g, sc, steps, thr, stdout)
			return 0
		}
	}
	fmt.Fprintf(stderr, "evaldetect: --variant %q: no such setting (make eval-detect prints their names)\n", vname)
	return 2
}
