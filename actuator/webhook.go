package actuator

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Message is Alertmanager's webhook payload: the template data plus the
// fields only the webhook carries.
type Message struct {
	template.Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// DefaultMaxBodyBytes bounds a webhook body when the config does not.
const DefaultMaxBodyBytes = 1 << 20

// Response is the webhook's JSON answer, one result per alert.
type Response struct {
	Status  string    `json:"status"`
	Error   string    `json:"error,omitempty"`
	Results []Outcome `json:"results,omitempty"`
}

// Webhook is the /webhook handler.
type Webhook struct {
	A *Actuator
	// Token, if not empty, must come as "Authorization: Bearer <token>".
	// SetToken replaces it while serving (a reload).
	Token string
	Log   *slog.Logger
	// Reload, if set, serves POST /-/reload: it rereads and validates the
	// configuration and keeps the old one on error.
	Reload func() error
	tok    atomic.Pointer[string]
}

// SetToken replaces the bearer token (after a reload read it again).
func (w *Webhook) SetToken(t string) { w.tok.Store(&t) }

func (w *Webhook) token() string {
	if t := w.tok.Load(); t != nil {
		return *t
	}
	return w.Token
}

// authorized checks the bearer token, if one is set, and answers 401 if
// it is wrong.
func (w *Webhook) authorized(rw http.ResponseWriter, r *http.Request) bool {
	tok := w.token()
	if tok == "" {
		return true
	}
	got, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
		rw.Header().Set("WWW-Authenticate", `Bearer realm="fleetcast"`)
		w.fail(rw, r, http.StatusUnauthorized, "missing or wrong bearer token")
		return false
	}
	return true
}

func (w *Webhook) reply(rw http.ResponseWriter, code int, r Response) {
	w.A.o.Metrics.WebhookRequests.WithLabelValues(strconv.Itoa(code)).Inc()
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(r)
}

func (w *Webhook) fail(rw http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Log.Warn("webhook request rejected", "code", code, "error", msg, "remote", r.RemoteAddr)
	w.reply(rw, code, Response{Status: "error", Error: msg})
}

// ServeHTTP checks, decodes and hands each alert to the actuator. The
// answer is 503 if any alert should be retried (Nomad or Prometheus
// unreachable), else 4xx if any was rejected, else 200; alerts already
// handled are not acted on again when Alertmanager retries the batch.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		w.fail(rw, r, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if !w.authorized(rw, r) {
		return
	}
	limit := w.A.cur().cfg.Global.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			w.fail(rw, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes (global.max_body_bytes)", limit))
			return
		}
		w.fail(rw, r, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	code, resp := w.Process(r.Context(), body)
	if code != http.StatusOK && resp.Error != "" {
		w.fail(rw, r, code, resp.Error)
		return
	}
	w.reply(rw, code, resp)
}

// Process decodes one webhook body and handles its alerts; ServeHTTP, the
// fuzz test and the benchmark share it.
func (w *Webhook) Process(ctx context.Context, body []byte) (int, Response) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return http.StatusBadRequest, Response{Status: "error", Error: "malformed JSON: " + err.Error()}
	}
	if m.Version != "4" {
		return http.StatusBadRequest, Response{Status: "error", Error: fmt.Sprintf("payload version %q: this receiver understands Alertmanager webhook version \"4\"", clip(m.Version, maxLabelBytes))}
	}
	maxAlerts := w.A.cur().cfg.Global.MaxAlertsPerRequest
	if maxAlerts == 0 {
		maxAlerts = defaultMaxAlerts
	}
	if len(m.Alerts) > maxAlerts {
		return http.StatusBadRequest, Response{Status: "error", Error: fmt.Sprintf("%d alerts in one notification, over global.max_alerts_per_request %d: set max_alerts on Alertmanager's webhook_config", len(m.Alerts), maxAlerts)}
	}
	if m.TruncatedAlerts > 0 {
		w.Log.Warn("alertmanager truncated this notification; the missing alerts come with later notifications", "truncated", m.TruncatedAlerts, "group_key", clip(m.GroupKey, maxDetailBytes))
	}
	resp := Response{Status: "ok", Results: make([]Outcome, 0, len(m.Alerts))}
	code := http.StatusOK
	rank := func(c int) int {
		switch {
		case c >= 500:
			return 3
		case c == http.StatusTooManyRequests:
			return 2
		case c >= 400:
			return 1
		}
		return 0
	}
	for _, al := range m.Alerts {
		if al.Labels == nil {
			al.Labels = template.KV{}
		}
		out := w.A.Handle(ctx, al)
		resp.Results = append(resp.Results, out)
		if rank(out.Code) > rank(code) {
			code = out.Code
		}
	}
	if code != http.StatusOK {
		resp.Status = "partial"
	}
	return code, resp
}

// Handler is the actuator's whole HTTP surface: /webhook, /metrics,
// /-/healthy and /-/ready.
func (w *Webhook) Handler(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/webhook", w)
	mux.Handle("/metrics", promhttp.HandlerFor(w.A.o.Metrics.Registry, promhttp.HandlerOpts{Registry: w.A.o.Metrics.Registry}))
	mux.HandleFunc("/-/healthy", func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(rw, "Healthy.\n")
	})
	mux.HandleFunc("/-/ready", func(rw http.ResponseWriter, _ *http.Request) {
		if ready != nil && !ready() {
			rw.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(rw, "Not ready.\n")
			return
		}
		_, _ = io.WriteString(rw, "Ready.\n")
	})
	mux.HandleFunc("/-/reload", func(rw http.ResponseWriter, r *http.Request) {
		if w.Reload == nil {
			http.NotFound(rw, r)
			return
		}
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			rw.Header().Set("Allow", "POST, PUT")
			w.fail(rw, r, http.StatusMethodNotAllowed, "use POST")
			return
		}
		if !w.authorized(rw, r) {
			return
		}
		if err := w.Reload(); err != nil {
			rw.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(rw, "failed to reload config: "+err.Error()+"\n")
			return
		}
		_, _ = io.WriteString(rw, "Config reloaded.\n")
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(rw, r)
			return
		}
		_, _ = io.WriteString(rw, "fleetcast actuator: POST Alertmanager webhooks to /webhook; metrics at /metrics\n")
	})
	return mux
}
