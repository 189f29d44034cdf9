package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/fleetcast/fleetcast/forecast"
)

const benchForecastAbout = `Times the forecast engine on the reference workload: 14 days at 5-minute
steps (4,032 points) with a trend, a daily and a weekly pattern and noise,
forecast 24 hours (288 steps) ahead. For each model alone and for the
automatic choice it prints the CPU time of one fit on one core (process CPU
time, so other load on the machine does not inflate it), the wall time, and
the memory allocated per fit with a reused Fitter (beyond the forecast's
own slices) and with a fresh one. Then it fits --series such series on all
cores and prints series per second and the time 10,000 would take.`

func runBenchForecast(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench forecast", benchForecastAbout, "fleetcast bench forecast --fits 200 --series 2000", stderr)
	fits := fs.Int("fits", 200, "fits per model for the single-core timings")
	nSeries := fs.Int("series", 2000, "series for the all-cores throughput")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *fits < 1 || *nSeries < 1 {
		fmt.Fprintln(stderr, "fleetcast bench forecast: --fits and --series must be at least 1")
		return 2
	}
	const n, H = 4032, 288
	series := make([]forecast.Series, 16)
	for i := range series {
		series[i] = benchSeries(n, uint64(i+1))
	}
	fmt.Fprintf(stdout, "workload: %d points at 5-minute steps (14 days, daily+weekly), horizon %d steps (24 h); GOMAXPROCS %d\n", n, H, runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "%-14s %16s %12s %16s %14s %14s\n", "model", "CPU ms/fit (med)", "wall ms/fit", "alloc B/fit", "allocs/fit", "fresh B/fit")
	out := int64(4*H*8 + 2*8) // the forecast's Times, Mean, Lower, Upper and Seasons
	runtime.LockOSThread()
	for _, m := range append([]string{"auto"}, forecast.Models()...) {
		o := forecast.Options{Horizon: H, Level: 0.8, Model: m}
		var w forecast.Fitter
		chosen := map[string]int{}
		for _, s := range series { // warm the scratch space
			if fc, err := w.Fit(s, o); err == nil {
				chosen[fc.Model]++
			}
		}
		runtime.GC()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		// Rounds of fits; the fastest round is the cost without other load
		// on the machine, as go test -bench users take the minimum.
		const rounds = 5
		per := max(1, *fits/rounds)
		cpu, wall := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
		var cpus []time.Duration
		for r := range rounds {
			cpu0, wall0 := cpuTime(), time.Now()
			for i := range per {
				if _, err := w.Fit(series[(r*per+i)%len(series)], o); err != nil {
					fmt.Fprintf(stderr, "fleetcast bench forecast: %s: %v\n", m, err)
					return 1
				}
			}
			c, wl := cpuTime()-cpu0, time.Since(wall0)
			cpus = append(cpus, c)
			cpu, wall = min(cpu, c), min(wall, wl)
		}
		*fits = per * rounds
		runtime.ReadMemStats(&ms1)
		sort.Slice(cpus, func(a, b int) bool { return cpus[a] < cpus[b] })
		medCPU := cpus[len(cpus)/2]
		bytes := int64(ms1.TotalAlloc-ms0.TotalAlloc) / int64(*fits)
		allocs := float64(ms1.Mallocs-ms0.Mallocs) / float64(*fits)
		// A fresh Fitter per fit, as forecast.Fit does.
		runtime.ReadMemStats(&ms0)
		for i := range 10 {
			if _, err := forecast.Fit(series[i%len(series)], o); err != nil {
				return 1
			}
		}
		runtime.ReadMemStats(&ms1)
		fresh := int64(ms1.TotalAlloc-ms0.TotalAlloc) / 10
		cpuMs := "n/a"
		if cpu >= 0 {
			cpuMs = fmt.Sprintf("%.2f (%.2f)", cpu.Seconds()*1000/float64(per), medCPU.Seconds()*1000/float64(per))
		}
		fmt.Fprintf(stdout, "%-14s %16s %12.2f %16s %14.1f %14d\n", m, cpuMs, wall.Seconds()*1000/float64(per),
			fmt.Sprintf("%d+%d", out, bytes-out), allocs, fresh)
		if m == "auto" {
			fmt.Fprintf(stdout, "%-14s (auto chose %v on the 16 warm-up series)\n", "", chosen)
		}
	}
	runtime.UnlockOSThread()

	// Throughput on all cores.
	workers := runtime.GOMAXPROCS(0)
	cpu0, start := cpuTime(), time.Now()
	o := forecast.Options{Horizon: H, Level: 0.8}
	forEachFitter(*nSeries, workers, func(w *forecast.Fitter, i int) {
		_, _ = w.Fit(series[i%len(series)], o)
	})
	el, cpu := time.Since(start), cpuTime()-cpu0
	rate := float64(*nSeries) / el.Seconds()
	fmt.Fprintf(stdout, "all cores: %d series (auto) in %s on %d workers: %.0f series/s wall, %.2f ms CPU per series; 10,000 series: %.1f s\n",
		*nSeries, el.Round(time.Millisecond), workers, rate, cpu.Seconds()*1000/float64(*nSeries), 10000/rate)
	if _, err := exec.LookPath("Rscript"); err != nil {
		fmt.Fprintln(stdout, "R forecast::ets: not measured (Rscript not found; apt-get install r-cran-forecast)")
	} else {
		fmt.Fprintln(stdout, "R forecast::ets: Rscript found; time it with ../shared/eval/r_baselines.R on the same series (not timed here)")
	}
	return 0
}

// cpuTime is the process's user+system CPU time (-1 where unknown).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSeries is the reference workload: a level, a trend of 2 a day, a
// daily sine with a harmonic, weekends 8 lower, Gaussian noise of sd 2.
func benchSeries(n int, seed uint64) forecast.Series {
	r := rand.New(rand.NewPCG(seed, 1))
	s := forecast.Series{Times: make([]int64, n), Values: make([]float64, n)}
	t0 := int64(1_700_006_400)
	for i := range n {
		t := t0 + int64(i)*300
		day := float64(t%86400) / 86400
		v := 50 + 2*float64(t-t0)/86400 + 10*math.Sin(2*math.Pi*day) + 4*math.Cos(4*math.Pi*day)
		if wd := (t/86400 + 4) % 7; wd == 0 || wd == 6 {
			v -= 8
		}
		s.Times[i], s.Values[i] = t, v+2*r.NormFloat64()
	}
	return s
}
