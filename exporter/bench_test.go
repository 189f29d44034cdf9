package exporter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// benchExporter builds an exporter over n fake series of 14 days at 5m.
func benchExporter(b *testing.B, n int) (*Exporter, *clock) {
	b.Helper()
	ms := make([]model.Metric, n)
	for i := range ms {
		ms[i] = model.Metric{"instance": model.LabelValue(fmt.Sprintf("node-%05d", i)), "job": "bench"}
	}
	c, err := ParseConfig([]byte(`prometheus:
  url: http://127.0.0.1:9090
targets:
  - name: bench
    query: bench
    step: 5m
    history: 14d
    horizons: [15m, 1h, 6h, 1d]
    peak_windows: [1h, 1d]
`), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	e, err := New(Options{Config: c, Querier: &fakeProm{series: ms, value: daily}, Now: clk.now})
	if err != nil {
		b.Fatal(err)
	}
	return e, clk
}

// BenchmarkFirstLoad: load and fit 14 days of 200 series (without Prometheus).
func BenchmarkFirstLoad(b *testing.B) {
	for b.Loop() {
		e, _ := benchExporter(b, 200)
		if err := e.CycleAll(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSteadyCycle: one incremental cycle of 200 series.
func BenchmarkSteadyCycle(b *testing.B) {
	e, clk := benchExporter(b, 200)
	if err := e.CycleAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		clk.add(5 * time.Minute)
		if err := e.CycleAll(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScrape: one /metrics scrape of 2,000 forecast series.
func BenchmarkScrape(b *testing.B) {
	e, _ := benchExporter(b, 2000)
	if err := e.CycleAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	h := e.Handler()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}
