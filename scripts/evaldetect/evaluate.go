package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fleetcast/fleetcast/detect"
)

// evaluation holds every knob setting's NAB scores per group, profile and
// threshold, and which thresholds each setting may be chosen at.
type evaluation struct {
	groups []*group
	vs     []variant
	thr    []float64
	res    []result
	// raw[v][g][s][j] is series s of group g's raw standard score at
	// setting v and threshold thr[j], nwin[g][s] its window count: what
	// the bootstrap resamples (bootstrap.go).
	raw  [][][][]float64
	nwin [][]int
	// calm[v][c][k][j]: false alarms per series-day of setting v on calm
	// series of kind calmKinds[c] sampled every calmSteps[k], at threshold
	// thr[j]. All kinds are measured and printed; only those in kinds
	// decide eligibility.
	calm     [][][3][]float64
	kinds    []int
	eligible [][]bool
	// fleet, if not nil, is the unlabelled fleet traces, and fleetDay[v][j]
	// setting v's alert events per series-day on them at threshold thr[j]
	// (printed, not checked); fleetShipped the shipped constants' scores
	// there, for the table of where their events fall.
	fleet        *fleetData
	fleetDay     [][]float64
	fleetShipped [][]float64
}

// evaluate scores every setting on every group and prints the tables of
// detect/README.md: leave one group out, then the defaults chosen on all
// four groups, then every setting; with fixed, also each setting's own
// leave-one-group-out figures (fixedTable).
//
// With against > 0 (and fewer than len(vs): run checks it), the protocol
// is also run among the first against settings (a grid without a trial's
// settings, which come last), and the two are compared draw by draw.
func evaluate(groups []*group, vs []variant, kinds []int, fleet *fleetData, scoresDir string, fixed bool, against int, stdout, stderr io.Writer) error {
	e := &evaluation{groups: groups, vs: vs, thr: thresholds(), kinds: kinds, fleet: fleet}
	e.scoreAll(stderr)
	e.checkCalm()
	e.scoreFleet()
	held, mean := e.leaveOneOut(stdout, fmt.Sprintf("Leave one group out, every knob: the threshold and one of %d settings (evidence per day or per\nobservation, the short level's rate per 5 minutes or per observation, the report margin, when an\nevent is over), chosen together on the other three groups (best mean standard score); the held-out group scored at that\nfixed threshold.", len(vs)), len(vs))
	nvs := []int{len(vs), 1}
	if against > 0 {
		nvs = append(nvs, against)
	}
	bts := e.bootstrap(e.raw, e.nwin, nvs, bootResamples, bootSeed)
	e.bootPrint(stdout, bootTitle(len(vs)), bts[0], held, mean)
	held1, mean1 := e.leaveOneOut(stdout, "Leave one group out, the shipped constants fixed: only the alert threshold chosen on the other\nthree groups. (The constants themselves were chosen on all four groups: not evidence.)", 1)
	e.bootPrint(stdout, bootTitle(1), bts[1], held1, mean1)
	if against > 0 {
		heldA, _ := e.leaveOneOut(stdout, fmt.Sprintf("Leave one group out among the first %d settings only (--against).", against), against)
		diff := make([]float64, len(held))
		for h := range held {
			diff[h] = held[h] - heldA[h]
		}
		e.bootDiff(stdout, fmt.Sprintf("The %d settings against the first %d, draw by draw on the same %d draws: how much more each held-out\ngroup scores with the whole grid.", len(vs), against, bootResamples), bts[0], bts[2], diff)
	}
	e.defaults(stdout)
	calmTable(stdout, e.vs[0].name, e.calm[0], e.thr, detect.Threshold, kinds)
	if e.fleet != nil {
		fleetTable(stdout, e.fleet, e.vs[0].name, e.fleetShipped, detect.Threshold)
	}
	e.settings(stdout)
	if fixed {
		e.fixedTable(stdout)
	}
	if scoresDir != "" {
		if err := writeScores(scoresDir, groups, vs[0].opts); err != nil {
			return err
		}
	}
	return nil
}

