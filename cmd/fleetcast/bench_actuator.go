package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/fleetcast/fleetcast/actuator"
	"github.com/fleetcast/fleetcast/actuator/actuatortest"
	"github.com/fleetcast/fleetcast/actuator/planner"
)

const benchActuatorConfig = `global:
  dry_run: true
  max_actions_per_hour: 1000000
policies:
  - name: bench
    match:
      alertname: [JobPredictedSaturation]
      labels: {action: scale_group}
    action: scale_group
    scale_group:
      query: 'max(task_group:fleetcast_demand_peak:max{namespace="{{.namespace}}",job="{{.job}}",task_group="{{.task_group}}",resource="cpu"})'
      per_alloc_capacity: 500
      headroom: 0.2
      min: 1
      max: 100
      max_step: 4
`

func runBenchActuator(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench actuator", `Measures the actuator: decision latency (alert in, plan out, audit line written) with
Nomad and Prometheus replaced by in-memory stand-ins, and webhook throughput: paced
requests over loopback HTTP to the real handler, counting every non-200 answer.`,
		"fleetcast bench actuator\nfleetcast bench actuator --rate 2000 --duration 10s", stderr)
	decisions := fs.Int("decisions", 20000, "decisions to time")
	groups := fs.Int("groups", 200, "distinct task groups the alerts name")
	rate := fs.Int("rate", 1000, "webhook requests per second to send")
	dur := fs.Duration("duration", 5*time.Second, "how long to send webhook requests")
	conc := fs.Int("concurrency", 64, "concurrent webhook clients")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *decisions < 1 || *groups < 1 || *rate < 1 || *dur <= 0 || *conc < 1 {
		fmt.Fprintln(stderr, "fleetcast bench actuator: --decisions, --groups, --rate, --duration and --concurrency must be positive")
		return 2
	}
	cfg, err := actuator.ParseConfig([]byte(benchActuatorConfig))
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast bench actuator: %v\n", err)
		return 1
	}
	newActuator := func() (*actuator.Actuator, error) {
		nomad := actuatortest.NewMemNomad(nil)
		for g := 0; g < *groups; g++ {
			nomad.AddGroup("default", fmt.Sprintf("job-%d", g), "web", 4)
		}
		// The audit log is written (JSON) but to nowhere: its cost counts.
		return actuator.New(actuator.Options{Config: cfg, Nomad: nomad, Forecasts: actuatortest.Forecasts{Value: 4321},
			Audit: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	}

	// 1. Decision latency.
	act, err := newActuator()
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast bench actuator: %v\n", err)
		return 1
	}
	benchDecisions(stdout, act, *decisions, *groups)
	act.Close()
	if err := benchMigratePlanner(stdout); err != nil {
		fmt.Fprintf(stderr, "fleetcast bench actuator: %v\n", err)
		return 1
	}

	// 2. Webhook throughput over loopback.
	act, err = newActuator()
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast bench actuator: %v\n", err)
		return 1
	}
	defer act.Close()
	failed, err := benchWebhook(stdout, act, *rate, *dur, *conc, *decisions, *groups)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast bench actuator: %v\n", err)
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// benchDecisions times n decisions of act on one goroutine, on alerts that
// name groups task groups in turn, and prints the latency quantiles.
func benchDecisions(stdout io.Writer, act *actuator.Actuator, n, groups int) {
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	acted := 0
	for i := 0; i < n; i++ {
		al := actuatorBenchAlert(i, groups)
		t0 := time.Now()
		out := act.Handle(context.Background(), al)
		lat = append(lat, time.Since(t0))
		if out.Result == actuator.ResultDryRun {
			acted++
		}
	}
	total := time.Since(start)
	fmt.Fprintf(stdout, "decision latency (scale_group, dry run, in-memory Nomad and Prometheus, audit JSON encoded):\n")
	fmt.Fprintf(stdout, "  decisions %d (%d planned a change), %.0f decisions/s on one goroutine\n", len(lat), acted, float64(len(lat))/total.Seconds())
	fmt.Fprintf(stdout, "  p50 %s  p90 %s  p99 %s  max %s   (target p99 < 5ms)\n", actuatorPct(lat, 0.5), actuatorPct(lat, 0.9), actuatorPct(lat, 0.99), actuatorPct(lat, 1))
}

// benchMigratePlanner times the migrate planner on a busy node: 60
// allocations, 500 nodes.
func benchMigratePlanner(stdout io.Writer) error {
	mlat := make([]time.Duration, 0, 2000)
	node, allocs, fleet := actuatorBenchMigrateFleet()
	for i := 0; i < cap(mlat); i++ {
		t0 := time.Now()
		if _, err := planner.PlanMigrate(node, allocs, fleet, planner.MigratePolicy{Threshold: 0.8}); err != nil {
			return err
		}
		mlat = append(mlat, time.Since(t0))
	}
	fmt.Fprintf(stdout, "migrate planner (60 allocations on the node, 500 nodes in the pool):\n")
	fmt.Fprintf(stdout, "  plans %d  p50 %s  p99 %s  max %s\n", len(mlat), actuatorPct(mlat, 0.5), actuatorPct(mlat, 0.99), actuatorPct(mlat, 1))
	return nil
}

// benchWebhook sends rate requests a second for dur to act's webhook over
// loopback HTTP from conc clients, each request one alert (numbered from
// first), and prints what was achieved. failed says a request was not
// answered 200.
func benchWebhook(stdout io.Writer, act *actuator.Actuator, rate int, dur time.Duration, conc, first, groups int) (failed bool, err error) {
	hook := &actuator.Webhook{A: act, Token: "bench-token", Log: slog.New(slog.DiscardHandler)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, err
	}
	srv := &http.Server{Handler: hook.Handler(nil), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer func() { _ = srv.Close() }()
	url := "http://" + l.Addr().String() + "/webhook"
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	n := int(float64(rate) * dur.Seconds())
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i], _ = json.Marshal(actuator.Message{Version: "4", GroupKey: "{}:{alertname=\"JobPredictedSaturation\"}",
			Data: template.Data{Receiver: "fleetcast", Status: "firing", Alerts: template.Alerts{actuatorBenchAlert(first+i, groups)}}})
	}
	var (
		okN, errN atomic.Int64
		mu        sync.Mutex
		rlat      = make([]time.Duration, 0, n)
		firstErr  atomic.Value
	)
	jobs := make(chan int, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer bench-token")
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				d := time.Since(t0)
				if err != nil {
					errN.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				okN.Add(1)
				mu.Lock()
				rlat = append(rlat, d)
				mu.Unlock()
			}
		}()
	}
	// Pace: request i leaves at start + i/rate, as Alertmanager's fan-in would.
	wstart := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; i < n; i++ {
		if d := time.Until(wstart.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(wstart)
	fmt.Fprintf(stdout, "webhook over loopback HTTP (one alert per request, bearer token checked, dry run):\n")
	fmt.Fprintf(stdout, "  offered %d req/s for %s: sent %d, 200 OK %d, errors %d, achieved %.0f req/s\n",
		rate, dur, n, okN.Load(), errN.Load(), float64(okN.Load())/wall.Seconds())
	if len(rlat) > 0 {
		fmt.Fprintf(stdout, "  request latency p50 %s  p99 %s  max %s\n", actuatorPct(rlat, 0.5), actuatorPct(rlat, 0.99), actuatorPct(rlat, 1))
	}
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(stdout, "  first error: %v\n", e)
		return true, nil
	}
	return false, nil
}

func actuatorBenchAlert(i, groups int) template.Alert {
	return template.Alert{Status: "firing", Fingerprint: fmt.Sprintf("%016x", i+1),
		StartsAt: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Labels: template.KV{"alertname": "JobPredictedSaturation", "action": "scale_group", actuator.LabelDirection: actuator.DirectionOut,
			"namespace": "default", "job": fmt.Sprintf("job-%d", i%groups), "task_group": "web", "resource": "cpu"}}
}

// actuatorPct returns the q-quantile of the durations (sorted in place).
func actuatorPct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(q*float64(len(d))+0.5) - 1
	i = max(0, min(i, len(d)-1))
	return d[i].Round(time.Microsecond)
}

func actuatorBenchMigrateFleet() (planner.Node, []planner.Alloc, []planner.Node) {
	node := planner.Node{ID: "hot", Capacity: 16000, Predicted: 19000, Eligible: true}
	allocs := make([]planner.Alloc, 60)
	for i := range allocs {
		allocs[i] = planner.Alloc{ID: fmt.Sprint("a", i), Namespace: "default", Job: fmt.Sprint("j", i%12), Group: "g", Type: "service",
			Predicted: float64(100 + 20*i), GroupHealthy: 5, MinHealthy: 2}
	}
	fleet := make([]planner.Node, 500)
	for i := range fleet {
		fleet[i] = planner.Node{ID: fmt.Sprint("n", i), Capacity: 16000, Predicted: float64(8000 + 10*i), Eligible: true}
	}
	return node, allocs, fleet
}
