package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fleetcast/fleetcast/forecast"
	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

const backtestAbout = `Scores every model, and the automatic choice, by rolling-origin backtest on
each series of a long CSV file (series,timestamp,value). The last --folds
windows of --horizon each are held out in turn: every model is fitted on the
history before a window and scored on it. Prints, per model, the mean over
series and windows of sMAPE, MASE (scaled by the in-sample seasonal naive
error at one day, or at one step when the history is shorter) and the
coverage of the --level band, and how often the automatic choice picked each
model. With --plot DIR, writes one PNG per series of the latest window:
history, forecast, band and what happened.`

const backtestExample = `fleetcast backtest --input series.csv --horizon 48 --folds 3
fleetcast backtest --input nab.csv --horizon 1d --folds 4 --plot plots/`

func runBacktest(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backtest", backtestAbout, backtestExample, stderr)
	var ff fitFlags
	ff.register(&fitFlagsDefaults{}, fs)
	input := fs.String("input", "", "CSV file of series,timestamp,value to backtest (- for stdin)")
	plotDir := fs.String("plot", "", "directory to write one PNG per series into (created if missing)")
	quiet := fs.Bool("quiet", false, "print no progress")
	fs.Lookup("folds").Usage = "held-out windows per series, the latest first"
	fs.Lookup("folds").DefValue = "3"
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	folds := ff.folds
	if folds == 0 {
		folds = 3
	}
	ff.folds = 0 // the fits' own internal backtest stays automatic
	o, rules, err := ff.options()
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast backtest: %v\n", err)
		return 2
	}
	if *input == "" {
		fmt.Fprintf(stderr, "fleetcast backtest: --input is required: a CSV file of series,timestamp,value\n")
		return 2
	}
	series, err := readSeries(*input, os.Stdin)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast backtest: %v\n", err)
		return 1
	}
	if *plotDir != "" {
		if err := os.MkdirAll(*plotDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "fleetcast backtest: --plot: %v\n", err)
			return 1
		}
	}
	models := append([]string{"auto"}, forecast.Models()...)
	if o.Model != "" && o.Model != "auto" {
		models = []string{o.Model}
	}
	type job struct{ s, k int }
	jobs := make([]job, 0, len(series)*folds)
	for s := range series {
		for k := range folds {
			jobs = append(jobs, job{s, k})
		}
	}
	scores := make([][]forecast.Score, len(jobs)) // per job, per model
	chosen := make([]string, len(jobs))
	plots := make([]*btPlot, len(series))
	var prog *progress
	if !*quiet {
		prog = startProgress(stderr, "backtest", len(jobs))
		prog.unit = "windows"
	}
	start := time.Now()
	var mu sync.Mutex
	var firstErr error
	forEachFitter(len(jobs), ff.workers, func(fitter *forecast.Fitter, j int) {
		jb := jobs[j]
		s := series[jb.s]
		sc, ch, pl, err := backtestWindow(fitter, s, jb.k, o, forecast.EventsFor(rules, s.Name), models, *plotDir != "" && jb.k == 0)
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("series %q: %w", s.Name, err)
			}
			mu.Unlock()
		}
		scores[j], chosen[j] = sc, ch
		if pl != nil {
			plots[jb.s] = pl
		}
		if prog != nil {
			prog.done.Add(1)
		}
	})
	if prog != nil {
		prog.finish()
	}
	if firstErr != nil {
		fmt.Fprintf(stderr, "fleetcast backtest: %v (skipped that window)\n", firstErr)
	}

	// Report.
	fmt.Fprintf(stdout, "backtest: %d series, %d windows of %s each, level %g, in %s\n",
		len(series), folds, ff.horizon, o.Level, time.Since(start).Round(time.Millisecond))
	printScores(stdout, models, scores)
	if models[0] == "auto" {
		count := map[string]int{}
		for _, c := range chosen {
			if c != "" {
				count[c]++
			}
		}
		fmt.Fprintf(stdout, "auto chose: %s\n", countsList(count))
	}
	if *plotDir != "" {
		n := 0
		for i, p := range plots {
			if p == nil {
				continue
			}
			file := filepath.Join(*plotDir, safeName(series[i].Name)+".png")
			if err := p.save(file, series[i].Name); err != nil {
				fmt.Fprintf(stderr, "fleetcast backtest: plot %s: %v\n", file, err)
				return 1
			}
			n++
			fmt.Fprintf(stderr, "backtest: plot [%d/%d] %s\n", i+1, len(plots), file)
		}
		fmt.Fprintf(stdout, "plots: %d PNG files in %s\n", n, *plotDir)
	}
	return 0
}

// printScores prints each model's mean sMAPE, MASE and coverage over the
// windows it could be scored on (scores per window, per model).
func printScores(w io.Writer, models []string, scores [][]forecast.Score) {
	fmt.Fprintf(w, "%-14s %8s %8s %10s %8s\n", "model", "sMAPE", "MASE", "coverage", "windows")
	for mi, m := range models {
		var sm, ms, cv float64
		var nsm, nms, ncv int
		for _, sc := range scores {
			if sc == nil || !sc[mi].OK {
				continue
			}
			x := sc[mi]
			sm, nsm = sm+x.SMAPE, nsm+1
			if finiteF(x.MASE) {
				ms, nms = ms+x.MASE, nms+1
			}
			if finiteF(x.Coverage) {
				cv, ncv = cv+x.Coverage, ncv+1
			}
		}
		fmt.Fprintf(w, "%-14s %8.3f %8.3f %10.3f %8d\n", m, sm/float64(max(nsm, 1)), ms/float64(max(nms, 1)), cv/float64(max(ncv, 1)), nsm)
	}
}

