// Command evaldetect measures fleetcast's anomaly detector the way
// detect/README.md reports it (make eval-detect): NAB's scoring on four
// groups of labelled series (NAB's realKnownCause, realTweets and
// realTraffic, and Microsoft's cloud-monitoring set), with every knob,
// the alert threshold included, chosen on three groups and scored on the
// fourth (leave one group out), then the shipped defaults chosen on all four.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetcast/fleetcast/detect"
	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type group struct {
	name   string
	series []seriescsv.Series
	corpus *nabCorpus
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evaldetect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nabDir := fs.String("nab", "../shared/data/nab", "folder with NAB's train.csv, test.csv and anomaly_windows.json")
	msDir := fs.String("ms", "../shared/data/ms-anomaly", "folder with ms-anomaly's data.csv and anomaly_windows.json")
	scoresDir := fs.String("scores", "", "if set, write the shipped defaults' scores per group here (series,timestamp,score), to check with nab_score.py")
	diag := fs.String("diagnose", "", "print where this group's score is lost (per series: windows found, missed, how late; false alarms) at --variant and --thr, instead of the tables")
	diagVar := fs.String("variant", "shipped constants", "with --diagnose: the setting, by the name make eval-detect prints")
	diagThr := fs.Float64("thr", detect.Threshold, "with --diagnose or --calm-only: the alert threshold")
	calm := fs.String("calm", "seasonal,white", "the kinds of calm series a setting must stay quiet on to be eligible (seasonal, white, walk, lognormal, bursty); all five are measured and printed")
	calmOnlyFlag := fs.String("calm-only", "", "print only the calm-series table at --thr (the shipped threshold unless given) of the settings whose name contains this (\"all\": every setting), without the labelled data")
	fleetPath := fs.String("fleet", "../shared/data/cluster/full.csv", "unlabelled fleet traces (series,timestamp,value) on which each setting's alert events per series-day are printed, not checked; \"\" to skip")
	fixedFlag := fs.String("fixed", "", "score only the shipped constants and the settings whose name contains this, and print also each one's leave-one-group-out figures with the setting fixed (only the threshold chosen on the other three)")
	against := fs.Int("against", 0, "also run the protocol among the first N settings only (the grid before a trial's settings, which are appended last) and print, draw by draw on the same resamples, how much the whole grid's held-out scores exceed theirs")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	kinds, err := parseKinds(*calm)
	if err != nil {
		fmt.Fprintf(stderr, "evaldetect: --calm: %v\n", err)
		return 2
	}
	var fleet *fleetData
	if *fleetPath != "" && *diag == "" {
		if fleet, err = loadFleet(*fleetPath); err != nil {
			fmt.Fprintf(stderr, "evaldetect: %v\n", err)
			return 1
		}
	}
	if *calmOnlyFlag != "" {
		vs := variants()
		if *calmOnlyFlag != "all" {
			vs = named(vs, *calmOnlyFlag)
		}
		if len(vs) == 0 {
			fmt.Fprintf(stderr, "evaldetect: --calm-only: no setting's name contains %q\n", *calmOnlyFlag)
			return 2
		}
		calmOnly(vs, kinds, fleet, *diagThr, stdout)
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	groups, err := loadGroups(*nabDir, *msDir)
	if err != nil {
		log.Error("load data", "err", err)
		return 1
	}
	if *diag != "" {
		return runDiagnose(groups, *diag, *diagVar, *diagThr, stdout, stderr)
	}
	vs := variants()
	if *fixedFlag != "" {
		sel := append(vs[:1:1], named(vs[1:], *fixedFlag)...) // the shipped constants first
		if len(sel) == 1 {
			fmt.Fprintf(stderr, "evaldetect: --fixed: no setting's name contains %q\n", *fixedFlag)
			return 2
		}
		vs = sel
	}
	if *against < 0 || *against >= len(vs) {
		fmt.Fprintf(stderr, "evaldetect: --against %d: want 0 (off) or a number of settings from 1 to %d, fewer than the %d scored\n", *against, len(vs)-1, len(vs))
		return 2
	}
	if err := evaluate(groups, vs, kinds, fleet, *scoresDir, *fixedFlag != "", *against, stdout, stderr); err != nil {
		log.Error("evaluate", "err", err)
		return 1
	}
	return 0
}

func readCSV(path string) ([]seriescsv.Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := seriescsv.ReadKeepRepeats(f, path)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", path, cerr)
	}
	return s, err
}

func readWindows(path string) (map[string][][2]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var w map[string][][2]float64
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%s: want {series: [[start, end], ...]} in Unix seconds: %w", path, err)
	}
	return w, nil
}

