package exporter

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/forecast"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
)

// TestCycleIncrementalAndVanish checks the first load (in chunks), the
// gauges it publishes, an incremental cycle (one query of the new steps)
// and a vanished series leaving memory and /metrics.
func TestCycleIncrementalAndVanish(t *testing.T) {
	fp := &fakeProm{series: []model.Metric{{"__name__": "node_cpu", "instance": "a"}, {"__name__": "node_cpu", "instance": "b"}}, value: daily}
	e, clk := startExporter(t, Options{Config: testConfig(t, ""), Querier: fp})
	ctx := context.Background()
	// 3 days of 5m steps = 864 points: loaded in chunks of at most 288 first.
	if fp.maxSteps > maxStepsPerSeries {
		t.Errorf("a range query asked %d steps per series, over %d", fp.maxSteps, maxStepsPerSeries)
	}
	first := len(fp.ranges)
	h := e.Handler()
	body := scrape(t, h)
	for _, sel := range []string{
		`fleetcast_forecast{horizon="1h",instance="a",q="0.5",target="cpu"}`,
		`fleetcast_forecast_peak{instance="b",q="0.9",target="cpu",window="6h"}`,
		`fleetcast_observed{instance="a",target="cpu"}`,
		`fleetcast_model_info{instance="a",model!=""}`,
	} {
		if n := len(find(t, body, sel)); n != 1 {
			t.Errorf("/metrics has %d samples of %s, want 1", n, sel)
		}
	}
	if s := gauge(t, body, `fleetcast_anomaly_score{instance="a",target="cpu"}`); !(s >= 0 && s <= 1) {
		t.Errorf("anomaly score %g, want one in [0, 1]", s)
	}
	if n := testutil.ToFloat64(e.self.series.WithLabelValues("cpu")); n != 2 {
		t.Errorf("fleetcast_exporter_series %g, want 2", n)
	}
	if help := parsePage(t, body)["fleetcast_forecast"].GetHelp(); !strings.Contains(help, "Computed on the exporter's own schedule") {
		t.Errorf("fleetcast_forecast's HELP does not say it is cached: %q", help)
	}
	// The 1h forecast of a daily sine is close to the truth an hour ahead.
	end := clk.now().Unix() / 300 * 300
	got := gauge(t, body, `fleetcast_forecast{horizon="1h",instance="a",q="0.5",target="cpu"}`)
	if want := daily(0, end+3600); math.Abs(got-want) > 5 {
		t.Errorf("1h forecast %g, truth %g", got, want)
	}

	// Ten minutes later: one query for the two new steps (and the last one again).
	clk.add(10 * time.Minute)
	if err := e.CycleAll(ctx); err != nil {
		t.Fatalf("second cycle: %v", err)
	}
	if n := len(fp.ranges) - first; n != 1 {
		t.Fatalf("incremental cycle made %d range queries, want 1", n)
	}
	r := fp.ranges[len(fp.ranges)-1]
	if steps := int(r.End.Sub(r.Start)/(5*time.Minute)) + 1; steps != 3 {
		t.Errorf("incremental query asked %d steps, want 3", steps)
	}

	// Series b vanishes: after two steps without it, it leaves memory and /metrics.
	fp.mu.Lock()
	fp.series = fp.series[:1]
	fp.mu.Unlock()
	clk.add(15 * time.Minute)
	if err := e.CycleAll(ctx); err != nil {
		t.Fatal(err)
	}
	body = scrape(t, h)
	if n := len(find(t, body, `{instance="b"}`)); n != 0 {
		t.Errorf("vanished series b still published in %d samples", n)
	}
	if n := len(e.targets[0].series); n != 1 {
		t.Errorf("series in memory: %d, want 1", n)
	}
	// Memory stays bounded to the history.
	if l := len(e.targets[0].series[model.Metric{"instance": "a"}.Fingerprint()].vals); l != 864 {
		t.Errorf("grid length %d, want 864 (3d of 5m)", l)
	}
}

