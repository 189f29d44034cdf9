package exporter

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

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