// scoreAll runs every setting on every group, reporting progress.
func (e *evaluation) scoreAll(stderr io.Writer) {
	e.res = make([]result, len(e.vs))
	e.raw = make([][][][]float64, len(e.vs))
	e.nwin = make([][]int, len(e.groups))
	for gi, g := range e.groups {
		for _, s := range g.corpus.series {
			e.nwin[gi] = append(e.nwin[gi], len(s.wins))
		}
	}
	start := time.Now()
	obs := 0
	for _, g := range e.groups {
		for _, s := range g.series {
			obs += len(s.Times)
		}
	}
	fmt.Fprintf(stderr, "eval-detect: %d knob settings x %d groups (%d observations each), %d thresholds\n", len(e.vs), len(e.groups), obs, len(e.thr))
	for v, vr := range e.vs {
		r := result{at: make([][3][]float64, len(e.groups)), best: make([][3]float64, len(e.groups))}
		e.raw[v] = make([][][]float64, len(e.groups))
		for gi, g := range e.groups {
			ev := g.corpus.events(score(g, vr.opts))
			for p := range nabProfiles {
				per, best := g.corpus.sweep(ev, p, e.thr)
				r.at[gi][p], r.best[gi][p] = g.corpus.normalise(per, p), nabNorm(best, g.corpus.nwin, p)
				if p == 0 {
					e.raw[v][gi] = per
				}
			}
		}
		e.res[v] = r
		el := time.Since(start)
		fmt.Fprintf(stderr, "eval-detect: [%d/%d] %s (%.0fs, about %.0fs left)\n", v+1, len(e.vs), vr.name,
			el.Seconds(), el.Seconds()/float64(v+1)*float64(len(e.vs)-v-1))
	}
}

// checkCalm makes settings that raise more than maxCalmAlarms false alarms
// per series-day on calm noise at a threshold not eligible at that
// threshold, whatever they score.
func (e *evaluation) checkCalm() {
	e.calm = make([][][3][]float64, len(e.vs))
	e.eligible = make([][]bool, len(e.vs))
	for v, vr := range e.vs {
		e.eligible[v] = make([]bool, len(e.thr))
		e.calm[v] = calmFigures(vr.opts, e.thr)
		for j := range e.thr {
			e.eligible[v][j] = true
		}
		for _, c := range e.kinds {
			for k := range calmSteps {
				for j, a := range e.calm[v][c][k] {
					if a > maxCalmAlarms {
						e.eligible[v][j] = false
					}
				}
			}
		}
	}
}

// scoreFleet measures every setting's alert events per series-day on the
// fleet traces at every threshold, if there are fleet traces.
func (e *evaluation) scoreFleet() {
	if e.fleet == nil {
		return
	}
	e.fleetDay = make([][]float64, len(e.vs))
	for v, vr := range e.vs {
		sc := e.fleet.scores(vr.opts)
		if v == 0 {
			e.fleetShipped = sc
		}
		e.fleetDay[v] = e.fleet.eventsPerDay(sc, e.thr)
	}
}

// choose returns the eligible variant (among the first nv) and threshold
// with the best mean standard score over the groups in use.
func (e *evaluation) choose(use []int, nv int) (int, int) {
	v, j, _ := e.chooseAmong(use, 0, nv)
	return v, j
}

// chooseAmong is choose over the settings from to to (exclusive); ok is
// false when none of them has an eligible threshold (then 0, 0).
func (e *evaluation) chooseAmong(use []int, from, to int) (v, j int, ok bool) {
	bv, bj, bs := 0, 0, math.Inf(-1)
	for v := from; v < to; v++ {
		for j := range e.thr {
			if !e.eligible[v][j] {
				continue
			}
			m := 0.0
			for _, gi := range use {
				m += e.res[v].at[gi][0][j]
			}
			if m /= float64(len(use)); m > bs {
				bv, bj, bs = v, j, m
			}
		}
	}
	return bv, bj, !math.IsInf(bs, -1)
}

// others is every group but h.
func (e *evaluation) others(h int) []int {
	var use []int
	for gi := range e.groups {
		if gi != h {
			use = append(use, gi)
		}
	}
	return use
}

