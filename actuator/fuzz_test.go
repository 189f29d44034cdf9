package actuator

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// FuzzWebhook feeds arbitrary bodies to the webhook, twice each, as
// Alertmanager's repeats would: no input may panic it, every answer is a
// status the contract allows, and no alert is ever acted on twice.
func FuzzWebhook(f *testing.F) {
	t0 := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	f.Add(payload(webAlert(t0)))
	f.Add(payload(webAlert(t0), webAlert(t0.Add(time.Second)), alert("JobPredictedSurplus", map[string]string{"action": "scale_group", "direction": "in", "namespace": "default", "job": "web", "task_group": "app"}, t0)))
	f.Add(payload(alert("AnomalyDespiteAction", map[string]string{"action": "escalate", "namespace": "default", "job": "web", "task_group": "app"}, t0)))
	f.Add(payload(alert("NodePredictedOverload", map[string]string{"action": "migrate", "node_id": "n1"}, t0)))
	f.Add(payload(alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "direction": "out", "node_pool": "batch"}, t0)))
	f.Add(payload(template.Alert{Status: "firing"}))
	f.Add(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"JobPredictedSaturation","action":"scale_group","namespace":"default","job":"web\"}","task_group":"app"},"startsAt":"2026-11-27T01:00:00Z","fingerprint":"x"}]}`)
	f.Add(`{"version":"4","alerts":null}`)
	f.Add(`{"version":4}`)
	f.Add(`[]`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, body string) {
		r := newRig(t, nil)
		r.fc.v[`max(fleetcast_forecast_peak{job="web\"}",task_group="app",q="0.9"})`] = []Sample{{Value: 900}}
		h := &Webhook{A: r.a, Log: slog.New(slog.DiscardHandler)}
		for round := 0; round < 2; round++ {
			code, resp := h.Process(context.Background(), []byte(body))
			switch code {
			case 200, 400, 422, 429, 503:
			default:
				t.Fatalf("round %d: status %d is not in the contract", round, code)
			}
			if round == 1 {
				for _, o := range resp.Results {
					if o.Result == ResultActed {
						t.Fatalf("repeat of the same body acted again: %+v", o)
					}
				}
			}
		}
		r.a.Wait()
		r.nomad.mu.Lock()
		defer r.nomad.mu.Unlock()
		for k, n := range r.nomad.keyCalls {
			if n > 1 {
				t.Fatalf("alert %s scaled %d times", k, n)
			}
		}
	})
}
