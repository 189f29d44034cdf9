package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/forecast"
	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

const forecastAbout = `Forecasts every series of a long CSV file (series,timestamp,value; timestamps
as Unix seconds or RFC 3339) and writes series,timestamp,mean,lower,upper, one
row per series and future step. Each series is regularised onto its own
median step (or --step) and the forecast steps continue from its last
timestamp. Series are fitted in parallel, one worker per core.

--horizon is a number of steps, or a duration (1h, 90m, 1d) that each series
turns into its own number of steps (rounded up), for files that mix steps.
--events names a CSV file of known events with the header
name,start,end[,effect][,series]: start and end in Unix seconds or RFC 3339
(end exclusive), effect empty to learn it from past occurrences of the same
name or a number when known, series a glob on series names (empty: all).`

const forecastExample = `fleetcast forecast --input train.csv --horizon 48 --level 0.95 --output fc.csv
fleetcast forecast --input nab.csv --horizon 1h --level 0.8 --output fc.csv
fleetcast forecast --input cpu.csv --horizon 1d --season 1d,1w --events peaks.csv --model auto`

// fitFlags are the model flags that forecast and backtest share.
type fitFlags struct {
	horizon string
	level   float64
	model   string
	season  string
	step    string
	folds   int
	events  string
	workers int
	min     string
	max     string
}

func (ff *fitFlags) register(fsDefaults *fitFlagsDefaults, fs interface {
	StringVar(*string, string, string, string)
	Float64Var(*float64, string, float64, string)
	IntVar(*int, string, int, string)
}) {
	fs.StringVar(&ff.horizon, "horizon", fsDefaults.horizon, "how far ahead: a number of steps (48) or a duration (1h, 1d)")
	fs.Float64Var(&ff.level, "level", 0.8, "coverage of the [lower, upper] band, between 0 and 1")
	fs.StringVar(&ff.model, "model", "auto", "model: auto, "+strings.Join(forecast.Models(), ", "))
	fs.StringVar(&ff.season, "season", "", "seasonal periods as durations (1d,1w), or none; empty: detect from the data")
	fs.StringVar(&ff.step, "step", "", "regularise every series to this step (e.g. 5m); empty: each series' median step")
	fs.IntVar(&ff.folds, "folds", 0, "rolling origins of each fit's internal backtest; 0: automatic")
	fs.StringVar(&ff.events, "events", "", "CSV file of known events: name,start,end[,effect][,series]")
	fs.IntVar(&ff.workers, "workers", runtime.GOMAXPROCS(0), "series fitted in parallel")
	fs.StringVar(&ff.min, "min", "", "lower bound of every forecast (e.g. 0); empty: 0 for a series whose history is non-negative, else none; -inf: none")
	fs.StringVar(&ff.max, "max", "", "upper bound of every forecast (e.g. 100 for a percentage); empty: none")
}

// parseBound reads --min or --max: empty is nil, else a number or ±inf.
func parseBound(flag, v string) (*float64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) {
		return nil, fmt.Errorf("--%s=%q: want a number such as 0 or 100 (or -inf/+inf for none)", flag, v)
	}
	return &x, nil
}

type fitFlagsDefaults struct{ horizon string }

