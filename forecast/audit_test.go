package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The audit of issue 12: series families an SRE meets that the engine was
// not tuned on (forecast/README.md, "Audit"), each at 5-minute steps with
// 3, 7 and 14 days of history, forecast 1 hour and 1 day ahead by Fit in
// its automatic mode, and properties that must hold for every one of them.

const auditStep = 300

// auditFamily makes a series of n 5-minute points from a seeded source.
type auditFamily struct {
	name string
	// gen fills v (len n); t[i] is the time of point i.
	gen func(r *rand.Rand, t []int64, v []float64)
	// max is the family's physical upper bound (0: none given).
	max float64
	// negative: the quantity can be negative (no 0 floor must apply).
	negative bool
	// trend: the family has a trend a forecast may follow out of the
	// history's range.
	trend bool
	// blip is the index (from the end, 1 = the last point) of a single
	// blip of size blipSize on an otherwise flat series, 0 for none.
	blip     int
	blipBase float64
	blipSize float64
	// blipUnjudged, if set, is why the blip property is not asserted (a
	// judgement call, README "Audit"); the other properties still are.
	blipUnjudged string
}

// daily is a smooth daily shape in [0, 1] peaking at 14:00 UTC.
func daily(t int64) float64 {
	return 0.5 + 0.5*math.Cos(2*math.Pi*(float64(t%86400)/86400-14.0/24))
}