// countsList is "a 2, b 5": the counts by name, names sorted.
func countsList(count map[string]int) string {
	names := make([]string, 0, len(count))
	for m := range count {
		names = append(names, m)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, m := range names {
		parts[i] = fmt.Sprintf("%s %d", m, count[m])
	}
	return strings.Join(parts, ", ")
}

// legendRoom sets the Y range to the data's with room above it, where a
// legend at the top sits without covering the data.
func legendRoom(p *plot.Plot, sets ...plotter.XYs) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, xy := range sets {
		for _, v := range xy {
			if finiteF(v.Y) {
				lo, hi = min(lo, v.Y), max(hi, v.Y)
			}
		}
	}
	if math.IsInf(lo, 1) {
		return
	}
	span := max(hi-lo, math.Abs(hi)*0.1, 1e-9)
	p.Y.Min, p.Y.Max = lo-0.05*span, hi+0.4*span
}

func finiteF(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// backtestWindow holds out window k (0 the latest) of s, fits every model on
// what precedes it and scores each on it.
func backtestWindow(fitter *forecast.Fitter, s seriescsv.Series, k int, o forecast.Options, events []forecast.Event, models []string, wantPlot bool) ([]forecast.Score, string, *btPlot, error) {
	h, err := forecast.SplitWindow(forecast.Series{Times: s.Times, Values: s.Values}, k, o)
	if err != nil {
		return nil, "", nil, err
	}
	out := make([]forecast.Score, len(models))
	chosen := ""
	var pl *btPlot
	for mi, m := range models {
		om := o
		om.Model = m
		om.Events = events
		if om.Horizon == 0 {
			// Forecast the window in the history's own steps.
			om.HorizonSeconds = h.Span
		}
		fc, err := fitter.Fit(h.History, om)
		if err != nil {
			return out, chosen, pl, err
		}
		if m == "auto" {
			chosen = fc.Model
		}
		out[mi] = h.Score(fc)
		if wantPlot && mi == 0 {
			pl = newBtPlot(h.History, fc, h.Truth.Times, h.Truth.Values, h.Span)
		}
	}
	return out, chosen, pl, nil
}

// btPlot is what one series' PNG shows.
type btPlot struct {
	hist, truth, mean, lower, upper plotter.XYs
	model                           string
	level                           float64
}

func newBtPlot(h forecast.Series, fc *forecast.Forecast, tt []int64, tv []float64, span int64) *btPlot {
	p := &btPlot{model: fc.Model, level: fc.Level}
	from := fc.Times[0] - 4*span
	t0 := float64(fc.Times[0])
	hours := func(t int64) float64 { return (float64(t) - t0) / 3600 }
	for i, t := range h.Times {
		if t >= from && finiteF(h.Values[i]) {
			p.hist = append(p.hist, plotter.XY{X: hours(t), Y: h.Values[i]})
		}
	}
	for i, t := range tt {
		if finiteF(tv[i]) {
			p.truth = append(p.truth, plotter.XY{X: hours(t), Y: tv[i]})
		}
	}
	for i, t := range fc.Times {
		x := hours(t)
		p.mean = append(p.mean, plotter.XY{X: x, Y: fc.Mean[i]})
		p.lower = append(p.lower, plotter.XY{X: x, Y: fc.Lower[i]})
		p.upper = append(p.upper, plotter.XY{X: x, Y: fc.Upper[i]})
	}
	return p
}

func (p *btPlot) save(file, name string) error {
	pl := plot.New()
	pl.Title.Text = fmt.Sprintf("%s — %s", name, p.model)
	pl.X.Label.Text = "hours from the forecast origin"
	pl.Y.Label.Text = "value"
	band := make(plotter.XYs, 0, 2*len(p.upper))
	band = append(band, p.upper...)
	for i := len(p.lower) - 1; i >= 0; i-- {
		band = append(band, p.lower[i])
	}
	if len(band) >= 3 {
		poly, err := plotter.NewPolygon(band)
		if err != nil {
			return err
		}
		poly.Color = color.RGBA{R: 180, G: 205, B: 240, A: 255}
		poly.LineStyle.Width = 0
		pl.Add(poly)
		pl.Legend.Add(fmt.Sprintf("%g%% band", 100*p.level), poly)
	}
	add := func(xy plotter.XYs, c color.Color, label string) error {
		if len(xy) == 0 {
			return nil
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color = c
		l.Width = vg.Points(1)
		pl.Add(l)
		pl.Legend.Add(label, l)
		return nil
	}
	if err := add(p.hist, color.Gray{Y: 60}, "history"); err != nil {
		return err
	}
	if err := add(p.truth, color.RGBA{R: 200, A: 255}, "actual"); err != nil {
		return err
	}
	if err := add(p.mean, color.RGBA{B: 200, G: 60, A: 255}, "forecast"); err != nil {
		return err
	}
	legendRoom(pl, p.hist, p.truth, p.lower, p.upper)
	pl.Legend.Top = true
	pl.Legend.Left = true
	return pl.Save(10*vg.Inch, 4*vg.Inch, file)
}

// safeName turns a series name into a file name.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	if b.Len() == 0 {
		return "series"
	}
	return b.String()
}
