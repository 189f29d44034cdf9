package actuator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/fleetcast/fleetcast/actuator"
	"github.com/fleetcast/fleetcast/actuator/actuatortest"
)

func benchActuator(b *testing.B) *actuator.Actuator {
	b.Helper()
	cfg, err := actuator.ParseConfig([]byte(`global: {dry_run: true, max_actions_per_hour: 100000000}
policies:
  - name: bench
    match: {alertname: [JobPredictedSaturation]}
    action: scale_group
    scale_group: {query: 'max(x{job="{{.job}}"})', per_alloc_capacity: 500, headroom: 0.2, min: 1, max: 100, max_step: 4}
`))
	if err != nil {
		b.Fatal(err)
	}
	n := actuatortest.NewMemNomad(nil)
	for g := 0; g < 100; g++ {
		n.AddGroup("default", fmt.Sprint("job-", g), "web", 4)
	}
	a, err := actuator.New(actuator.Options{Config: cfg, Nomad: n, Forecasts: actuatortest.Forecasts{Value: 4321},
		Audit: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	return a
}

func benchAlert(i int) template.Alert {
	return template.Alert{Status: "firing", Fingerprint: fmt.Sprintf("%x", i+1), StartsAt: time.Unix(int64(i), 0),
		Labels: template.KV{"alertname": "JobPredictedSaturation", "namespace": "default", "job": fmt.Sprint("job-", i%100), "task_group": "web"}}
}

// BenchmarkHandle is one whole decision without Nomad's or Prometheus's
// latency: policy match, dedupe, state read, forecast, plan, audit line.
func BenchmarkHandle(b *testing.B) {
	a := benchActuator(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if out := a.Handle(ctx, benchAlert(i)); out.Result != actuator.ResultDryRun {
			b.Fatal(out)
		}
	}
}

// BenchmarkWebhookProcess adds JSON decoding of a one-alert payload.
func BenchmarkWebhookProcess(b *testing.B) {
	a := benchActuator(b)
	h := &actuator.Webhook{A: a, Log: slog.New(slog.DiscardHandler)}
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i], _ = json.Marshal(actuator.Message{Version: "4", Data: template.Data{Status: "firing", Alerts: template.Alerts{benchAlert(i)}}})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// Past the prepared bodies the alerts repeat and are duplicates: still a full answer.
		if code, _ := h.Process(ctx, bodies[i%len(bodies)]); code != 200 {
			b.Fatal(code)
		}
	}
}