func auditFamilies() []auditFamily {
	flat := func(level, noise float64) func(r *rand.Rand, t []int64, v []float64) {
		return func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = level + noise*r.NormFloat64()
			}
		}
	}
	blip := func(from int, size float64) auditFamily {
		return auditFamily{
			name: fmt.Sprintf("blip-%d-from-end", from),
			gen: func(r *rand.Rand, t []int64, v []float64) {
				flat(20, 0.5)(r, t, v)
				if from <= len(v) {
					v[len(v)-from] += size
				}
			},
			blip: from, blipBase: 20, blipSize: size,
		}
	}
	// A blip at the very last point cannot be told from the first point
	// of a new level: no backtest origin has seen it, and naive (the raw
	// last value) is a candidate on purpose (README, step 4). Whether the
	// forecast should follow it is the end-of-history burst question
	// (Twitter_volume_AAPL), worked on separately; here only the bounds,
	// order and band properties are asserted.
	lastBlip := blip(1, 1000)
	lastBlip.blipUnjudged = "a blip at the last point may be the first point of a new level (the end-of-history burst case, README Audit)"
	fams := []auditFamily{
		{name: "counter-resets", trend: true, gen: func(r *rand.Rand, t []int64, v []float64) {
			// bytes since boot: about 2e6 B per step, a reboot every
			// 1 to 3 days.
			c, next := 0.0, 288+r.IntN(576)
			for i := range v {
				if i == next {
					c, next = 0, i+288+r.IntN(576)
				}
				c += 2e6 * (0.5 + daily(t[i])) * (1 + 0.1*r.NormFloat64())
				v[i] = c
			}
		}},
		{name: "gc-sawtooth", gen: func(r *rand.Rand, t []int64, v []float64) {
			// heap in use: climbs 2e8 to 8e8 over 30 to 50 minutes, drops.
			h := 2e8
			for i := range v {
				h += 6e8 / float64(6+r.IntN(5))
				if h > 8e8 {
					h = 2e8 + 1e7*r.Float64()
				}
				v[i] = h
			}
		}},
		{name: "flat-rare-blips", gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = 5
				if r.Float64() < 0.002 {
					v[i] = 500
				}
			}
		}},
		{name: "step-stays", gen: func(r *rand.Rand, t []int64, v []float64) {
			// a flat line that steps once to a new level, a day before the end.
			for i := range v {
				v[i] = 10 + 0.2*r.NormFloat64()
				if i >= len(v)-288 {
					v[i] += 30
				}
			}
		}},
		{name: "step-and-back", gen: func(r *rand.Rand, t []int64, v []float64) {
			// steps up for 6 hours, a day before the end, and comes back.
			for i := range v {
				v[i] = 10 + 0.2*r.NormFloat64()
				if i >= len(v)-288 && i < len(v)-216 {
					v[i] += 30
				}
			}
		}},
		{name: "cpu-pinned-100", max: 100, gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = min(100, 97+2*daily(t[i])+1.5*math.Abs(r.NormFloat64()))
			}
		}},
		{name: "cpu-daily", max: 100, gen: func(r *rand.Rand, t []int64, v []float64) {
			// CloudWatch-like CPU utilisation: low, daily, noisy.
			for i := range v {
				v[i] = max(0, 3+12*daily(t[i])+2*r.NormFloat64())
			}
		}},
		{name: "bytes-1e12", gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = 1e12 * (1 + daily(t[i])) * math.Exp(0.2*r.NormFloat64())
			}
		}},
		{name: "latency-1e-6", gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = 1e-6 * (2 + daily(t[i])) * math.Exp(0.3*r.NormFloat64())
			}
		}},
		{name: "network-bursty", gen: func(r *rand.Rand, t []int64, v []float64) {
			// CloudWatch-like NetworkOut: daily base, heavy-tailed bursts.
			for i := range v {
				v[i] = 5e6 * (0.2 + daily(t[i])) * math.Exp(0.5*r.NormFloat64())
				if r.Float64() < 0.01 {
					v[i] *= 20
				}
			}
		}},
		{name: "gap-6h-middle", gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = 100 + 40*daily(t[i]) + 3*r.NormFloat64()
			}
			for i := len(v)/2 - 36; i < len(v)/2+36; i++ {
				v[i] = math.NaN()
			}
		}},
		{name: "gap-6h-end", gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = 100 + 40*daily(t[i]) + 3*r.NormFloat64()
			}
			for i := len(v) - 72; i < len(v); i++ {
				v[i] = math.NaN()
			}
		}},
		{name: "holiday-last-day", gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = 100 + 400*daily(t[i]) + 5*r.NormFloat64()
				if i >= len(v)-288 {
					v[i] = 100 + 5*r.NormFloat64()
				}
			}
		}},
		{name: "low-counts-0-3", gen: func(r *rand.Rand, t []int64, v []float64) {
			// requests per 5 minutes: Poisson with mean 0.5 to 1.5.
			for i := range v {
				lam, k, p := 0.5+daily(t[i]), 0, r.Float64()
				for q := math.Exp(-lam); p > q; k++ {
					p *= r.Float64()
				}
				v[i] = float64(min(k, 3))
			}
		}},
		{name: "temperature-celsius", negative: true, gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = -12 + 6*daily(t[i]) + 0.5*r.NormFloat64()
			}
		}},
		{name: "delta-signed", negative: true, gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = 50*(daily(t[i])-0.5) + 10*r.NormFloat64()
			}
		}},
		{name: "adx-cpc", gen: func(r *rand.Rand, t []int64, v []float64) {
			// ad-exchange cost per click: small, noisy, daily, some gaps.
			for i := range v {
				v[i] = 0.4 * (0.5 + daily(t[i])) * math.Exp(0.4*r.NormFloat64())
				if r.Float64() < 0.03 {
					v[i] = math.NaN()
				}
			}
		}},
		{name: "daily-jumpsup", gen: func(r *rand.Rand, t []int64, v []float64) {
			// NAB's art_daily_jumpsup: a daily pattern whose level jumps
			// by its own amplitude a day before the end, and stays.
			for i := range v {
				v[i] = 20 + 20*daily(t[i]) + r.NormFloat64()
				if i >= len(v)-288 {
					v[i] += 20
				}
			}
		}},
		{name: "daily-flatmiddle", gen: func(r *rand.Rand, t []int64, v []float64) {
			// NAB's art_daily_flatmiddle: the pattern stops for a day in
			// the middle of the history.
			for i := range v {
				v[i] = 20 + 20*daily(t[i]) + r.NormFloat64()
				if i >= len(v)/2-144 && i < len(v)/2+144 {
					v[i] = 20 + r.NormFloat64()
				}
			}
		}},
		{name: "spike-density-rising", gen: func(r *rand.Rand, t []int64, v []float64) {
			// NAB's art_increase_spike_density: spikes, denser lately.
			for i := range v {
				v[i] = 20 + r.NormFloat64()
				if r.Float64() < 0.002+0.05*float64(i)/float64(len(v)) {
					v[i] += 80
				}
			}
		}},
		{name: "dip-to-zero", gen: func(r *rand.Rand, t []int64, v []float64) {
			// a daily series with one scrape that read 0, an hour ago.
			for i := range v {
				v[i] = 100 + 400*daily(t[i]) + 10*r.NormFloat64()
			}
			v[len(v)-12] = 0
		}},
		{name: "step-down-stays", gen: func(r *rand.Rand, t []int64, v []float64) {
			for i := range v {
				v[i] = 40 + 0.5*r.NormFloat64()
				if i >= len(v)-288 {
					v[i] -= 30
				}
			}
		}},
		{name: "outage-zero-run", gen: func(r *rand.Rand, t []int64, v []float64) {
			// a daily series that read 0 for 12 hours (one run: an
			// outage, not intermittent demand), a day before the end.
			for i := range v {
				v[i] = 50 + 100*daily(t[i]) + 5*r.NormFloat64()
				if i >= len(v)-432 && i < len(v)-288 {
					v[i] = 0
				}
			}
		}},
		{name: "weekday-weekend", gen: func(r *rand.Rand, t []int64, v []float64) {
			// requests per 5 minutes: a daily peak, halved on weekends.
			for i := range v {
				w := 1.0
				if wd := (t[i]/86400 + 4) % 7; wd == 0 || wd == 6 {
					w = 0.5
				}
				v[i] = max(0, 1000*w*(0.2+daily(t[i]))+30*r.NormFloat64())
			}
		}},
		{name: "jittered-duplicates", gen: func(r *rand.Rand, t []int64, v []float64) {
			// scrapes jittered by up to ±20 s, some twice in one bin.
			for i := range v {
				t[i] += int64(r.IntN(41)) - 20
				if i > 0 && r.Float64() < 0.02 {
					t[i] = t[i-1] + 1
				}
				v[i] = 200 + 50*daily(t[i]) + 5*r.NormFloat64()
			}
		}},
		{name: "ramp-last-hours", trend: true, gen: func(r *rand.Rand, t []int64, v []float64) {
			// flat, then +60 over the last 6 hours.
			for i := range v {
				v[i] = 100 + r.NormFloat64()
				if k := i - (len(v) - 72); k >= 0 {
					v[i] += 60 * float64(k) / 72
				}
			}
		}},
		{name: "batch-on-off", gen: func(r *rand.Rand, t []int64, v []float64) {
			// two levels, alternating every 2 hours (a batch job).
			for i := range v {
				v[i] = 10 + r.NormFloat64()
				if (i/24)%2 == 1 {
					v[i] += 70
				}
			}
		}},
		blip(2016, 1000), // in the middle of a 14-day history, at the start of a 7-day one
		blip(144, 1000),  // half a day before the end
		blip(12, 1000),   // an hour before the end
		lastBlip,
	}
	return fams
}

