package exporter

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"net/http"

	"github.com/prometheus/common/model"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fleetcast/fleetcast/forecast"
)

// chartPoints is how much history a chart shows: two days of the target's
// steps, or the whole history if shorter.
func chartPoints(step int64) int { return int(2 * 86400 / step) }

// handleChart draws the series' recent history, its forecast and band as
// SVG with gonum/plot.
func (e *Exporter) handleChart(w http.ResponseWriter, r *http.Request) {
	t := e.findTarget(r.URL.Query().Get("target"))
	if t == nil {
		http.Error(w, "unknown target", http.StatusNotFound)
		return
	}
	fp, err := model.FingerprintFromString(r.URL.Query().Get("series"))
	if err != nil {
		http.Error(w, "series: want the fingerprint shown on the target page", http.StatusBadRequest)
		return
	}
	d, ok := t.chartData(fp)
	if !ok {
		http.Error(w, "unknown series (it may have vanished)", http.StatusNotFound)
		return
	}
	wt, err := d.plot().WriterTo(9*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		http.Error(w, "draw chart: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		http.Error(w, "draw chart: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write(buf.Bytes())
}

// chart is what the chart of one series shows.
type chart struct {
	title, unit string
	hist        plotter.XYs // the recent history
	res         *fitResult  // the last fit, nil before the first
	now         int64       // the time of the grid's end
	capacity    float64     // NaN without one
}

// chartData reads what the chart of the series fp shows; false when the
// target has no such series.
func (t *target) chartData(fp model.Fingerprint) (chart, bool) {
	t.mu.Lock()
	sr := t.series[fp]
	if sr == nil {
		t.mu.Unlock()
		return chart{}, false
	}
	d := chart{title: t.cfg.Name + " " + sr.labels.String(), capacity: math.NaN()}
	from := max(0, len(sr.vals)-chartPoints(t.step))
	for i := from; i < len(sr.vals); i++ {
		if v := sr.vals[i]; !math.IsNaN(v) {
			d.hist = append(d.hist, plotter.XY{X: float64(sr.start + int64(i)*t.step), Y: v})
		}
	}
	d.res = sr.result.Load()
	d.now = sr.start + int64(len(sr.vals)-1)*t.step
	d.unit = unitOf(sr.labels)
	t.mu.Unlock()
	if s := t.snap.Load(); s != nil {
		for _, row := range s.rows {
			if row.fp == fp {
				d.capacity = row.capacity
				break
			}
		}
	}
	return d, true
}

// plot draws the chart: band, forecast, history, the bounds near the data,
// capacity and a line at now, with the y range leaving room for the legend.
func (d *chart) plot() *plot.Plot {
	p := plot.New()
	p.Title.Text = d.title
	p.X.Tick.Marker = plot.TimeTicks{Format: "01-02\n15:04"}
	p.Y.Label.Text = d.unit
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, xy := range d.hist {
		lo, hi = min(lo, xy.Y), max(hi, xy.Y)
	}
	var f *forecast.Forecast
	if d.res != nil && d.res.f != nil && len(d.res.f.Times) > 0 {
		f = d.res.f
		flo, fhi := addForecast(p, f)
		lo, hi = min(lo, flo), max(hi, fhi)
	}
	if len(d.hist) > 0 {
		if l, err := plotter.NewLine(d.hist); err == nil {
			l.Color = color.RGBA{R: 30, G: 90, B: 200, A: 255}
			p.Add(l)
			p.Legend.Add("observed", l)
		}
	}
	x0, x1 := float64(d.now), float64(d.now)
	if len(d.hist) > 0 {
		x0 = d.hist[0].X
	}
	if f != nil {
		x1 = float64(f.Times[len(f.Times)-1])
		// The bounds the forecast keeps to, when they are near the data.
		for _, b := range []struct {
			v    float64
			name string
		}{{f.Min, "lower bound"}, {f.Max, "upper bound"}} {
			if !math.IsInf(b.v, 0) && !math.IsNaN(b.v) && nearRange(b.v, lo, hi) {
				hline(p, x0, x1, b.v, fmt.Sprintf("%s %s", b.name, withUnit(b.v, d.unit)), color.RGBA{R: 120, G: 120, B: 120, A: 255}, []vg.Length{vg.Points(2), vg.Points(3)})
				lo, hi = min(lo, b.v), max(hi, b.v)
			}
		}
	}
	if !math.IsNaN(d.capacity) {
		hline(p, x0, x1, d.capacity, "capacity "+withUnit(d.capacity, d.unit), color.RGBA{R: 200, G: 0, B: 0, A: 255}, []vg.Length{vg.Points(6), vg.Points(4)})
		lo, hi = min(lo, d.capacity), max(hi, d.capacity)
	}
	if !math.IsInf(lo, 1) {
		// Headroom above the data, where the legend sits.
		span := max(hi-lo, math.Abs(hi)*0.1, 1e-9)
		p.Y.Min, p.Y.Max = lo-0.05*span, hi+0.35*span
		if nl, err := plotter.NewLine(plotter.XYs{{X: float64(d.now), Y: p.Y.Min}, {X: float64(d.now), Y: hi + 0.05*span}}); err == nil {
			nl.Color = color.Black
			nl.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
			p.Add(nl)
			p.Legend.Add("now", nl)
		}
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

// addForecast draws the forecast's band and mean and returns the band's
// lowest and highest values.
func addForecast(p *plot.Plot, f *forecast.Forecast) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	band := make(plotter.XYs, 0, 2*len(f.Times))
	mean := make(plotter.XYs, 0, len(f.Times))
	for i, ts := range f.Times {
		band = append(band, plotter.XY{X: float64(ts), Y: f.Upper[i]})
		mean = append(mean, plotter.XY{X: float64(ts), Y: f.Mean[i]})
		lo, hi = min(lo, f.Lower[i]), max(hi, f.Upper[i])
	}
	for i := len(f.Times) - 1; i >= 0; i-- {
		band = append(band, plotter.XY{X: float64(f.Times[i]), Y: f.Lower[i]})
	}
	if poly, err := plotter.NewPolygon(band); err == nil {
		poly.Color = color.RGBA{R: 255, G: 160, B: 60, A: 90}
		poly.LineStyle.Width = 0
		p.Add(poly)
		p.Legend.Add(fmt.Sprintf("%g%% band", f.Level*100), poly)
	}
	if l, err := plotter.NewLine(mean); err == nil {
		l.Color = color.RGBA{R: 220, G: 90, B: 0, A: 255}
		p.Add(l)
		p.Legend.Add("forecast ("+f.Model+")", l)
	}
	return lo, hi
}

// unitOf names the unit of a series from its resource label, as the
// rules' label conventions use it: cpu in MHz, memory in bytes.
func unitOf(l model.Metric) string {
	switch l["resource"] {
	case "cpu":
		return "MHz"
	case "memory":
		return "bytes"
	}
	return "value"
}

func withUnit(v float64, unit string) string {
	if unit == "value" {
		return fmt.Sprintf("%.4g", v)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

// nearRange says whether v lies within the data's range widened by its
// span, so that drawing it does not squash the data.
func nearRange(v, lo, hi float64) bool {
	if math.IsInf(lo, 1) {
		return false
	}
	span := max(hi-lo, math.Abs(hi)*0.1)
	return v >= lo-span && v <= hi+span
}

// hline adds a horizontal line at y from x0 to x1 with a legend entry.
func hline(p *plot.Plot, x0, x1, y float64, name string, c color.Color, dashes []vg.Length) {
	l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return
	}
	l.Color = c
	l.Dashes = dashes
	p.Add(l)
	p.Legend.Add(name, l)
}
