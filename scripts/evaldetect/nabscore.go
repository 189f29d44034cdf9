package main

import (
	"math"
	"sort"
)

// This file is a port of ../shared/eval/nab_score.py (NAB's scoring), so
// that a threshold can be chosen on some groups and applied to another
// without writing a file per candidate. main_test.go checks it on a small
// hand-computed case; detect/README.md records that it reproduces the Python
// scorer's figures on whole files.

// nabProfile is one of NAB's cost profiles.
type nabProfile struct {
	name       string
	tp, fp, fn float64
}

var nabProfiles = [3]nabProfile{
	{"standard", 1, 0.11, 1},
	{"low_fp", 1, 0.22, 1},
	{"low_fn", 1, 0.11, 2},
}

// nabEvent is one scored row after probation.
type nabEvent struct {
	score  float64
	series int        // index of its series in the corpus
	win    int        // window id, -1 outside every window
	val    [3]float64 // what a detection here is worth, per profile
}

// nabCorpus is a group of series prepared for scoring: the windows and the
// worth of a detection at every row are fixed, only the scores vary.
type nabCorpus struct {
	nwin int
	// rows[s][i] is the event template of row i of series s (nil before the
	// end of probation); order[s] maps the detector's row order to the
	// scorer's (sorted by time, then score, as the Python scorer sorts).
	series []nabSeries
}

type nabSeries struct {
	name      string
	times     []int64
	probation int
	wins      [][2]int // row index ranges, inclusive
	winBase   int      // id of the first window
}

func newNABCorpus(names []string, times [][]int64, windows map[string][][2]float64) *nabCorpus {
	c := &nabCorpus{}
	for k, name := range names {
		ts := times[k]
		s := nabSeries{name: name, times: ts, probation: min(int(0.15*float64(len(ts))), 750), winBase: c.nwin}
		for _, w := range windows[name] {
			left := sort.Search(len(ts), func(i int) bool { return float64(ts[i]) >= w[0] })
			right := sort.Search(len(ts), func(i int) bool { return float64(ts[i]) > w[1] }) - 1
			if left >= len(ts) || right < 0 || right < left {
				continue
			}
			s.wins = append(s.wins, [2]int{left, right})
			c.nwin++
		}
		c.series = append(c.series, s)
	}
	return c
}

// worth returns the window row i of s falls in (-1 outside every window)
// and what a detection there is worth under profile pr: inside a window,
// more the earlier it comes; outside, a false alarm's cost, less just after
// a window.
func (s *nabSeries) worth(i int, pr nabProfile) (win int, v float64) {
	var prev *[2]int
	for w := range s.wins {
		if s.wins[w][0] <= i && i <= s.wins[w][1] {
			l, r := s.wins[w][0], s.wins[w][1]
			W := float64(r - l + 1)
			return w, pr.tp * nabS(-float64(r-i+1)/W) / nabS(-1)
		}
		if s.wins[w][1] < i {
			prev = &s.wins[w]
		}
	}
	if prev == nil {
		return -1, -pr.fp
	}
	W := float64(prev[1] - prev[0] + 1)
	return -1, pr.fp * nabS(math.Abs(float64(i-prev[1]))/math.Max(W-1, 1))
}

func nabS(y float64) float64 {
	if y > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*y)) - 1
}

// events turns one score per row (in time order, one slice per series) into
// scorer events. Rows with equal times are ordered by score, as the Python
// scorer's sort does.
func (c *nabCorpus) events(scores [][]float64) []nabEvent {
	var ev []nabEvent
	for k, s := range c.series {
		sc := scores[k]
		idx := make([]int, len(sc))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			ia, ib := idx[a], idx[b]
			if s.times[ia] != s.times[ib] {
				return s.times[ia] < s.times[ib]
			}
			return sc[ia] < sc[ib]
		})
		for i := s.probation; i < len(idx); i++ {
			e := nabEvent{score: sc[idx[i]], series: k, win: -1}
			for p, pr := range nabProfiles {
				var w int
				w, e.val[p] = s.worth(i, pr)
				if w >= 0 {
					e.win = s.winBase + w
				}
			}
			ev = append(ev, e)
		}
	}
	sort.SliceStable(ev, func(a, b int) bool { return ev[a].score > ev[b].score })
	return ev
}

