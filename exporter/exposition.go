package exporter

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The forecast gauges are rendered to the text exposition format once per
// snapshot, in the cycle that made it, so that a scrape only copies bytes:
// at 10,000 series a registry's Gather of the snapshot's metrics took
// seconds per scrape (measured: 0.68 s for 2,000 series), which the
// 1-second scrape budget does not allow.

// exposition is a snapshot rendered: per metric family, its HELP and TYPE
// lines and its sample lines.
type exposition struct {
	header map[string][]byte
	body   map[string][]byte
}

type sliceCollector []prometheus.Metric

func (sliceCollector) Describe(chan<- *prometheus.Desc) {}

func (s sliceCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range s {
		ch <- m
	}
}

// render turns metrics into an exposition. Gathering through a registry
// checks and sorts them as any scrape would.
func render(metrics []prometheus.Metric) (*exposition, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(sliceCollector(metrics)); err != nil {
		return nil, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("render metrics: %w", err)
	}
	x := &exposition{header: map[string][]byte{}, body: map[string][]byte{}}
	var buf bytes.Buffer
	for _, mf := range mfs {
		buf.Reset()
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			return nil, fmt.Errorf("render %s: %w", mf.GetName(), err)
		}
		b := buf.Bytes()
		// The first two lines are # HELP and # TYPE.
		cut := 0
		for range 2 {
			i := bytes.IndexByte(b[cut:], '\n')
			if i < 0 {
				return nil, fmt.Errorf("render %s: no header", mf.GetName())
			}
			cut += i + 1
		}
		x.header[mf.GetName()] = bytes.Clone(b[:cut])
		x.body[mf.GetName()] = bytes.Clone(b[cut:])
	}
	return x, nil
}

// serveMetrics writes the exporter's live metrics, then every family of
// the snapshots, each family's samples from all targets together.
func (e *Exporter) serveMetrics(live prometheus.Gatherer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mfs, err := live.Gather()
		if err != nil {
			e.logger.Error("gather the exporter's own metrics", "err", err)
		}
		var xs []*exposition
		for _, t := range e.targets {
			if s := t.snap.Load(); s != nil && s.text != nil {
				xs = append(xs, s.text)
			}
		}
		if ns := e.nomadSnap.Load(); ns != nil && ns.text != nil {
			xs = append(xs, ns.text)
		}
		names := map[string][]byte{}
		for _, x := range xs {
			for n, h := range x.header {
				names[n] = h
			}
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)

		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		var out io.Writer = w
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer func() {
				if err := gz.Close(); err != nil {
					e.logger.Debug("finish /metrics", "err", err)
				}
			}()
			out = gz
		}
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(out, mf); err != nil {
				e.logger.Debug("write /metrics", "err", err)
				return
			}
		}
		for _, n := range sorted {
			if _, err := out.Write(names[n]); err != nil {
				return
			}
			for _, x := range xs {
				if b := x.body[n]; len(b) > 0 {
					if _, err := out.Write(b); err != nil {
						return
					}
				}
			}
		}
	}
}

// collect sends the exposition's samples as metrics. Snapshots keep only
// their rendered text (the const metrics they were built from would double
// the memory of a large target), so the collector reads them back from it.
func (x *exposition) collect(ch chan<- prometheus.Metric) {
	for name, h := range x.header {
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(io.MultiReader(bytes.NewReader(h), bytes.NewReader(x.body[name])))
		if err != nil {
			continue
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				names := make([]string, len(m.GetLabel()))
				values := make([]string, len(m.GetLabel()))
				for i, l := range m.GetLabel() {
					names[i], values[i] = l.GetName(), l.GetValue()
				}
				d := prometheus.NewDesc(mf.GetName(), mf.GetHelp(), names, nil)
				if cm, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, m.GetGauge().GetValue(), values...); err == nil {
					ch <- cm
				}
			}
		}
	}
}