// TestDataWarnings checks that a target whose query matches no series, and
// one for which Prometheus holds less history than configured, each get
// one WARN line and a warning on the status page and the target's page.
func TestDataWarnings(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	cases := []struct {
		name   string
		fp     *fakeProm
		logs   string
		status string
	}{
		{"no series", &fakeProm{value: daily}, "the query returned 0 series", "the query returned 0 series"},
		{"one day of three", &fakeProm{series: []model.Metric{{"__name__": "node_cpu", "instance": "a"}},
			value: func(i int, ts int64) float64 {
				if ts < now.Add(-24*time.Hour).Unix() {
					return math.NaN()
				}
				return daily(i, ts)
			}}, "Prometheus holds 1d of the 3d of history", "of the 3d of history configured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			clk := &clock{t: now}
			e, err := New(Options{Config: testConfig(t, ""), Querier: c.fp, Now: clk.now,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second cycle must not log again
				if err := e.CycleAll(context.Background()); err != nil {
					t.Fatalf("cycle: %v", err)
				}
				clk.add(5 * time.Minute)
			}
			if n := strings.Count(logs.String(), c.logs); n != 1 || !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("log has %q %d times, want once at WARN:\n%s", c.logs, n, logs.String())
			}
			for _, path := range []string{"/", "/target?name=cpu"} {
				rec := httptest.NewRecorder()
				e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				b, _ := io.ReadAll(rec.Body)
				if rec.Code != http.StatusOK || !strings.Contains(string(b), c.status) {
					t.Errorf("%s: %d, page lacks %q", path, rec.Code, c.status)
				}
			}
		})
	}
}

// TestShortHistoryWarningMatchesTheFit: forecast.Fit keeps a detected
// season only with two of it before a backtest of at least two origins,
// and that backtest covers the whole fit horizon only when the history has
// room for two windows of it too (else it is shorter). The warning for a
// short history names both limits (forecast.SeasonLimits). Three days
// held, two weeks configured, forecasts a day and 30 minutes ahead:
// (72h − 10m) / 2 = 35h55m, so the daily season is learnt, and (72h −
// 24h30m − a quarter of that, the closest two origins may be) / 2 = 20h40m,
// so it is backtested over less than the horizon. At the edge the warning is checked against
// forecast.Fit itself: a weekly pattern on two weeks and a step is fitted
// without its season, and with a step more with it, as the warning says.
func TestShortHistoryWarningMatchesTheFit(t *testing.T) {
	const step = 300
	end := int64(1_700_000_000)
	held := 3 * 288
	sr := &series{start: end - int64(held-1)*step, vals: make([]float64, held)}
	tg := &target{cfg: &TargetConfig{Name: "node_cpu"}, step: step, histN: 14 * 288, maxH: 288, fitH: 288 + 6,
		series: map[model.Fingerprint]*series{1: sr}}
	e := &Exporter{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e.checkData(tg, end, step)
	want := "Prometheus holds 3d of the 2w of history configured (its retention, or series younger than that); seasons longer than 1d11h cannot be learnt, and with forecasts 1d30m ahead those longer than 20h are backtested over less than that"
	if tg.dataWarn != want {
		t.Errorf("warning:\n got %q\nwant %q", tg.dataWarn, want)
	}
	// With the whole two weeks held there is nothing to warn about.
	sr.start, sr.vals = end-int64(14*288-1)*step, make([]float64, 14*288)
	e.checkData(tg, end, step)
	if tg.dataWarn != "" {
		t.Errorf("two weeks held: warning %q, want none", tg.dataWarn)
	}

	// The edge, against the fit: weekends busier, four weeks configured.
	tg.histN = 28 * 288
	limit := regexp.MustCompile(`seasons longer than (\S+) cannot be learnt`)
	for _, held := range []int{14*288 + 1, 14*288 + 2} {
		r := rand.New(rand.NewPCG(3, 4))
		ts, vs := make([]int64, held), make([]float64, held)
		sr.start, sr.vals = end-int64(held-1)*step, make([]float64, held)
		for i := range held {
			ts[i] = sr.start + int64(i)*step
			vs[i] = 100 + 10*r.NormFloat64()
			if (ts[i]/86400)%7 >= 5 {
				vs[i] += 60
			}
			sr.vals[i] = vs[i]
		}
		e.checkData(tg, end, step)
		m := limit.FindStringSubmatch(tg.dataWarn)
		if m == nil {
			t.Fatalf("%d steps held: warning %q names no season limit", held, tg.dataWarn)
		}
		d, err := model.ParseDuration(m[1])
		if err != nil {
			t.Fatalf("%d steps held: limit %q: %v", held, m[1], err)
		}
		f, err := forecast.Fit(forecast.Series{Times: ts, Values: vs}, forecast.Options{Horizon: tg.fitH, Step: step})
		if err != nil {
			t.Fatal(err)
		}
		learnt := slices.Contains(f.Seasons, forecast.Week)
		if says := time.Duration(d) >= 7*24*time.Hour; says != learnt {
			t.Errorf("%d steps held: the warning says seasons up to %s can be learnt, but the fit's seasons are %v", held, m[1], f.Seasons)
		}
	}
}
