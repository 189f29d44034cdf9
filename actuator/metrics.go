package actuator

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
)

// Metrics are the actuator's own metrics, on a registry it owns.
type Metrics struct {
	Registry         *prometheus.Registry
	Actions          *prometheus.CounterVec
	DecisionDuration prometheus.Histogram
	NomadErrors      prometheus.Counter
	DryRun           *prometheus.CounterVec
	Cooldown         *prometheus.GaugeVec
	LastAction       *prometheus.GaugeVec
	IsLeader         prometheus.Gauge
	WebhookRequests  *prometheus.CounterVec
	// ReloadOK and ReloadTime follow Prometheus's own
	// prometheus_config_last_reload_successful and _success_timestamp_seconds.
	ReloadOK   prometheus.Gauge
	ReloadTime prometheus.Gauge
}

// NewMetrics registers the actuator's metrics on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetcast_actuator_actions_total",
			Help: "Decisions on alerts by action and result (acted, dry_run, noop, cooldown, duplicate, rate_limited, stopped, busy, rejected, error, ...).",
		}, []string{"action", "result"}),
		DecisionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetcast_actuator_decision_duration_seconds",
			Help:    "Time from an alert to its decision and action, Nomad and Prometheus calls included.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		NomadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetcast_actuator_nomad_errors_total",
			Help: "Nomad API calls that failed.",
		}),
		DryRun: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetcast_actuator_dry_run_decisions_total",
			Help: "Decisions that would have changed the fleet but did not, because dry_run is on.",
		}, []string{"action"}),
		Cooldown: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetcast_actuator_cooldown_remaining_seconds",
			Help: "Cooldown left on a task group at its last decision (as read from Nomad's scaling events).",
		}, []string{"namespace", "job", "task_group"}),
		LastAction: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetcast_actuator_last_action_timestamp_seconds",
			Help: "Unix time of the last action that changed the object (for AnomalyDespiteAction).",
		}, []string{"action", "namespace", "job", "task_group", "node_id", "node_pool"}),
		IsLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetcast_actuator_is_leader",
			Help: "1 if this replica holds the leader lock and may act.",
		}),
		WebhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetcast_actuator_webhook_requests_total",
			Help: "Webhook requests by HTTP status code.",
		}, []string{"code"}),
		ReloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetcast_actuator_config_last_reload_successful",
			Help: "1 if the last configuration reload (SIGHUP, POST /-/reload) succeeded, 0 if it failed and the previous configuration stayed in force.",
		}),
		ReloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetcast_actuator_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load (the start counts).",
		}),
	}
	m.ReloadOK.Set(1)
	m.ReloadTime.SetToCurrentTime()
	m.Registry.MustRegister(m.ReloadOK, m.ReloadTime, m.Actions, m.DecisionDuration, m.NomadErrors, m.DryRun, m.Cooldown, m.LastAction, m.IsLeader, m.WebhookRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("fleetcast"))
	// Every action's dry-run counter exists from the start at 0, so
	// increase() and the dashboards see "none" rather than no data.
	for _, a := range []string{ActionScaleGroup, ActionMigrate, ActionScalePool, ActionEscalate} {
		m.DryRun.WithLabelValues(a)
	}
	return m
}
