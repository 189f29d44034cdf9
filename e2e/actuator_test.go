package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/actuator"
	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/internal/testenv"
	"github.com/fleetcast/fleetcast/sim"
)

const actuatorFleet = `seed: 1
node_pools:
  - {name: default, datacenter: dc1, cpu_mhz: 8000, memory_mb: 16384, count: 3, min: 1, max: 6}
jobs:
  - id: shop
    groups:
      - name: web
        count: 2
        cpu: 500
        memory_mb: 256
        scaling: {min: 1, max: 10}
        demand: {base_mhz: 800}
`

// syncBuffer is an audit sink the test reads while the actuator writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestActuatorScalesFromRealAlert follows one predicted shortage through
// the real chain: a Prometheus alerting rule fires, a real Alertmanager
// routes it (with a bearer token) to the actuator's webhook, the actuator
// reads the forecast back from that Prometheus and, Nomad being down, answers
// 503; once Nomad (the simulator) is up, Alertmanager's retry scales the task
// group, once, however often Alertmanager repeats the notification.
func TestActuatorScalesFromRealAlert(t *testing.T) {
	// The Nomad side: the simulator on loopback.
	scfg, err := sim.ParseConfig([]byte(actuatorFleet), "actuator-fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := sim.New(scfg, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	fleet.Advance(time.Now())
	// Nomad is down at first: its address refuses connections.
	nomadAddr, err := stack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	nomadURL := "http://" + nomadAddr

	// The actuator's listener first, so Alertmanager's config can name it.
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hookURL := "http://" + al.Addr().String() + "/webhook"
	const token = "e2e-webhook-token"
	am := testenv.Alertmanager(t, fmt.Sprintf(`route:
  receiver: fleetcast
  group_by: [alertname, namespace, job, task_group]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: fleetcast
    webhook_configs:
      - url: %q
        http_config:
          authorization:
            type: Bearer
            credentials: %q
`, hookURL, token))

	// A real rule: the recorded forecast (constant here) crosses capacity.
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: actuator-e2e
    interval: 1s
    rules:
      - record: task_group:fleetcast_demand_peak:max
        expr: vector(2200)
        labels: {namespace: default, job: shop, task_group: web, resource: cpu, window: 1h, q: "0.9"}
      - alert: JobPredictedSaturation
        expr: task_group:fleetcast_demand_peak:max{resource="cpu"} > 1000
        labels: {action: scale_group, direction: out, severity: warning}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := testenv.Prometheus(t, stack.PrometheusOptions{RuleFiles: []string{rules}, AlertmanagerURL: am.URL})

	cfg, err := actuator.ParseConfig([]byte(`global:
  max_actions_per_hour: 10
policies:
  - name: shop-out
    match:
      alertname: [JobPredictedSaturation]
      labels: {action: scale_group}
    action: scale_group
    scale_group:
      query: 'max(task_group:fleetcast_demand_peak:max{namespace="{{.namespace}}",job="{{.job}}",task_group="{{.task_group}}",resource="cpu"})'
      per_alloc_capacity: 500
      headroom: 0.1
      min: 1
      max: 20
      max_step: 4
      cooldown: 10m
`))
	if err != nil {
		t.Fatal(err)
	}
	nomad, err := actuator.NewNomadAPI(nomadURL, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := actuator.NewPromReader(prom.URL, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	audit := &syncBuffer{}
	act, err := actuator.New(actuator.Options{Config: cfg, Nomad: nomad, Forecasts: reader,
		Audit: slog.New(slog.NewJSONHandler(audit, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(act.Close)
	hook := &actuator.Webhook{A: act, Token: token, Log: slog.New(slog.NewTextHandler(&testLog{t}, nil))}
	srv := &http.Server{Handler: hook.Handler(nil), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(al) }()
	t.Cleanup(func() { _ = srv.Close() })

	desired := func() (int, []string) {
		st, err := nomad.ScaleStatus(context.Background(), "default", "shop")
		if err != nil {
			return -1, nil
		}
		var msgs []string
		for _, ev := range st.TaskGroups["web"].Events {
			if strings.HasPrefix(ev.Message, "fleetcast:") {
				msgs = append(msgs, ev.Message)
			}
		}
		return st.TaskGroups["web"].Desired, msgs
	}
	// With Nomad unreachable the actuator answers 503 and changes nothing;
	// Alertmanager keeps the notification and retries.
	testenv.Eventually(t, 45*time.Second, "a 503 while Nomad is down", func() error {
		if !strings.Contains(audit.String(), `"result":"error","http_status":503`) {
			return fmt.Errorf("no 503 yet; audit so far:\n%s", audit.String())
		}
		return nil
	})
	// Nomad comes up.
	nl, err := net.Listen("tcp", nomadAddr)
	if err != nil {
		t.Fatalf("bring Nomad up on %s: %v", nomadAddr, err)
	}
	nomadSrv := &http.Server{Handler: fleet.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = nomadSrv.Serve(nl) }()
	t.Cleanup(func() { _ = nomadSrv.Close() })
	// 2200 MHz * 1.1 / 500 per allocation wants 5 (from 2, within max_step 4).
	testenv.Eventually(t, 45*time.Second, "task group scaled to 5 by the actuator", func() error {
		if n, _ := desired(); n != 5 {
			return fmt.Errorf("desired count %d; audit so far:\n%s", n, audit.String())
		}
		return nil
	})
	// Alertmanager keeps repeating the firing alert (repeat_interval 2s):
	// each repeat is recognised and nothing is scaled again.
	testenv.Eventually(t, 30*time.Second, "two repeat notifications seen as duplicates", func() error {
		if n := strings.Count(audit.String(), `"result":"duplicate"`); n < 2 {
			return fmt.Errorf("%d duplicates so far", n)
		}
		return nil
	})
	n, msgs := desired()
	if n != 5 || len(msgs) != 1 {
		t.Fatalf("after repeats: desired %d with fleetcast scaling events %q; want 5 and exactly one", n, msgs)
	}
	if !strings.Contains(msgs[0], "forecast 2200 wants 5") {
		t.Fatalf("scaling event message does not carry the forecast: %q", msgs[0])
	}
	line := ""
	for _, l := range strings.Split(audit.String(), "\n") {
		if strings.Contains(l, `"result":"acted"`) {
			line = l
		}
	}
	for _, want := range []string{`"forecast":{"query":`, `"value":2200`, `"nomad":"scaled default/shop/web to 5`, `"plan":{`, `"alertname":"JobPredictedSaturation"`} {
		if !strings.Contains(line, want) {
			t.Errorf("audit line lacks %s: %s", want, line)
		}
	}
}

type testLog struct{ t *testing.T }

func (w *testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
