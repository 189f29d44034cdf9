package demo

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// alertsProm answers ALERTS{alertstate="firing"} with its alerts and every
// other query with no data; the rest of promv1.API is not called.
type alertsProm struct {
	promv1.API
	firing model.Vector
}

func (p *alertsProm) Query(_ context.Context, q string, _ time.Time, _ ...promv1.Option) (model.Value, promv1.Warnings, promv1.Infos, error) {
	if q == `ALERTS{alertstate="firing"}` {
		return p.firing, nil, nil, nil
	}
	return model.Vector{}, nil, nil, nil
}

// TestNarratorTellsAlertLabels: an alert for the actuator is told with its
// action, its direction and the object it names, in that order, when it
// fires and when it resolves; alerts for people are only counted.
func TestNarratorTellsAlertLabels(t *testing.T) {
	prom := &alertsProm{firing: model.Vector{
		{Metric: model.Metric{"alertname": "JobPredictedSurplus", "alertstate": "firing", "action": "scale_group", "direction": "in",
			"namespace": "default", "job": "fleetcast-exporter", "exported_job": "web", "task_group": "web", "resource": "cpu", "severity": "info"}},
		{Metric: model.Metric{"alertname": "ForecastAnomaly", "alertstate": "firing", "target": "job_cpu"}},
	}}
	var said []string
	n := &narrator{prom: prom, alerts: map[string]bool{},
		say: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }}
	now := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	n.pollProm(context.Background(), now)
	prom.firing = nil
	n.pollProm(context.Background(), now.Add(5*time.Second))
	want := []string{
		"ALERT JobPredictedSurplus fired {action=scale_group, direction=in, namespace=default, exported_job=web, task_group=web, resource=cpu} -> Alertmanager -> actuator",
		"alerts for people fired: ForecastAnomaly ×1",
		"alert JobPredictedSurplus{action=scale_group,direction=in,namespace=default,exported_job=web,task_group=web,resource=cpu} resolved.",
	}
	if strings.Join(said, "\n") != strings.Join(want, "\n") {
		t.Fatalf("said:\n%s\nwant:\n%s", strings.Join(said, "\n"), strings.Join(want, "\n"))
	}
}