// loadGroups reads NAB (train then test rows of each series) and ms-anomaly
// and splits them into the four groups by the series' folder.
func loadGroups(nabDir, msDir string) ([]*group, error) {
	train, err := readCSV(filepath.Join(nabDir, "train.csv"))
	if err != nil {
		return nil, err
	}
	test, err := readCSV(filepath.Join(nabDir, "test.csv"))
	if err != nil {
		return nil, err
	}
	tail := map[string]seriescsv.Series{}
	for _, s := range test {
		tail[s.Name] = s
	}
	ms, err := readCSV(filepath.Join(msDir, "data.csv"))
	if err != nil {
		return nil, err
	}
	nabWin, err := readWindows(filepath.Join(nabDir, "anomaly_windows.json"))
	if err != nil {
		return nil, err
	}
	msWin, err := readWindows(filepath.Join(msDir, "anomaly_windows.json"))
	if err != nil {
		return nil, err
	}
	byName := map[string]*group{}
	var groups []*group
	add := func(gname string, s seriescsv.Series) {
		g := byName[gname]
		if g == nil {
			g = &group{name: gname}
			byName[gname] = g
			groups = append(groups, g)
		}
		g.series = append(g.series, s)
	}
	for _, s := range train {
		if t, ok := tail[s.Name]; ok {
			s.Times = append(s.Times, t.Times...)
			s.Values = append(s.Values, t.Values...)
		}
		gname, _, ok := strings.Cut(s.Name, "/")
		if !ok {
			return nil, fmt.Errorf("%s: series %q has no group folder (want e.g. realTweets/...)", nabDir, s.Name)
		}
		add(gname, s)
	}
	for _, s := range ms {
		add("ms-anomaly", s)
	}
	for _, g := range groups {
		win := nabWin
		if g.name == "ms-anomaly" {
			win = msWin
		}
		names := make([]string, len(g.series))
		times := make([][]int64, len(g.series))
		for i, s := range g.series {
			names[i], times[i] = s.Name, s.Times
		}
		g.corpus = newNABCorpus(names, times, win)
		if g.corpus.nwin == 0 {
			return nil, fmt.Errorf("group %s: no anomaly windows match its series", g.name)
		}
	}
	if len(groups) != 4 {
		return nil, fmt.Errorf("want 4 groups (realKnownCause, realTweets, realTraffic, ms-anomaly), found %d", len(groups))
	}
	return groups, nil
}

// variant is one setting of the detector's knobs.
type variant struct {
	name string
	opts detect.Options
}

// thresholds are the alert thresholds tried: every 0.005 in (0, 1).
func thresholds() []float64 {
	var t []float64
	for x := 0.005; x < 1; x += 0.005 {
		t = append(t, math.Round(x*1000)/1000)
	}
	return t
}

// result holds, per group and profile, the score at each threshold and
// the best the Python scorer's own sweep would find.
type result struct {
	at   [][3][]float64 // [group][profile][threshold]
	best [][3]float64
}

func score(g *group, o detect.Options) [][]float64 {
	out, _ := scoreSteps(g, o)
	return out
}

// scoreSteps is score that also returns the step each series' detector
// learnt (0 if it had too few observations to learn one).
func scoreSteps(g *group, o detect.Options) ([][]float64, []int64) {
	return scoreSeries(g.series, o)
}

// scoreSeries scores each series with its own detector of one setting, and
// returns the scores and the step each detector learnt.
func scoreSeries(ss []seriescsv.Series, o detect.Options) ([][]float64, []int64) {
	out := make([][]float64, len(ss))
	steps := make([]int64, len(ss))
	for k, s := range ss {
		d := detect.New(o)
		sc := make([]float64, len(s.Times))
		for i, t := range s.Times {
			sc[i] = d.Observe(t, s.Values[i]).Score
		}
		out[k], steps[k] = sc, d.Step()
	}
	return out, steps
}

// chooseFor returns the threshold index with the best mean standard score
// of r over the first ng groups, eligible or not.
func chooseFor(r result, ng, nt int) int {
	bj, bs := 0, math.Inf(-1)
	for j := 0; j < nt; j++ {
		m := 0.0
		for gi := 0; gi < ng; gi++ {
			m += r.at[gi][0][j]
		}
		if m > bs {
			bj, bs = j, m
		}
	}
	return bj
}

func groupNames(groups []*group) []string {
	out := make([]string, len(groups))
	for i, g := range groups {
		out[i] = g.name
	}
	return out
}

func joinGroups(gs []*group, o detect.Options) (*nabCorpus, [][]float64) {
	c := &nabCorpus{}
	var sc [][]float64
	for _, g := range gs {
		for _, s := range g.corpus.series {
			s.winBase += c.nwin
			c.series = append(c.series, s)
		}
		c.nwin += g.corpus.nwin
		sc = append(sc, score(g, o)...)
	}
	return c, sc
}

func writeScores(dir string, groups []*group, o detect.Options) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--scores: %w", err)
	}
	for _, g := range groups {
		path := filepath.Join(dir, g.name+".csv")
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("--scores: %w", err)
		}
		w, err := seriescsv.NewWriter(f, "series", "timestamp", "score")
		if err == nil {
			for k, sc := range score(g, o) {
				s := g.series[k]
				for i := range sc {
					if err = w.Row(s.Name, s.Times[i], sc[i]); err != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
		}
		if err == nil {
			err = w.Flush()
		}
		err = errors.Join(err, f.Close())
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// named is the settings whose name contains sub.
func named(vs []variant, sub string) []variant {
	var out []variant
	for _, v := range vs {
		if strings.Contains(v.name, sub) {
			out = append(out, v)
		}
	}
	return out
}
