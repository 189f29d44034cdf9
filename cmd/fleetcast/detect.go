package main

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fleetcast/fleetcast/detect"
	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

const detectAbout = `Scores every observation of a long CSV (series,timestamp,value) for anomalies with the
same streaming detector the exporter publishes as fleetcast_anomaly_score. Each score is in
[0, 1] and is computed from the series' past alone; above the alert threshold (printed at the
end) the ForecastAnomaly rule fires. Writes series,timestamp,score, one row per input row, in
the input's order within each series. Progress goes to stderr.`

const detectExample = `fleetcast detect --input series.csv --output scores.csv --plot plots/`

func runDetect(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("detect", detectAbout, detectExample, stderr)
	input := fs.String("input", "", "long CSV to score: series,timestamp,value (required)")
	output := fs.String("output", "-", "where to write series,timestamp,score; - for stdout")
	plotDir := fs.String("plot", "", "if set, write one PNG per series here: values, band and detections")
	step := fs.Duration("step", 0, "sampling interval; 0 learns it from each series")
	warmup := fs.Int("warmup", 0, "observations of each series scored 0 while the detector learns; 0 for a day of observations (100 to 300)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *input == "" {
		fmt.Fprintln(stderr, "fleetcast detect: --input is required; run 'fleetcast detect --help' for usage")
		return 2
	}
	if *step < 0 || *warmup < 0 {
		fmt.Fprintln(stderr, "fleetcast detect: --step and --warmup must not be negative")
		return 2
	}
	opts := detect.Options{Step: int64(step.Seconds()), Warmup: *warmup}
	if err := detectFile(*input, *output, *plotDir, opts, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "fleetcast detect: %v\n", err)
		return 1
	}
	return 0
}

func detectFile(input, output, plotDir string, opts detect.Options, stdout, stderr io.Writer) (err error) {
	f, err := os.Open(input)
	if err != nil {
		return err
	}
	series, err := seriescsv.ReadKeepRepeats(f, input)
	if cerr := f.Close(); err == nil && cerr != nil {
		return fmt.Errorf("close %s: %w", input, cerr)
	}
	if err != nil {
		return err
	}
	if plotDir != "" {
		if err := os.MkdirAll(plotDir, 0o755); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	var w io.Writer = stdout
	if output != "-" {
		out, err := os.Create(output)
		if err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		defer func() {
			if cerr := out.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("close %s: %w", output, cerr)
			}
		}()
		w = out
	}
	cw, err := seriescsv.NewWriter(w, "series", "timestamp", "score")
	if err != nil {
		return err
	}
	total := 0
	for _, s := range series {
		total += len(s.Times)
	}
	start := time.Now()
	done, alerts := 0, 0
	for i, s := range series {
		d := detect.New(opts)
		dets := make([]detect.Detection, len(s.Times))
		for k, t := range s.Times {
			dets[k] = d.Observe(t, s.Values[k])
			if err := cw.Row(s.Name, t, dets[k].Score); err != nil {
				return fmt.Errorf("write %s: %w", output, err)
			}
			if dets[k].Score > detect.Threshold {
				alerts++
			}
		}
		done += len(s.Times)
		fmt.Fprintf(stderr, "detect: [%d/%d] %s: %d observations, %d above threshold (%.0f%% of rows done)\n",
			i+1, len(series), s.Name, len(s.Times), countAbove(dets), 100*float64(done)/float64(total))
		if plotDir != "" {
			if err := plotDetections(plotDir, s, dets); err != nil {
				return err
			}
		}
	}
	if err := cw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", output, err)
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(stderr, "detect: %d series, %d observations in %.2fs (%.0f obs/s), %d above the alert threshold %.3f\n",
		len(series), total, el, float64(total)/math.Max(el, 1e-9), alerts, detect.Threshold)
	return nil
}

func countAbove(dets []detect.Detection) int {
	n := 0
	for _, d := range dets {
		if d.Score > detect.Threshold {
			n++
		}
	}
	return n
}

// plotDetections writes <dir>/<series>.png: the values, the band forecast
// for each point and the points above the alert threshold.
func plotDetections(dir string, s seriescsv.Series, dets []detect.Detection) error {
	p := plot.New()
	p.Title.Text = s.Name
	p.X.Label.Text = "time (UTC)"
	p.X.Tick.Marker = plot.TimeTicks{Format: "01-02\n15:04"}
	p.Y.Label.Text = "value"
	var vals, lo, hi, hits plotter.XYs
	for i, t := range s.Times {
		x := float64(t)
		if v := s.Values[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, plotter.XY{X: x, Y: v})
			if dets[i].Score > detect.Threshold {
				hits = append(hits, plotter.XY{X: x, Y: v})
			}
		}
		if d := dets[i]; !d.Warmup && !math.IsNaN(d.Lower) && !math.IsNaN(d.Upper) {
			lo = append(lo, plotter.XY{X: x, Y: d.Lower})
			hi = append(hi, plotter.XY{X: x, Y: d.Upper})
		}
	}
	grey := color.RGBA{R: 160, G: 160, B: 160, A: 255}
	if len(lo) > 0 {
		for _, xy := range []plotter.XYs{lo, hi} {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("plot %s: %w", s.Name, err)
			}
			l.Color = grey
			l.Width = vg.Points(0.5)
			p.Add(l)
		}
		p.Legend.Add("band (~95% of past residuals)", &plotter.Line{LineStyle: draw.LineStyle{Color: grey, Width: vg.Points(1)}})
	}
	if len(vals) > 0 {
		l, err := plotter.NewLine(vals)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		l.Color = color.RGBA{B: 200, A: 255}
		l.Width = vg.Points(0.6)
		p.Add(l)
		p.Legend.Add("value", l)
	}
	if len(hits) > 0 {
		sc, err := plotter.NewScatter(hits)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		sc.GlyphStyle.Color = color.RGBA{R: 220, A: 255}
		sc.GlyphStyle.Radius = vg.Points(2.5)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("score > %.2f", detect.Threshold), sc)
	}
	legendRoom(p, vals, lo, hi)
	p.Legend.Top = true
	name := strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(s.Name) + ".png"
	path := filepath.Join(dir, name)
	if err := p.Save(30*vg.Centimeter, 12*vg.Centimeter, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, errors.Unwrap(err))
	}
	return nil
}