// leaveOneOut prints the table that scores each group at the setting
// (among the first nv) and threshold chosen on the other three, and
// returns the held-out standard scores and their mean.
func (e *evaluation) leaveOneOut(stdout io.Writer, title string, nv int) (held []float64, mean0 float64) {
	fmt.Fprintf(stdout, "\n%s\n\n", title)
	fmt.Fprintf(stdout, "| held-out group | chosen on the other three | threshold | standard | low FP | low FN | (held-out best threshold, standard) |\n|---|---|---|---|---|---|---|\n")
	var mean [3]float64
	for h, g := range e.groups {
		v, j := e.choose(e.others(h), nv)
		r := e.res[v]
		fmt.Fprintf(stdout, "| %s | %s | %.3f | %.2f | %.2f | %.2f | (%.2f) |\n", g.name, e.vs[v].name, e.thr[j],
			r.at[h][0][j], r.at[h][1][j], r.at[h][2][j], r.best[h][0])
		for p := range mean {
			mean[p] += r.at[h][p][j] / float64(len(e.groups))
		}
		held = append(held, r.at[h][0][j])
	}
	fmt.Fprintf(stdout, "| **mean** | | | **%.2f** | **%.2f** | **%.2f** | |\n", mean[0], mean[1], mean[2])
	return held, mean[0]
}

// defaults prints the setting and threshold chosen on all four groups,
// whether they are the shipped ones, and their scores per group and on
// NAB's development half as one corpus.
func (e *evaluation) defaults(stdout io.Writer) {
	all := make([]int, len(e.groups))
	for i := range all {
		all[i] = i
	}
	v, j := e.choose(all, len(e.vs))
	fmt.Fprintf(stdout, "\nDefaults chosen on all four groups: %s, threshold %.3f (shipped: detect.Threshold = %.3f).\n\n", e.vs[v].name, e.thr[j], detect.Threshold)
	if v != 0 || math.Abs(e.thr[j]-detect.Threshold) > 1e-9 {
		fmt.Fprintf(stdout, "NOTE: the shipped constants are not the ones chosen here; the figures below are the chosen ones.\n\n")
	}
	fmt.Fprintf(stdout, "| group | standard | low FP | low FN | (best threshold, standard) |\n|---|---|---|---|---|\n")
	r := e.res[v]
	for gi, g := range e.groups {
		fmt.Fprintf(stdout, "| %s | %.2f | %.2f | %.2f | (%.2f) |\n", g.name, r.at[gi][0][j], r.at[gi][1][j], r.at[gi][2][j], r.best[gi][0])
	}
	var nab []*group
	for _, g := range e.groups {
		if g.name != "ms-anomaly" {
			nab = append(nab, g)
		}
	}
	c, sc := joinGroups(nab, e.vs[v].opts)
	ev := c.events(sc)
	var at [3][]float64
	var best [3]float64
	for p := range nabProfiles {
		at[p], best[p] = c.curve(ev, p, e.thr)
	}
	fmt.Fprintf(stdout, "| NAB development half (3 groups as one corpus) | %.2f | %.2f | %.2f | (%.2f) |\n", at[0][j], at[1][j], at[2][j], best[0])
}