// auditSeries makes family f's series of days days, seeded by seed.
func auditSeries(f auditFamily, days int, seed uint64) Series {
	n := days * 288
	r := rand.New(rand.NewPCG(seed, uint64(days)))
	s := Series{Times: make([]int64, n), Values: make([]float64, n)}
	t0 := int64(1_767_225_600) // 2026-01-01 00:00 UTC
	for i := range s.Times {
		s.Times[i] = t0 + int64(i)*auditStep
	}
	f.gen(r, s.Times, s.Values)
	return s
}

// histStats are the least, greatest and last finite values and whether
// every finite value is non-negative.
func histStats(v []float64) (lo, hi float64, nonNeg bool) {
	lo, hi, nonNeg = math.Inf(1), math.Inf(-1), true
	for _, x := range v {
		if math.IsNaN(x) {
			continue
		}
		lo, hi = min(lo, x), max(hi, x)
		nonNeg = nonNeg && x >= 0
	}
	return lo, hi, nonNeg
}

func TestAudit(t *testing.T) {
	histories, seeds := []int{3, 7, 14}, []uint64{12, 3, 5}
	if testing.Short() {
		histories, seeds = []int{3, 14}, seeds[:1]
	}
	for _, fam := range auditFamilies() {
		for _, days := range histories {
			for _, hz := range []int64{3600, 86400} {
				for _, seed := range seeds {
					name := fmt.Sprintf("%s/%dd/%s/seed%d", fam.name, days, map[int64]string{3600: "1h", 86400: "1d"}[hz], seed)
					t.Run(name, func(t *testing.T) {
						auditOne(t, fam, days, hz, seed)
					})
				}
			}
		}
	}
}

