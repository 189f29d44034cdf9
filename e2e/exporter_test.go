package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/exporter"
	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/internal/testenv"
)

// peakLift is the scheduled daily peak added on top of the daily cycle.
const peakLift = 80.0

// demandTruth is the noiseless demand of instance i at ts: a daily cycle
// around 100+20i, plus peakLift during the two-hour daily peak that starts
// at peakStart (seconds into the day, UTC).
func demandTruth(i int, ts, peakStart int64) float64 {
	sod := ts % 86400
	v := 100 + 20*float64(i) + 30*math.Sin(2*math.Pi*float64(sod)/86400)
	if d := (sod - peakStart + 86400) % 86400; d < 2*3600 {
		v += peakLift
	}
	return v
}

// exporterStack is a real Prometheus holding 7 days of history of two
// series at 1-minute steps, which also scrapes an exporter running in this
// process.
type exporterStack struct {
	prom      *stack.Process
	exp       *exporter.Exporter
	url       string // the exporter's base URL
	end       int64  // time of the newest backfilled sample
	peakStart int64
	cancel    context.CancelFunc
}

func startExporterStack(t *testing.T, refresh string) *exporterStack {
	t.Helper()
	const step = 60
	now := time.Now().Unix()
	end := now / step * step
	// The peak window is placed so that now+2h falls inside it, whatever
	// the minute the test runs at.
	peakStart := ((end+2*3600)/3600*3600 - 3600) % 86400
	var om strings.Builder
	om.WriteString("# HELP demand Simulated demand.\n# TYPE demand gauge\n")
	for i := range 2 {
		for ts := end - 7*86400 + step; ts <= end; ts += step {
			noise := 1 + 0.01*math.Sin(float64(ts)*0.7+float64(i)) // ±1%
			fmt.Fprintf(&om, "demand{instance=\"n%d\"} %.3f %d\n", i, demandTruth(i, ts, peakStart)*noise, ts)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	prom := testenv.Prometheus(t, stack.PrometheusOptions{
		OpenMetrics: om.String(),
		Config: fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: fleetcast
    static_configs:
      - targets: [%q]
`, addr),
	})

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "events.yml"), []byte(fmt.Sprintf(`events:
  - name: daily-peak
    start: %s
    duration: 2h
    every: 1d
    effect: %g
`, time.Unix(end-8*86400+peakStart-(end-8*86400)%86400, 0).UTC().Format(time.RFC3339), peakLift)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := exporter.ParseConfig([]byte(fmt.Sprintf(`prometheus:
  url: %s
  timeout: 10s
events_file: events.yml
targets:
  - name: demand
    query: demand
    step: 1m
    history: 7d
    horizons: [15m, 1h, 2h]
    quantiles: [0.1, 0.5, 0.9]
    peak_windows: [6h]
    refresh: %s
`, prom.URL, refresh)), dir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := exporter.NewPrometheusQuerier(cfg.Prometheus, nil)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := exporter.New(exporter.Options{Config: cfg, Querier: q})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		exp.Run(ctx)
	}()
	srv := &http.Server{Handler: exp.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		<-done
	})
	s := &exporterStack{prom: prom, exp: exp, url: "http://" + addr, end: end, peakStart: peakStart, cancel: cancel}
	testenv.Eventually(t, 40*time.Second, "exporter ready", func() error {
		_, err := s.get("/-/ready")
		return err
	})
	return s
}

func (s *exporterStack) get(path string) (string, error) {
	resp, err := http.Get(s.url + path)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b), nil
}

// sample returns the value of the exposition line that starts with series.
func sample(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.Fields(v)[0], 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestExporterForecastsScheduledPeak: the exporter loads 7 days from a real
// Prometheus, forecasts the daily peak two hours ahead within 10% of the
// truth, and the same Prometheus scrapes it and can query fleetcast_forecast.
func TestExporterForecastsScheduledPeak(t *testing.T) {
	s := startExporterStack(t, "5s")
	body, err := s.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		series := fmt.Sprintf(`fleetcast_forecast{horizon="2h",instance="n%d",q="0.5",target="demand"}`, i)
		got, ok := sample(body, series)
		if !ok {
			t.Fatalf("no %s in /metrics:\n%s", series, body)
		}
		// The exporter's grid ends at the newest whole minute it saw.
		truth := demandTruth(i, s.end+2*3600, s.peakStart)
		alt := demandTruth(i, s.end+60+2*3600, s.peakStart)
		if math.Abs(got-truth)/truth > 0.10 && math.Abs(got-alt)/alt > 0.10 {
			t.Errorf("instance n%d: forecast for the peak hour %.1f, truth %.1f: off by more than 10%%", i, got, truth)
		}
		if truth < 100+20*float64(i)+peakLift-30 {
			t.Fatalf("test setup: now+2h (%.1f) is not in the peak", truth)
		}
	}
	papi := promAPI(t, s.prom.URL)
	testenv.Eventually(t, 30*time.Second, "Prometheus scraped fleetcast_forecast", func() error {
		v, _, _, err := papi.Query(context.Background(), `fleetcast_forecast{target="demand",horizon="2h",q="0.5"}`, time.Now())
		if err != nil {
			return err
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) != 2 {
			return fmt.Errorf("got %v, want 2 series", v)
		}
		return nil
	})
	if status, err := s.get("/"); err != nil || !strings.Contains(status, "demand") {
		t.Errorf("status page: %v", err)
	}
}

// TestExporterSurvivesPrometheusRestart stops Prometheus mid-run: the
// exporter keeps serving the last forecasts and reports the outage, then
// recovers on its own when Prometheus is back.
func TestExporterSurvivesPrometheusRestart(t *testing.T) {
	s := startExporterStack(t, "1s")
	const fc = `fleetcast_forecast{horizon="1h",instance="n0",q="0.5",target="demand"}`
	if err := s.prom.Stop(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "outage reported", func() error {
		body, err := s.get("/metrics")
		if err != nil {
			return err
		}
		if _, ok := sample(body, fc); !ok {
			return fmt.Errorf("forecast no longer served")
		}
		if up, _ := sample(body, `fleetcast_exporter_prometheus_up{target="demand"}`); up != 0 {
			return fmt.Errorf("prometheus_up %g", up)
		}
		if n, _ := sample(body, `fleetcast_exporter_errors_total{stage="query",target="demand"}`); n < 1 {
			return fmt.Errorf("errors_total %g", n)
		}
		return nil
	})
	body, _ := s.get("/metrics")
	lastOK, _ := sample(body, `fleetcast_exporter_last_success_timestamp_seconds{target="demand"}`)
	if err := s.prom.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "exporter recovered", func() error {
		body, err := s.get("/metrics")
		if err != nil {
			return err
		}
		if up, _ := sample(body, `fleetcast_exporter_prometheus_up{target="demand"}`); up != 1 {
			return fmt.Errorf("prometheus_up %g", up)
		}
		if ts, _ := sample(body, `fleetcast_exporter_last_success_timestamp_seconds{target="demand"}`); ts <= lastOK {
			return fmt.Errorf("no successful cycle since the outage")
		}
		if _, ok := sample(body, fc); !ok {
			return fmt.Errorf("forecast not served")
		}
		return nil
	})
}
