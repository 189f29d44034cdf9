package dashboards

//lint:file-ignore SA1019 The classic dashboard model (schemaVersion 42) is what Grafana imports everywhere; the v2 schema needs Grafana 12 with feature flags.

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// fleetOverview is the fleet-wide coordinator's view: predicted demand against
// capacity, headroom, shortages ahead, what the actuator did, and the demand
// of scheduled batch jobs.
func fleetOverview() *dashboard.DashboardBuilder {
	return newDashboard(uidFleet, "fleetcast / Fleet overview",
		"Predicted demand against capacity for the whole Nomad fleet, from fleetcast's recording rules.").
		WithVariable(horizonVariable()).
		WithRow(dashboard.NewRowBuilder("Predicted demand against capacity")).
		WithPanel(demandPanel("CPU", "cpu", unitMHz)).
		WithPanel(demandPanel("Memory", "memory", "bytes")).
		WithPanel(statPanel("Predicted fleet headroom",
			"1 - predicted peak demand / schedulable capacity, over the forecast window of fleetcast:config_forecast_window. Below 0: demand will exceed capacity.",
			"percentunit", headroomSteps(),
			q(`fleet:fleetcast_headroom:ratio`, "{{resource}}"))).
		WithPanel(dashed(ts("Predicted headroom by node pool",
			"Predicted headroom of each node pool; FleetPredictedShortage fires below the dashed threshold.",
			"percentunit",
			q(`node_pool:fleetcast_headroom:ratio`, "{{node_pool}} {{resource}}"),
			q(`node_pool:fleetcast_threshold_shortage_headroom:ratio`, "{{node_pool}} shortage threshold"),
		), ".* shortage threshold").Span(9)).
		WithPanel(ts("Predicted headroom by datacenter", "", "percentunit",
			q(`datacenter:fleetcast_headroom:ratio`, "{{datacenter}} {{resource}}"))).
		WithPanel(ts("Forecast coverage by node pool",
			"Share of each pool's nodes that have a forecast. Scale-in (FleetPredictedSurplus) waits for full coverage.",
			"percentunit",
			q(`node_pool:fleetcast_forecast_coverage:ratio`, "{{node_pool}} {{resource}}"))).
		WithRow(dashboard.NewRowBuilder("Shortages ahead")).
		WithPanel(tablePanel("Time until capacity is exhausted (next 24h)",
			"Targets whose upper forecast crosses their capacity within a day, soonest first (fleetcast_capacity_exhaustion_seconds).",
			"s",
			instant(`sort(min by (target, resource, node_id, namespace, job, task_group) (fleetcast_capacity_exhaustion_seconds) < 86400)`)).
			DataLinks(drilldownLinks())).
		WithPanel(tablePanel("Predicted shortage and surplus alerts",
			"fleetcast's alerts now pending or firing, with the action the actuator will take. Runbooks: "+runbooks,
			"none",
			instant(`sum by (alertname, alertstate, action, severity, node_pool, node_id, namespace, job, task_group, resource) (ALERTS{alertname=~"FleetPredicted.*|NodePredictedOverload|JobPredicted.*|ForecastAnomaly.*|AnomalyDespiteAction"})`)).
			DataLinks(alertLinks())).
		WithRow(dashboard.NewRowBuilder("Actions and scheduled demand")).
		WithPanel(bars(ts("Actuator actions",
			"Decisions of the fleetcast actuator per interval, by action and result.",
			"short",
			q(`sum by (action, result) (increase(fleetcast_actuator_actions_total[$__rate_interval]))`, "{{action}} {{result}}")))).
		WithPanel(ts("Queued allocations",
			"Allocations Nomad could not place yet: demand the fleet is already short of.",
			"short",
			q(`sum(nomad_nomad_job_summary_queued)`, "queued"))).
		WithPanel(bars(ts("Scheduled periodic-job CPU demand",
			"CPU asked by Nomad periodic jobs due within the forecast window (fleetcast_scheduled_demand), part of the predicted fleet demand.",
			unitMHz,
			q(`job:fleetcast_scheduled_demand:sum{resource="cpu"}`, "{{namespace}}/{{job}} within {{window}}")))).
		WithPanel(bars(ts("Scheduled periodic-job memory demand",
			"Memory asked by Nomad periodic jobs due within the forecast window.",
			"bytes",
			q(`job:fleetcast_scheduled_demand:sum{resource="memory"}`, "{{namespace}}/{{job}} within {{window}}")))).
		WithRow(dashboard.NewRowBuilder("fleetcast health")).
		WithPanel(dashed(ts("Forecast age by target",
			"Seconds since each target's last successful forecast cycle on each exporter; FleetcastForecastsStale fires above the dashed line, and scale-in waits for fresh forecasts.",
			"s",
			q(`time() - max by (instance, target) (fleetcast_exporter_last_success_timestamp_seconds)`, "{{target}} on {{instance}}"),
			q(`fleetcast:threshold_stale_seconds`, "stale threshold"),
		), "stale threshold")).
		WithPanel(tablePanel("Forecast quality by target",
			"Each target's model and its backtest MASE (below 1 beats the seasonal naive forecast); ForecastQualityDegraded fires on poor MASE or coverage.",
			"none",
			instant(`sort_desc(max by (target, model) (fleetcast_model_info * on(target) group_left() max by (target) (fleetcast_backtest_mase)))`)))
}

// demandPanel draws, for one resource, capacity, what is allocated now, the
// predicted peak the coordinator uses, and the band of the summed node
// forecasts at the chosen horizon.
func demandPanel(title, resource, unit string) *timeseries.PanelBuilder {
	low := "forecast in $horizon, q" + bandLow
	high := "forecast in $horizon, q" + bandHigh
	p := ts(title+": predicted peak demand against capacity",
		"Schedulable capacity (allocated + unallocated, Nomad client metrics), allocation now, the predicted peak over the forecast window (plus scheduled periodic jobs), and the band of the nodes' summed forecasts $horizon ahead.",
		unit,
		q(fmt.Sprintf(`fleet:nomad_capacity:sum{resource=%q}`, resource), "capacity"),
		q(fmt.Sprintf(`fleet:nomad_allocated:sum{resource=%q}`, resource), "allocated now"),
		q(fmt.Sprintf(`fleet:fleetcast_demand_peak:sum{resource=%q}`, resource), "predicted peak within {{window}} (q{{q}})"),
		q(fmt.Sprintf(`sum(fleetcast_forecast{resource=%q, node_id!="", horizon="$horizon", q=%q})`, resource, bandLow), low),
		q(fmt.Sprintf(`sum(fleetcast_forecast{resource=%q, node_id!="", horizon="$horizon", q=%q})`, resource, bandHigh), high),
	)
	return dashed(band(p, low, high), "capacity")
}
