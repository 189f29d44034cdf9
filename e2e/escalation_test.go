package e2e

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/actuator"
	"github.com/fleetcast/fleetcast/internal/testenv"
)

// TestRefusedEscalationIsNotResent: a real Alertmanager sends a node's
// AnomalyDespiteAction to an actuator whose ladder has no rung for nodes,
// and, side by side, the same alert to a receiver answering 422, as the
// actuator answered it before no_rung. Alertmanager sends a notification
// that failed again at every group_interval (1 s here); one answered 200
// only at repeat_interval (4 s). The actuator says no_rung once and
// duplicate after, with one log line.
func TestRefusedEscalationIsNotResent(t *testing.T) {
	cfg, err := actuator.ParseConfig([]byte(`policies:
  - name: web-out
    match: {alertname: [JobPredictedSaturation]}
    action: scale_group
    scale_group: {min: 1, max: 10, max_step: 2}
  - name: escalate
    match: {alertname: [AnomalyDespiteAction]}
    action: escalate
    escalate:
      max_per_hour: 3
      ladder: [{action: scale_group, step_factor: 2}]
      policies: {scale_group: web-out}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings()) != 1 {
		t.Fatalf("config warnings %q, want the one about nodes", cfg.Warnings())
	}
	// Nothing here reaches Nomad or Prometheus: their addresses refuse.
	nomad, err := actuator.NewNomadAPI("http://127.0.0.1:1", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := actuator.NewPromReader("http://127.0.0.1:1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	audit, logs := &syncBuffer{}, &syncBuffer{}
	act, err := actuator.New(actuator.Options{Config: cfg, Nomad: nomad, Forecasts: reader,
		Audit: slog.New(slog.NewJSONHandler(audit, nil)), Log: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(act.Close)
	var toActuator, to422 atomic.Int64
	hook := &actuator.Webhook{A: act, Log: slog.New(slog.NewJSONHandler(logs, nil))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toActuator.Add(1)
		hook.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to422.Add(1)
		http.Error(w, `{"status":"partial","results":[{"result":"rejected"}]}`, http.StatusUnprocessableEntity)
	}))
	t.Cleanup(old.Close)

	am := testenv.Alertmanager(t, fmt.Sprintf(`route:
  receiver: actuator
  group_by: [alertname, node_id, answer]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4s
  routes:
    - receiver: old
      matchers: ['answer="422"']
receivers:
  - name: actuator
    webhook_configs: [{url: %q}]
  - name: old
    webhook_configs: [{url: %q}]
`, srv.URL+"/webhook", old.URL+"/webhook"))
	post := func(answer string) {
		t.Helper()
		now := time.Now().UTC()
		body := fmt.Sprintf(`[{"labels":{"alertname":"AnomalyDespiteAction","action":"escalate","severity":"critical","target":"node_cpu","node_id":"n1","node_pool":"default","resource":"cpu","answer":%q},"startsAt":%q,"endsAt":%q}]`,
			answer, now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
		resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post alert to Alertmanager: HTTP %d", resp.StatusCode)
		}
	}
	post("actuator")
	post("422")
	testenv.Eventually(t, 30*time.Second, "both receivers reached", func() error {
		if toActuator.Load() == 0 || to422.Load() == 0 {
			return fmt.Errorf("actuator %d, 422 receiver %d notifications", toActuator.Load(), to422.Load())
		}
		return nil
	})
	const watch = 10 * time.Second
	a0, o0 := toActuator.Load(), to422.Load()
	time.Sleep(watch)
	a, o := toActuator.Load()-a0, to422.Load()-o0
	t.Logf("in %s: the actuator (200, no_rung) got %d notifications, the 422 receiver %d", watch, a, o)
	// repeat_interval 4s: at most 3 in 10 s (Alertmanager's flush may
	// add one); group_interval 1s: about 10.
	if a > 4 {
		t.Errorf("the actuator got %d notifications in %s, want at most 4 (repeat_interval 4s): it did not answer 200", a, watch)
	}
	if o < 2*a+2 {
		t.Errorf("the 422 receiver got %d notifications to the actuator's %d: Alertmanager did not resend the failed one more often", o, a)
	}
	if n := strings.Count(audit.String(), `"result":"no_rung"`); n != 1 {
		t.Errorf("%d no_rung audit lines, want 1:\n%s", n, audit.String())
	}
	if n := strings.Count(logs.String(), "escalation refused"); n != 1 {
		t.Errorf("%d refusal log lines, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(audit.String(), `"result":"duplicate"`); int64(n) != toActuator.Load()-1 {
		t.Errorf("%d duplicate audit lines for %d notifications, want all but the first", n, toActuator.Load())
	}
}
