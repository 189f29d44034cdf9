package main

import (
	"context"
	"crypto/subtle"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// reloadGauges are the config reload metrics of a long-running command,
// named as Prometheus names its own: <prefix>_config_last_reload_successful
// and <prefix>_config_last_reload_success_timestamp_seconds.
type reloadGauges struct{ ok, ts prometheus.Gauge }

func newReloadGauges(prefix string) *reloadGauges {
	g := &reloadGauges{
		ok: prometheus.NewGauge(prometheus.GaugeOpts{Name: prefix + "_config_last_reload_successful",
			Help: "1 if the last configuration reload (SIGHUP, POST /-/reload) succeeded, 0 if it failed and the previous configuration stayed in force."}),
		ts: prometheus.NewGauge(prometheus.GaugeOpts{Name: prefix + "_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load (the start counts)."}),
	}
	g.succeeded()
	return g
}

func (g *reloadGauges) succeeded() { g.ok.Set(1); g.ts.SetToCurrentTime() }
func (g *reloadGauges) failed()    { g.ok.Set(0) }

func (g *reloadGauges) collectors() []prometheus.Collector { return []prometheus.Collector{g.ok, g.ts} }

// onSIGHUP calls reload on every SIGHUP until ctx ends. SIGHUP no longer
// kills the process (it did, with exit 129).
func onSIGHUP(ctx context.Context, reload func() error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				_ = reload()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// swapHandler serves whatever handler is in force (a reload replaces it)
// and POST /-/reload.
type swapHandler struct {
	h      atomic.Pointer[http.Handler]
	reload func() error
	// token, if set, guards /-/reload with a bearer token.
	token func() string
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/-/reload" && s.reload != nil {
		serveReload(w, r, s.reload, s.token)
		return
	}
	(*s.h.Load()).ServeHTTP(w, r)
}

// serveReload answers POST /-/reload as Prometheus does: 200 when the new
// config is in force, 500 with the reason when it was refused.
func serveReload(w http.ResponseWriter, r *http.Request, reload func() error, token func() string) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if token != nil {
		if t := token(); t != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(t)) != 1 {
				http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
				return
			}
		}
	}
	if err := reload(); err != nil {
		http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "Config reloaded.\n")
}

// swapCollector collects from whichever collector is in force; it is an
// unchecked collector (it describes nothing), as the set changes on reload.
type swapCollector struct {
	c atomic.Pointer[prometheus.Collector]
}

func (s *swapCollector) set(c prometheus.Collector)       { s.c.Store(&c) }
func (s *swapCollector) Describe(chan<- *prometheus.Desc) {}
func (s *swapCollector) Collect(ch chan<- prometheus.Metric) {
	if c := s.c.Load(); c != nil {
		(*c).Collect(ch)
	}
}
