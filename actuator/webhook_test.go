package actuator

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func post(t *testing.T, h http.Handler, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func payload(alerts ...template.Alert) string {
	b, _ := json.Marshal(Message{Data: template.Data{Receiver: "fleetcast", Status: "firing", Alerts: alerts}, Version: "4", GroupKey: "{}:{}"})
	return string(b)
}

func TestWebhookHTTP(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Global.MaxBodyBytes = 4096; c.Global.MaxAlertsPerRequest = 2 })
	h := (&Webhook{A: r.a, Token: "s3cret", Log: slog.New(slog.DiscardHandler)}).Handler(nil)
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	good := payload(webAlert(r.clk.Now()))
	cases := []struct {
		name string
		body string
		hdr  map[string]string
		code int
		says string
	}{
		{"no token", good, nil, 401, "bearer"},
		{"wrong token", good, map[string]string{"Authorization": "Bearer nope"}, 401, "bearer"},
		{"malformed", "{", auth, 400, "malformed JSON"},
		{"old version", `{"version":"3","alerts":[]}`, auth, 400, "version"},
		{"too big", `{"version":"4","x":"` + strings.Repeat("a", 5000) + `"}`, auth, 413, "max_body_bytes"},
		{"too many alerts", payload(webAlert(r.clk.Now()), webAlert(r.clk.Now()), webAlert(r.clk.Now())), auth, 400, "max_alerts_per_request"},
		{"missing labels", payload(alert("JobPredictedSaturation", map[string]string{"action": "scale_group"}, r.clk.Now())), auth, 422, "needs labels"},
		{"good", good, auth, 200, `"acted"`},
		{"repeat", good, auth, 200, `"duplicate"`},
	}
	for _, c := range cases {
		code, body := post(t, h, c.body, c.hdr)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s; want %d saying %q", c.name, code, body, c.code, c.says)
		}
	}
	if len(r.nomad.scales) != 1 {
		t.Fatalf("scales %v", r.nomad.scales)
	}
	// A huge version string is not echoed whole.
	if code, body := post(t, h, `{"version":"`+strings.Repeat("v", 3000)+`"}`, auth); code != 400 || len(body) > 1024 {
		t.Errorf("huge version: %d, %d bytes of answer", code, len(body))
	}
	for _, p := range []string{"/-/healthy", "/-/ready", "/metrics"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != 200 {
			t.Errorf("%s: %d", p, rec.Code)
		}
		if p == "/metrics" && !strings.Contains(rec.Body.String(), `fleetcast_actuator_actions_total{action="scale_group",result="acted"} 1`) {
			t.Errorf("/metrics lacks the action counter")
		}
		if p == "/metrics" {
			lintExposition(t, rec.Body.String())
		}
	}
}

// lintExposition fails the test on every problem `promtool check metrics`
// would report on the page (the same linter), and checks the page carries
// fleetcast_build_info.
func lintExposition(t *testing.T, body string) {
	t.Helper()
	if !strings.Contains(body, "fleetcast_build_info{") {
		t.Errorf("/metrics lacks fleetcast_build_info")
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("lint /metrics: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promtool check metrics would say: %s: %s", p.Metric, p.Text)
	}
}