// options turns the flags into the forecast options shared by every
// series (events are added per series).
func (ff *fitFlags) options() (forecast.Options, []forecast.EventRule, error) {
	var o forecast.Options
	h := strings.TrimSpace(ff.horizon)
	if h == "" {
		return o, nil, errors.New("--horizon is required: a number of steps (48) or a duration (1h)")
	}
	if n, err := strconv.Atoi(h); err == nil {
		if n <= 0 {
			return o, nil, fmt.Errorf("--horizon=%q: want at least one step", h)
		}
		o.Horizon = n
	} else {
		d, err := model.ParseDuration(h)
		if err != nil || d <= 0 {
			return o, nil, fmt.Errorf("--horizon=%q: want a number of steps (48) or a duration such as 1h, 90m, 1d", h)
		}
		o.HorizonSeconds = int64((time.Duration(d) + time.Second - 1) / time.Second)
	}
	if !(ff.level > 0 && ff.level < 1) {
		return o, nil, fmt.Errorf("--level=%v: want a coverage between 0 and 1, e.g. 0.8", ff.level)
	}
	o.Level = ff.level
	m := strings.ToLower(strings.TrimSpace(ff.model))
	valid := m == "auto" || m == ""
	for _, name := range forecast.Models() {
		valid = valid || m == name
	}
	if !valid {
		return o, nil, fmt.Errorf("--model=%q: valid models are auto, %s", ff.model, strings.Join(forecast.Models(), ", "))
	}
	o.Model = m
	switch s := strings.TrimSpace(ff.season); s {
	case "":
	case "none":
		o.Seasons = []int64{}
	default:
		for _, part := range strings.Split(s, ",") {
			d, err := model.ParseDuration(strings.TrimSpace(part))
			if err != nil || time.Duration(d) < time.Second {
				return o, nil, fmt.Errorf("--season=%q: %q is not a duration such as 1d or 1w", s, part)
			}
			o.Seasons = append(o.Seasons, int64(time.Duration(d)/time.Second))
		}
	}
	if ff.step != "" {
		d, err := model.ParseDuration(ff.step)
		if err != nil || time.Duration(d) < time.Second {
			return o, nil, fmt.Errorf("--step=%q: want a duration such as 5m", ff.step)
		}
		o.Step = int64(time.Duration(d) / time.Second)
	}
	if ff.folds < 0 {
		return o, nil, fmt.Errorf("--folds=%d: want 0 (automatic) or more", ff.folds)
	}
	o.Folds = ff.folds
	var err error
	if o.Min, err = parseBound("min", ff.min); err != nil {
		return o, nil, err
	}
	if o.Max, err = parseBound("max", ff.max); err != nil {
		return o, nil, err
	}
	if o.Min != nil && o.Max != nil && !(*o.Min < *o.Max) {
		return o, nil, fmt.Errorf("--min=%s --max=%s: the lower bound must be below the upper", ff.min, ff.max)
	}
	if o.Min != nil && math.IsInf(*o.Min, 1) || o.Max != nil && math.IsInf(*o.Max, -1) {
		return o, nil, fmt.Errorf("--min=%q --max=%q: min cannot be +inf nor max -inf", ff.min, ff.max)
	}
	if ff.workers < 1 {
		return o, nil, fmt.Errorf("--workers=%d: want at least 1", ff.workers)
	}
	var rules []forecast.EventRule
	if ff.events != "" {
		f, err := os.Open(ff.events)
		if err != nil {
			return o, nil, fmt.Errorf("--events: %w", err)
		}
		rules, err = forecast.ReadEvents(bufio.NewReader(f), ff.events)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return o, nil, err
		}
	}
	return o, rules, nil
}