// settings prints every setting at the threshold best for it on all four
// groups, with its calm-noise false alarms and each group's own best.
func (e *evaluation) settings(stdout io.Writer) {
	groups, thr := e.groups, e.thr
	fmt.Fprintf(stdout, "\nEvery setting: standard score at the threshold best for the mean of all four groups; false alarms\nper series-day on each kind of calm series checked at that threshold, at 1-minute, 5-minute and hourly steps (at most %.2f to be eligible);\nalert events per series-day on the unlabelled fleet traces at that threshold (printed, not checked; - without --fleet);\n(each group's own best score@threshold).\n\n| setting | threshold | %s | mean | calm false alarms/day | fleet events/day | (own best) |\n|---|---|%s---|---|---|---|\n",
		maxCalmAlarms, strings.Join(groupNames(groups), " | "), strings.Repeat("---|", len(groups)))
	for v, r := range e.res {
		j := chooseFor(r, len(groups), len(thr))
		row := fmt.Sprintf("| %s | %.3f |", e.vs[v].name, thr[j])
		m := 0.0
		for gi := range groups {
			row += fmt.Sprintf(" %.2f |", r.at[gi][0][j])
			m += r.at[gi][0][j] / float64(len(groups))
		}
		own := ""
		for gi := range groups {
			bj := 0
			for j := range thr {
				if r.at[gi][0][j] > r.at[gi][0][bj] {
					bj = j
				}
			}
			own += fmt.Sprintf(" %.1f@%.3f", r.at[gi][0][bj], thr[bj])
		}
		var calm []string
		for c := range calmKinds {
			cv := e.calm[v][c]
			calm = append(calm, fmt.Sprintf("%s %.3f %.3f %.3f", calmKinds[c], cv[0][j], cv[1][j], cv[2][j]))
		}
		fleet := "-"
		if e.fleetDay != nil {
			fleet = fmt.Sprintf("%.3f", e.fleetDay[v][j])
		}
		fmt.Fprintf(stdout, "%s %.2f | %s | %s | (%s) |\n", row, m, strings.Join(calm, "; "), fleet, strings.TrimSpace(own))
	}
}

// fixedTable prints, for each setting, what it would score held out if it
// were the shipped one: the setting fixed, only the threshold chosen on the
// other three groups (among its eligible thresholds), as the second table
// of leaveOneOut does for the shipped constants. This is the figure a
// decision to make a setting the default is judged by (--fixed).
func (e *evaluation) fixedTable(stdout io.Writer) {
	fmt.Fprintf(stdout, "\nEach setting fixed, only the threshold chosen on the other three groups: held-out standard score (threshold).\n\n| setting | %s | mean |\n|---|%s---|\n",
		strings.Join(groupNames(e.groups), " | "), strings.Repeat("---|", len(e.groups)))
	for v := range e.vs {
		row, mean := fmt.Sprintf("| %s |", e.vs[v].name), 0.0
		for h := range e.groups {
			_, j, ok := e.chooseAmong(e.others(h), v, v+1)
			if !ok {
				row += " not eligible |"
				mean = math.NaN()
				continue
			}
			sc := e.res[v].at[h][0][j]
			row += fmt.Sprintf(" %.2f (%.3f) |", sc, e.thr[j])
			mean += sc / float64(len(e.groups))
		}
		fmt.Fprintf(stdout, "%s **%.2f** |\n", row, mean)
	}
}

// calmTable prints one setting's false alarms per series-day on every kind
// of calm series at the threshold at (one of thr); calm[c][k][j] is kind c
// at step calmSteps[k] and threshold thr[j].
func calmTable(stdout io.Writer, name string, calm [][3][]float64, thr []float64, at float64, kinds []int) {
	j := slices.IndexFunc(thr, func(x float64) bool { return math.Abs(x-at) < 1e-9 })
	if j < 0 {
		return
	}
	fmt.Fprintf(stdout, "\nCalm series, %s at %.3f: false alarms per series-day (10 seeds; gated kinds marked *, at most %.2f to be eligible).\n\n| calm series | 1 minute | 5 minutes | hourly |\n|---|---|---|---|\n", name, thr[j], maxCalmAlarms)
	for c, kind := range calmKinds {
		if slices.Contains(kinds, c) {
			kind += " *"
		}
		fmt.Fprintf(stdout, "| %s | %.3f | %.3f | %.3f |\n", kind, calm[c][0][j], calm[c][1][j], calm[c][2][j])
	}
}

// calmOnly prints the calm table of every setting at threshold at, without
// the labelled data (--calm-only, --thr).
func calmOnly(vs []variant, kinds []int, fleet *fleetData, at float64, stdout io.Writer) {
	thr := []float64{at}
	for _, v := range vs {
		calmTable(stdout, v.name, calmFigures(v.opts, thr), thr, at, kinds)
		if fleet != nil {
			fleetTable(stdout, fleet, v.name, fleet.scores(v.opts), at)
		}
	}
}
