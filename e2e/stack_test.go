package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/internal/testenv"
)

func promAPI(t *testing.T, url string) promv1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		t.Fatalf("prometheus client: %v", err)
	}
	return promv1.NewAPI(c)
}

// TestPrometheusBackfillAndRules checks the helper end to end: history
// backfilled with promtool is queryable, and a loaded recording rule
// evaluates.
func TestPrometheusBackfillAndRules(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: smoke
    interval: 1s
    rules:
      - record: fleet:smoke_value:sum
        expr: sum(smoke_value) * 2
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Three hours of history ending 10 minutes ago, one sample a minute: value = minute index.
	end := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var om strings.Builder
	om.WriteString("# TYPE smoke_value gauge\n")
	for i := 0; i < 180; i++ {
		ts := end.Add(time.Duration(i-179) * time.Minute)
		fmt.Fprintf(&om, "smoke_value{instance=\"a\"} %d %d\n", i, ts.Unix())
	}
	prom := testenv.Prometheus(t, stack.PrometheusOptions{OpenMetrics: om.String(), RuleFiles: []string{rules}})
	papi := promAPI(t, prom.URL)
	ctx := context.Background()

	at := end.Add(-60 * time.Minute)
	v, _, _, err := papi.Query(ctx, `smoke_value{instance="a"}`, at)
	if err != nil {
		t.Fatalf("query backfilled history: %v", err)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 || vec[0].Value != 119 {
		t.Fatalf("backfilled value an hour before the end: got %v, want 119", v)
	}

	// The backfilled series is stale by now, so the rule sees the data only
	// through a query at a past time; check the rule is loaded and healthy.
	testenv.Eventually(t, 20*time.Second, "recording rule evaluated", func() error {
		r, err := papi.Rules(ctx, nil)
		if err != nil {
			return err
		}
		for _, g := range r.Groups {
			for _, rule := range g.Rules {
				if rr, ok := rule.(promv1.RecordingRule); ok && rr.Name == "fleet:smoke_value:sum" {
					if rr.Health != promv1.RuleHealthGood {
						return fmt.Errorf("rule health %q: %s", rr.Health, rr.LastError)
					}
					if rr.LastEvaluation.IsZero() {
						return fmt.Errorf("not evaluated yet")
					}
					return nil
				}
			}
		}
		return fmt.Errorf("rule not loaded")
	})
}

// TestAlertChainToWebhook sends an alert from a real Prometheus rule through
// a real Alertmanager to a webhook on loopback, decoded as the actuator will
// decode it.
func TestAlertChainToWebhook(t *testing.T) {
	got := make(chan template.Data, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d template.Data
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			t.Errorf("decode webhook: %v", err)
		}
		got <- d
	}))
	defer hook.Close()

	am := testenv.Alertmanager(t, fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: %q
`, hook.URL+"/webhook"))

	dir := t.TempDir()
	rules := filepath.Join(dir, "alerts.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: smoke
    interval: 1s
    rules:
      - alert: SmokeAlways
        expr: vector(1)
        labels:
          action: scale_group
          job: web
`), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Prometheus(t, stack.PrometheusOptions{RuleFiles: []string{rules}, AlertmanagerURL: am.URL})

	select {
	case d := <-got:
		if d.Status != "firing" || len(d.Alerts) != 1 {
			t.Fatalf("webhook: status %q with %d alerts, want one firing", d.Status, len(d.Alerts))
		}
		a := d.Alerts[0]
		if a.Labels["alertname"] != "SmokeAlways" || a.Labels["action"] != "scale_group" || a.Labels["job"] != "web" {
			t.Fatalf("webhook alert labels: %v", a.Labels)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("no webhook from Alertmanager within 60s; alertmanager log:\n%s", am.LogTail(20))
	}
}
