package actuator

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const webQ = `max(fleetcast_forecast_peak{job="web",task_group="app",q="0.9"})`

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type rig struct {
	a     *Actuator
	nomad *fakeNomad
	fc    *fakeForecasts
	pool  *fakePool
	clk   *clock
	audit *bytes.Buffer
	cfg   *Config
}

func newRig(t testing.TB, mutate func(*Config)) *rig {
	t.Helper()
	cfg, err := LoadConfig("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	clk := &clock{t: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	n := newFakeNomad(clk.Now)
	n.groups["default web app"] = &api.TaskGroupScaleStatus{Desired: 5, Running: 5, Healthy: 5}
	fc := &fakeForecasts{v: map[string][]Sample{webQ: {{Value: 600}}}}
	var audit bytes.Buffer
	var mu sync.Mutex
	pool := &fakePool{}
	a, err := New(Options{Config: cfg, Nomad: n, Forecasts: fc, Now: clk.Now,
		Audit: slog.New(slog.NewJSONHandler(&lockedWriter{w: &audit, mu: &mu}, nil)),
		Sleep: func(ctx context.Context, d time.Duration) error { clk.Add(d); return ctx.Err() },
		Pools: map[string]PoolScaler{"pool": pool}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &rig{a: a, nomad: n, fc: fc, pool: pool, clk: clk, audit: &audit, cfg: cfg}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func alert(name string, labels map[string]string, starts time.Time) template.Alert {
	kv := template.KV{"alertname": name}
	for k, v := range labels {
		kv[k] = v
	}
	return template.Alert{Status: "firing", Labels: kv, StartsAt: starts, Fingerprint: fmt.Sprintf("%x", len(name)*7919+len(kv))}
}

func webAlert(starts time.Time) template.Alert {
	return alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "app"}, starts)
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
