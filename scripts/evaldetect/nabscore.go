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
	score float64
	win   int        // window id, -1 outside every window
	val   [3]float64 // what a detection here is worth, per profile
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
			e := nabEvent{score: sc[idx[i]], win: -1}
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
	at, best = c.rawCurve(ev, p, thr)
	for j := range at {
		at[j] = nabNorm(at[j], c.nwin, p)
	}
	return at, nabNorm(best, c.nwin, p)
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

// seriesRaw returns each series' raw score of profile p at each threshold
// (ascending), the series scored one by one: raw scores add up over the
// series of a corpus, so a resample of its series is scored by summing
// its rows (bootstrap.go).
func (c *nabCorpus) seriesRaw(scores [][]float64, p int, thr []float64) [][]float64 {
	out := make([][]float64, len(c.series))
	for k, s := range c.series {
		s.winBase = 0
		one := &nabCorpus{nwin: len(s.wins), series: []nabSeries{s}}
		out[k], _ = one.rawCurve(one.events(scores[k:k+1]), p, thr)
	}
	return out
}

// rawCurve is curve before normalisation.
func (c *nabCorpus) rawCurve(ev []nabEvent, p int, thr []float64) (at []float64, best float64) {
	pr := nabProfiles[p]
	bestWin := make([]float64, c.nwin)
	hit := make([]bool, c.nwin)
	nhit := 0
	fpSum, winSum := 0.0, 0.0
	score := func() float64 { return winSum - pr.fn*float64(c.nwin-nhit) + fpSum }
	add := func(e nabEvent) {
		v := e.val[p]
		if e.win < 0 {
			fpSum += v
			return
		}
		if !hit[e.win] {
			hit[e.win], bestWin[e.win] = true, v
			winSum += v
			nhit++
		} else if v > bestWin[e.win] {
			winSum += v - bestWin[e.win]
			bestWin[e.win] = v
		}
	}
	bestRaw := score()
	for i := 0; i < len(ev); {
		t := ev[i].score
		for i < len(ev) && ev[i].score == t {
			add(ev[i])
			i++
		}
		bestRaw = math.Max(bestRaw, score())
	}
	// Fixed thresholds: rows strictly above thr are detections.
	at = make([]float64, len(thr))
	for k := range hit {
		hit[k], bestWin[k] = false, 0
	}
	nhit, fpSum, winSum = 0, 0, 0
	i := 0
	for j := len(thr) - 1; j >= 0; j-- {
		for i < len(ev) && ev[i].score > thr[j] {
			add(ev[i])
			i++
		}
		at[j] = score()
	}
	return at, bestRaw
}