// readSeries reads a long CSV file ("-" for stdin).
func readSeries(path string, stdin io.Reader) ([]seriescsv.Series, error) {
	if path == "" {
		return nil, errors.New("--input is required: a CSV file of series,timestamp,value")
	}
	if path == "-" {
		return seriescsv.Read(bufio.NewReader(stdin), "stdin")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	ss, err := seriescsv.Read(bufio.NewReaderSize(f, 1<<16), path)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return ss, err
}

// progress reports how many of total items are done: on a terminal as one
// line rewritten in place, otherwise as a line every few seconds.
type progress struct {
	w     io.Writer
	what  string
	unit  string
	total int
	done  atomic.Int64
	tty   bool
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func startProgress(w io.Writer, what string, total int) *progress {
	p := &progress{w: w, what: what, total: total, tty: isTerminal(w), start: time.Now(), stop: make(chan struct{})}
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) print() {
	d := p.done.Load()
	pct := 100 * float64(d) / float64(max(p.total, 1))
	el := time.Since(p.start).Round(100 * time.Millisecond)
	unit := p.unit
	if unit == "" {
		unit = "series"
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s: %d/%d %s (%.0f%%) %s ", p.what, d, p.total, unit, pct, el)
	} else {
		fmt.Fprintf(p.w, "%s: %d/%d %s (%.0f%%) after %s\n", p.what, d, p.total, unit, pct, el)
	}
}

func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// fitResult is one series' forecast or why it failed.
type fitResult struct {
	fc  *forecast.Forecast
	err error
}

// fitAll fits every series with workers goroutines, each with its own
// Fitter, and returns the results in input order.
func fitAll(series []seriescsv.Series, o forecast.Options, rules []forecast.EventRule, workers int, prog *progress) []fitResult {
	out := make([]fitResult, len(series))
	forEachFitter(len(series), workers, func(fitter *forecast.Fitter, i int) {
		s := series[i]
		oi := o
		oi.Events = forecast.EventsFor(rules, s.Name)
		fc, err := fitter.Fit(forecast.Series{Times: s.Times, Values: s.Values}, oi)
		out[i] = fitResult{fc, err}
		if prog != nil {
			prog.done.Add(1)
		}
	})
	return out
}

func runForecast(args []string, stdout, stderr io.Writer) int {
	return runForecastIO(args, os.Stdin, stdout, stderr)
}

func runForecastIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("forecast", forecastAbout, forecastExample, stderr)
	var ff fitFlags
	ff.register(&fitFlagsDefaults{}, fs)
	input := fs.String("input", "", "CSV file of series,timestamp,value to forecast (- for stdin)")
	output := fs.String("output", "-", "CSV file to write series,timestamp,mean,lower,upper to (- for stdout)")
	quiet := fs.Bool("quiet", false, "print no progress")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	o, rules, err := ff.options()
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast forecast: %v\n", err)
		return 2
	}
	if *input == "" {
		fmt.Fprintf(stderr, "fleetcast forecast: --input is required: a CSV file of series,timestamp,value\n")
		return 2
	}
	series, err := readSeries(*input, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast forecast: %v\n", err)
		return 1
	}
	start := time.Now()
	var prog *progress
	if !*quiet {
		prog = startProgress(stderr, "forecast", len(series))
	}
	res := fitAll(series, o, rules, ff.workers, prog)
	if prog != nil {
		prog.finish()
	}
	elapsed := time.Since(start)

	var out io.Writer = stdout
	var file *os.File
	if *output != "-" && *output != "" {
		file, err = os.Create(*output)
		if err != nil {
			fmt.Fprintf(stderr, "fleetcast forecast: %v\n", err)
			return 1
		}
		out = file
	}
	bw := bufio.NewWriterSize(out, 1<<16)
	cw, err := seriescsv.NewWriter(bw, "series", "timestamp", "mean", "lower", "upper")
	failed := 0
	chosen := map[string]int{}
	for i, r := range res {
		if err != nil {
			break
		}
		if r.err != nil {
			failed++
			fmt.Fprintf(stderr, "fleetcast forecast: series %q: %v\n", series[i].Name, r.err)
			continue
		}
		chosen[r.fc.Model]++
		for h, t := range r.fc.Times {
			if err = cw.Row(series[i].Name, t, r.fc.Mean[h], r.fc.Lower[h], r.fc.Upper[h]); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = cw.Flush()
	}
	if err == nil {
		err = bw.Flush()
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast forecast: write %s: %v\n", *output, err)
		return 1
	}
	if !*quiet {
		fmt.Fprintf(stderr, "forecast: %d series in %s (%.0f series/s); models: %s\n",
			len(series)-failed, elapsed.Round(time.Millisecond), float64(len(series))/elapsed.Seconds(), countsList(chosen))
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "fleetcast forecast: %d of %d series could not be forecast\n", failed, len(series))
		return 1
	}
	return 0
}