func auditOne(t *testing.T, fam auditFamily, days int, hz int64, seed uint64) {
	s := auditSeries(fam, days, seed)
	o := Options{HorizonSeconds: hz}
	if fam.max > 0 {
		o.Max = ptr(fam.max)
	}
	f, err := Fit(s, o)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, nonNeg := histStats(s.Values)
	rng := hi - lo
	desc := fmt.Sprintf("model %s seasons %v, history [%.4g, %.4g]", f.Model, f.Seasons, lo, hi)

	// Every value finite; Lower <= Mean <= Upper.
	for h := range f.Mean {
		if !finite(f.Mean[h]) || !finite(f.Lower[h]) || !finite(f.Upper[h]) {
			t.Fatalf("step %d: mean %v band [%v, %v] not finite (%s)", h, f.Mean[h], f.Lower[h], f.Upper[h], desc)
		}
		if !(f.Lower[h] <= f.Mean[h] && f.Mean[h] <= f.Upper[h]) {
			t.Errorf("step %d: lower %v, mean %v, upper %v out of order (%s)", h, f.Lower[h], f.Mean[h], f.Upper[h], desc)
			break
		}
	}
	// No quantile below 0 when the history is non-negative; no 0 floor
	// when it is negative by nature; nothing above the given max.
	switch {
	case nonNeg && f.Min != 0:
		t.Errorf("non-negative history, lower bound %v, want 0", f.Min)
	case fam.negative && !math.IsInf(f.Min, -1):
		t.Errorf("a quantity negative by nature got the lower bound %v", f.Min)
	}
	for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.99} {
		for h, v := range f.Quantile(q) {
			if !finite(v) || (nonNeg && v < 0) || (fam.max > 0 && v > fam.max) {
				t.Fatalf("quantile %v at step %d is %v (%s)", q, h, v, desc)
			}
		}
	}
	if fam.negative && fam.name == "temperature-celsius" {
		// all the history is below 0: so must the forecast be, not
		// floored at 0.
		for h, v := range f.Mean {
			if v >= 0 {
				t.Fatalf("step %d: mean %v of a series always below 0 (%s)", h, v, desc)
			}
		}
	}
	// The band usable by a capacity alert: its upper bound not beyond
	// max + 2 range, its lower not below min - 2 range (make eval's
	// absurd-band check).
	for h := range f.Mean {
		if f.Upper[h] > hi+2*rng || f.Lower[h] < lo-2*rng {
			t.Errorf("step %d: band [%.4g, %.4g] beyond twice the range of the history (%s)", h, f.Lower[h], f.Upper[h], desc)
			break
		}
	}
	// The mean within [min - range, max + range], unless the family has
	// a trend and the chosen model carries one. How that is told: the
	// generator says the family trends (only the counter does), and the
	// model chosen is one with a trend term (Holt-Winters' damped trend,
	// the regression's, or a combination of them); a flat model's drift
	// from its backtest's median error (interval.go) is not exempted.
	carries := fam.trend && (f.Model == ModelETS || f.Model == ModelRegression || f.Model == ModelCombo)
	if !carries {
		for h, v := range f.Mean {
			if v < lo-rng || v > hi+rng {
				t.Errorf("step %d: mean %.4g outside [min - range, max + range] = [%.4g, %.4g] (%s)", h, v, lo-rng, hi+rng, desc)
				break
			}
		}
	}
	// A single blip never raises the day-ahead mean above the pre-blip
	// level by more than 5% of the blip.
	if fam.blip > 0 && fam.blipUnjudged != "" {
		t.Skip(fam.blipUnjudged)
	}
	if fam.blip > 0 && fam.blip <= len(s.Values) {
		for h, v := range f.Mean {
			if v > fam.blipBase+0.05*fam.blipSize {
				t.Errorf("step %d: mean %.4g after a blip of %g on a level of %g (%s)", h, v, fam.blipSize, fam.blipBase, desc)
				break
			}
		}
	}
}