// curve returns the normalised score of profile p when every row scoring
// above thr[j] is a detection, for each threshold (ascending), and the
// best over all distinct scores as the Python scorer sweeps it.
func (c *nabCorpus) curve(ev []nabEvent, p int, thr []float64) (at []float64, best float64) {
	per, best := c.sweep(ev, p, thr)
	return c.normalise(per, p), nabNorm(best, c.nwin, p)
}

// normalise sums the series' raw scores at each threshold (per[s][j], as
// sweep returns them) and normalises the corpus' sum.
func (c *nabCorpus) normalise(per [][]float64, p int) []float64 {
	if len(per) == 0 {
		return nil
	}
	at := make([]float64, len(per[0]))
	for j := range at {
		raw := 0.0
		for s := range per {
			raw += per[s][j]
		}
		at[j] = nabNorm(raw, c.nwin, p)
	}
	return at
}

// nabNorm turns a raw score of a corpus with nwin windows into NAB's
// normalised one: 0 for detecting nothing, 100 for every window at its
// start and no false alarm. NaN without windows.
func nabNorm(raw float64, nwin, p int) float64 {
	if nwin == 0 {
		return math.NaN()
	}
	pr := nabProfiles[p]
	null := -pr.fn * float64(nwin)
	return 100 * (raw - null) / (pr.tp*float64(nwin) - null)
}

// sweep scores profile p's detections in one pass over the events (sorted
// by score, highest first). per[s][j] is series s's raw score when every
// row above thr[j] (ascending) is a detection: a window found is worth its
// best detection, a window missed costs fn, a false alarm its cost. Raw
// scores add up over the series of a corpus, so a resample of its series
// is scored by summing rows (bootstrap.go). best is the corpus' best raw
// score over all distinct scores as thresholds, as the Python scorer
// sweeps it.
func (c *nabCorpus) sweep(ev []nabEvent, p int, thr []float64) (per [][]float64, best float64) {
	pr := nabProfiles[p]
	ns := len(c.series)
	bestWin := make([]float64, c.nwin)
	hit := make([]bool, c.nwin)
	// Per series and, for the sweep over every score, in total.
	win, fp, nhit := make([]float64, ns), make([]float64, ns), make([]int, ns)
	totWin, totFP, totHit := 0.0, 0.0, 0
	add := func(e nabEvent) {
		v := e.val[p]
		switch {
		case e.win < 0:
			fp[e.series] += v
			totFP += v
		case !hit[e.win]:
			hit[e.win], bestWin[e.win] = true, v
			win[e.series] += v
			totWin += v
			nhit[e.series]++
			totHit++
		case v > bestWin[e.win]:
			win[e.series] += v - bestWin[e.win]
			totWin += v - bestWin[e.win]
			bestWin[e.win] = v
		}
	}
	total := func() float64 { return totWin - pr.fn*float64(c.nwin-totHit) + totFP }
	best = total()
	for i := 0; i < len(ev); {
		t := ev[i].score
		for i < len(ev) && ev[i].score == t {
			add(ev[i])
			i++
		}
		best = math.Max(best, total())
	}
	// Fixed thresholds: rows strictly above thr are detections.
	clear(hit)
	clear(bestWin)
	clear(win)
	clear(fp)
	clear(nhit)
	per = make([][]float64, ns)
	for s := range per {
		per[s] = make([]float64, len(thr))
	}
	i := 0
	for j := len(thr) - 1; j >= 0; j-- {
		for i < len(ev) && ev[i].score > thr[j] {
			add(ev[i])
			i++
		}
		for s, ser := range c.series {
			per[s][j] = win[s] - pr.fn*float64(len(ser.wins)-nhit[s]) + fp[s]
		}
	}
	return per, best
}
