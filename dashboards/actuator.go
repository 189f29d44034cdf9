package dashboards

//lint:file-ignore SA1019 The classic dashboard model (schemaVersion 42) is what Grafana imports everywhere; the v2 schema needs Grafana 12 with feature flags.

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// actuatorDashboard shows what the fleetcast actuator decided and did: actions
// by kind and result, dry-run decisions, Nomad errors, latency and cooldowns.
func actuatorDashboard() *dashboard.DashboardBuilder {
	return newDashboard(uidActuator, "fleetcast / Actuator",
		"The fleetcast actuator: actions by kind and result, dry-run decisions, Nomad errors, decision latency and cooldowns.").
		WithRow(dashboard.NewRowBuilder("Decisions")).
		WithPanel(bars(ts("Actions by kind and result",
			"Decisions per interval (fleetcast_actuator_actions_total): acted, dry_run, cooldown, noop, error ...",
			"short",
			q(`sum by (action, result) (increase(fleetcast_actuator_actions_total[$__rate_interval]))`, "{{action}} {{result}}")))).
		WithPanel(bars(ts("Dry-run decisions",
			"Decisions that would have changed the fleet, had dry_run been off.",
			"short",
			q(`sum by (action) (increase(fleetcast_actuator_dry_run_decisions_total[$__rate_interval]))`, "{{action}}")))).
		WithPanel(statPanel("Actions taken in range", "Actions that changed the fleet in the dashboard's time range.", "short",
			[]dashboard.Threshold{step("green", nil)},
			q(`sum by (action) (increase(fleetcast_actuator_actions_total{result="acted"}[$__range]))`, "{{action}}")).Span(8)).
		WithPanel(statPanel("Nomad API errors in range", "Nomad API calls of the actuator that failed.", "short",
			[]dashboard.Threshold{step("green", nil), step("red", cog.ToPtr(1.0))},
			q(`sum(increase(fleetcast_actuator_nomad_errors_total[$__range]))`, "errors")).Span(8)).
		WithPanel(statPanel("Leader", "Replicas holding the leader lock (exactly one may act).", "short",
			[]dashboard.Threshold{step("red", nil), step("green", cog.ToPtr(1.0)), step("red", cog.ToPtr(2.0))},
			q(`sum(fleetcast_actuator_is_leader)`, "leaders")).Span(8)).
		WithRow(dashboard.NewRowBuilder("Latency, errors and cooldowns")).
		WithPanel(ts("Decision latency",
			"From an alert to its decision and action, Nomad calls included (fleetcast_actuator_decision_duration_seconds).",
			"s",
			q(`histogram_quantile(0.5, sum by (le) (rate(fleetcast_actuator_decision_duration_seconds_bucket[$__rate_interval])))`, "p50"),
			q(`histogram_quantile(0.99, sum by (le) (rate(fleetcast_actuator_decision_duration_seconds_bucket[$__rate_interval])))`, "p99"))).
		WithPanel(ts("Nomad API errors",
			"Failed Nomad API calls per second.",
			"reqps",
			q(`sum(rate(fleetcast_actuator_nomad_errors_total[$__rate_interval]))`, "errors/s"))).
		WithPanel(ts("Cooldowns remaining",
			"Seconds before fleetcast may act on each task group again.",
			"s",
			q(`max by (namespace, job, task_group) (fleetcast_actuator_cooldown_remaining_seconds) > 0`, "{{namespace}}/{{job}}/{{task_group}}"))).
		WithPanel(tablePanel("Last action per object",
			"Time since fleetcast last changed each task group, node or node pool; AnomalyDespiteAction looks back fleetcast:threshold_action_recent_seconds.",
			"s",
			instant(`sort(time() - max by (action, namespace, job, task_group, node_id, node_pool) (fleetcast_actuator_last_action_timestamp_seconds))`))).
		WithPanel(tablePanel("Alerts the actuator acts on",
			"fleetcast alerts with an action label, pending or firing.",
			"none",
			instant(`sum by (alertname, alertstate, action, node_pool, node_id, namespace, job, task_group, resource) (ALERTS{action!=""})`)).
			DataLinks(alertLinks()).Span(24))
}
